"""profile-form.js, run in node against a minimal stand-in for the form: the helpers fill the token
and authorise URLs and scope/resource, keep what the user typed, and "Use the sandbox" points at it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from microsoft import clouds

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

HARNESS = r"""
const fs = require("fs");
const [script, sandbox, loginBases, guidPattern] = process.argv.slice(2);
const els = {};
function input(name, value) {
  return { name, value, dataset: {}, listeners: {}, addEventListener(ev, fn) { this.listeners[ev] = fn; } };
}
const start = {service_url: "https://graph.microsoft.com/v1.0", tenant: "", token_version: "v2",
               grant_type: "client_credentials", token_url: "", authorize_url: "", scope: "", resource: ""};
for (const [n, v] of Object.entries(start)) els[n] = input(n, v);
const rows = {};
const button = { addEventListener(ev, fn) { this.click = fn; } };
const form = {
  dataset: { sandboxUrl: sandbox, loginBases, guidPattern },
  elements: { namedItem: (n) => els[n] || null },
  querySelector(sel) {
    if (sel === "[data-use-sandbox]") return sandbox ? button : null;
    const m = sel.match(/data-row="(\w+)"/);
    return m ? (rows[m[1]] = rows[m[1]] || { hidden: false, querySelector: () => null }) : null;
  },
};
global.document = { getElementById: () => form };
eval(fs.readFileSync(script, "utf8"));
const snap = () => Object.fromEntries(Object.entries(els).map(([k, v]) => [k, v.value]));
const out = {};
els.tenant.value = "contoso.onmicrosoft.com"; els.tenant.listeners.input();
out.v2 = snap(); out.v2_hidden = {resource: rows.resource.hidden, authorize_url: rows.authorize_url.hidden};
els.token_version.value = "v1"; els.token_version.listeners.change(); out.v1 = snap();
els.token_url.value = "https://login.microsoftonline.com/typed/token";
els.tenant.value = "72f988bf-86f1-41af-91ab-2d7cd011db47"; els.tenant.listeners.input(); out.typed = snap();
if (sandbox) { button.click(); out.sandbox = snap(); }
for (const n of ["tenant", "token_url", "scope", "resource"]) { els[n].value = ""; els[n].dataset = {}; }
els.token_version.value = "v2";
els.token_url.value = "https://login.microsoftonline.com/11111111-2222-4333-8444-555555555555/oauth2/token";
els.token_url.listeners.input(); out.pasted = snap();
console.log(JSON.stringify(out));
"""


def run(tmp_path: Path, sandbox: str = "") -> dict:
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    script = Path(settings.BASE_DIR) / "static" / "js" / "profile-form.js"
    login_bases = json.dumps(clouds.login_bases_by_graph_host())  # what the form page renders
    result = subprocess.run(
        ["node", str(harness), str(script), sandbox, login_bases, clouds.GUID_PATTERN],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_tenant_and_version_fill_urls_and_scope_or_resource(tmp_path):
    out = run(tmp_path)
    assert out["v2"]["token_url"] == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert (
        out["v2"]["authorize_url"] == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
    )
    assert out["v2"]["scope"] == "https://graph.microsoft.com/.default"
    assert out["v2_hidden"] == {"resource": True, "authorize_url": True}
    assert out["v1"]["token_url"] == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/token"
    assert out["v1"]["resource"] == "https://graph.microsoft.com"
    assert out["typed"]["token_url"] == "https://login.microsoftonline.com/typed/token"
    assert "72f988bf" in out["typed"]["authorize_url"]


def test_use_the_sandbox_fills_the_sandboxs_urls(tmp_path):
    out = run(tmp_path, "https://127.0.0.1:8443")["sandbox"]
    assert out["service_url"] == "https://127.0.0.1:8443/v1.0"
    assert out["token_url"] == "https://127.0.0.1:8443/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/token"
    assert out["resource"] == "https://graph.microsoft.com"


def test_a_pasted_token_endpoint_fills_tenant_version_and_resource(tmp_path):
    out = run(tmp_path)["pasted"]
    assert out["tenant"] == "11111111-2222-4333-8444-555555555555"
    assert out["token_version"] == "v1" and out["resource"] == "https://graph.microsoft.com"
    assert out["token_url"] == "https://login.microsoftonline.com/11111111-2222-4333-8444-555555555555/oauth2/token"
