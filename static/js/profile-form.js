// Connection form helpers: typing the tenant and picking v1/v2 fills the token and authorise
// URLs and the scope (v2) or resource (v1); pasting a token endpoint fills the tenant and version
// (the server reads it the same way); "Use the sandbox" points everything at the sandbox.
// A field the user typed into is never overwritten; the server fills the same defaults when blank.
(function () {
  "use strict";
  const form = document.getElementById("profile-form");
  if (!form) return;
  const $ = (name) => form.elements.namedItem(name);
  // {Graph host: login base URL} of Microsoft's clouds, the global cloud first (from the server).
  const LOGIN_BASES = JSON.parse(form.dataset.loginBases || "{}");
  const GLOBAL_GRAPH = Object.keys(LOGIN_BASES)[0] || "";
  const known = (host) => Object.prototype.hasOwnProperty.call(LOGIN_BASES, host);
  const sandbox = form.dataset.sandboxUrl || "";
  const GUID = new RegExp("^(?:" + (form.dataset.guidPattern || "(?!)") + ")$");  // the server's GUID pattern
  const DOMAIN = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$/i;

  function parse(url) {
    try { return new URL(url); } catch (e) { return null; }
  }

  function loginBase() {
    const service = parse($("service_url").value.trim());
    if (!service) return LOGIN_BASES[GLOBAL_GRAPH];
    const box = sandbox && parse(sandbox);
    if (box && service.origin === box.origin) return sandbox.replace(/\/+$/, "");
    const host = service.hostname.toLowerCase();
    return LOGIN_BASES[known(host) ? host : GLOBAL_GRAPH];
  }

  // Other hosts (a stand-in for Graph) take the global cloud's resource.
  function graphResource() {
    const service = parse($("service_url").value.trim());
    const host = service ? service.hostname.toLowerCase() : "";
    return "https://" + (known(host) ? host : GLOBAL_GRAPH);
  }

  // A field counts as ours while it is empty or still holds what we last put there.
  function fill(name, value) {
    const input = $(name);
    if (!input) return;
    if (input.value.trim() === "" || input.value === input.dataset.filled) {
      input.value = value;
      input.dataset.filled = value;
    }
  }

  function version() {
    const v = $("token_version");
    return v ? v.value : "v2";
  }

  // What the helpers would put in each field for the current tenant, version and service URL.
  function expected() {
    const tenant = $("tenant").value.trim();
    const v = version();
    const values = {};
    if (tenant && (GUID.test(tenant) || DOMAIN.test(tenant))) {
      const base = loginBase() + "/" + encodeURIComponent(tenant) + (v === "v2" ? "/oauth2/v2.0" : "/oauth2");
      values.token_url = base + "/token";
      values.authorize_url = base + "/authorize";
    }
    if (v === "v2") values.scope = graphResource() + "/.default";
    else values.resource = graphResource();
    return values;
  }

  function refresh() {
    for (const [name, value] of Object.entries(expected())) fill(name, value);
    showRows();
  }

  function showRows() {
    const v = version();
    const delegated = $("grant_type") && $("grant_type").value === "authorization_code";
    const rows = {
      scope: v === "v2", resource: v === "v1", authorize_url: delegated, redirect_url: delegated,
    };
    for (const [name, visible] of Object.entries(rows)) {
      const row = form.querySelector('[data-row="' + name + '"]');
      if (row && !row.querySelector(".field-error")) row.hidden = !visible;
    }
  }

  // Entra's token endpoints: …/{tenant}/oauth2/token (v1) and …/{tenant}/oauth2/v2.0/token (v2).
  const TOKEN_PATH = /^\/([^/]+)\/oauth2\/(v2\.0\/)?token\/?$/i;

  function fromTokenEndpoint() {
    const url = parse($("token_url").value.trim());
    const found = url && TOKEN_PATH.exec(url.pathname);
    if (!found) return;
    const tenant = $("tenant");
    let named = found[1];
    try { named = decodeURIComponent(found[1]); } catch (e) { /* shown as typed */ }
    if (tenant && (tenant.value.trim() === "" || tenant.value === tenant.dataset.filled)) {
      tenant.value = named;
      tenant.dataset.filled = named;
    }
    if ($("token_version")) $("token_version").value = found[2] ? "v2" : "v1";
    refresh();
  }

  ["tenant", "service_url"].forEach((name) => $(name) && $(name).addEventListener("input", refresh));
  if ($("token_url")) $("token_url").addEventListener("input", fromTokenEndpoint);
  ["token_version", "grant_type"].forEach((name) => $(name) && $(name).addEventListener("change", refresh));

  const useSandbox = form.querySelector("[data-use-sandbox]");
  if (useSandbox) {
    useSandbox.addEventListener("click", () => {
      $("service_url").value = sandbox.replace(/\/+$/, "") + "/v1.0";
      // An explicit choice: the sandbox's URLs replace whatever the URL fields held.
      ["token_url", "authorize_url"].forEach((name) => {
        const input = $(name);
        if (input) input.value = "";
      });
      refresh();
    });
  }
  // Values saved earlier that match the helpers stay under the helpers' care (edit page).
  for (const [name, value] of Object.entries(expected())) {
    const input = $(name);
    if (input && input.value === value) input.dataset.filled = value;
  }
  showRows();
})();
