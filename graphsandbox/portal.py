"""A small stand-in for the Azure portal's app-registration pages (`/_sandbox/portal`).

People use it in demos (journey 4) and to follow the walkthrough people know from Entra: register an
app, add a Microsoft Graph application permission, grant admin consent (a second step, as in Entra),
create a client secret whose value is shown once, and read the Application (client) ID, the
Directory (tenant) ID and the Endpoints. Entra's labels throughout. Plain HTML forms, inline CSS, no
scripts.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlencode

from . import approles
from .approles import AssignmentError, assign, change_membership, unassign
from .apps import common_app_roles, common_scopes
from .layout import page
from .tenants import App, iso, utcnow
from .wire import Request, Response

if TYPE_CHECKING:
    from .directory import Directory
    from .tenants import Registry


def _html(status: int, title: str, body: str) -> Response:
    return Response(status, page(title, body), {"Cache-Control": "no-store"}, "text/html; charset=utf-8")


def _back(anchor: str = "") -> Response:
    return Response(
        303, b"", {"Location": "/_sandbox/portal" + (f"#{anchor}" if anchor else "")}, "text/html; charset=utf-8"
    )


class Portal:
    def __init__(self, registry: Registry, directory: Directory | None = None) -> None:
        self.registry = registry
        self.directory = directory

    def route(self, req: Request, parts: list[str]) -> Response:
        """``parts`` is the path after ``/_sandbox/portal``."""
        if not parts and req.method == "GET":
            return _html(200, "Sandbox portal", self._overview(req))
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        if req.method != "POST":
            return _html(405, "Not allowed", "<h1>Method not allowed</h1>")
        if parts == ["apps"]:
            name = form.get("display_name", "").strip() or "sandbox app"
            created, secret = self.registry.create_app(
                display_name=name, roles=[], scopes=[], redirect_uris=[], requested_roles=[], secret_expires=None
            )
            return _html(201, "App created", self._secret_banner(created, secret) + self._overview(req))
        if parts == ["members"] and self.directory is not None:
            try:
                change_membership(
                    self.directory,
                    form.get("group", "").strip(),
                    form.get("user", "").strip(),
                    form.get("op") != "remove",
                )
            except AssignmentError as error:
                return _html(
                    400, "Not changed", f'<p class="error">{html.escape(str(error))}</p>' + self._overview(req)
                )
            return _back()
        if len(parts) != 3 or parts[0] != "apps":
            return _html(404, "Not found", "<h1>Not found</h1>")
        app = self.registry.app(parts[1])
        if app is None:
            return _html(404, "Not found", "<h1>No such app</h1>")
        action = parts[2]
        name = form.get("permission", "").strip()
        kind = form.get("kind", "role")
        if action in ("grant", "revoke") and name:
            roles, scopes = ([name], []) if kind == "role" else ([], [name])
            (self.registry.grant if action == "grant" else self.registry.revoke)(app, roles, scopes)
            return _back(f"app-{app.client_id}")
        if action == "add-permission" and name:
            # Entra's "Add a permission": listed on the registration, not granted until admin consent.
            with self.registry.lock:
                app.requested_roles.add(name)
            return _back(f"app-{app.client_id}")
        if action == "consent":
            # Entra's "Grant admin consent for <tenant>": every application permission listed.
            with self.registry.lock:
                listed = sorted(app.requested_roles - set(app.roles))
            self.registry.grant(app, listed, [])
            return _back(f"app-{app.client_id}")
        if action in ("assign", "unassign") and self.directory is not None:
            try:
                (assign if action == "assign" else unassign)(
                    self.registry, self.directory, app, form.get("principal", "").strip(), form.get("role", "")
                )
            except AssignmentError as error:
                return _html(
                    400, "Not assigned", f'<p class="error">{html.escape(str(error))}</p>' + self._overview(req)
                )
            return _back(f"app-{app.client_id}")
        if action == "secrets":
            try:
                days = int(form.get("days", "180"))
            except ValueError:
                days = 180
            _, secret = self.registry.add_secret(
                app, utcnow() + dt.timedelta(days=days), form.get("display_name", "").strip()
            )
            return _html(201, "Secret added", self._secret_banner(app, secret) + self._overview(req))
        if action == "certificates":
            try:
                self.registry.add_certificate(
                    app, form.get("certificate", "").strip(), form.get("display_name", "").strip()
                )
            except ValueError as error:
                return _html(
                    400,
                    "Not a certificate",
                    f'<p class="error">The certificate was not added: {html.escape(str(error))}.</p>'
                    + self._overview(req),
                )
            return _back(f"app-{app.client_id}")
        if action == "own-itself":
            with self.registry.lock:
                app.owners.add(app.client_id)
            return _back(f"app-{app.client_id}")
        if action == "delete-credential" and form.get("key_id"):
            self.registry.remove_credential(app, form["key_id"])
            return _back(f"app-{app.client_id}")
        return _html(400, "Bad request", "<h1>Nothing to do</h1>")

    @staticmethod
    def _delete_button(action: str, key_id: str) -> str:
        return (
            f'<form class="inline" method="post" action="{action}/delete-credential">'
            f'<input type="hidden" name="key_id" value="{html.escape(key_id)}">'
            '<button class="secondary">Delete</button></form>'
        )

    def _secret_banner(self, app: App, secret: str) -> str:
        # Shown once, as the Azure portal does; it is never stored or shown again.
        return (
            f'<div class="banner"><b>New client secret for {html.escape(app.display_name)}</b> '
            f"(copy it now, it is not shown again): <code>{html.escape(secret)}</code></div>"
        )

    def _overview(self, req: Request) -> str:
        reg = self.registry
        with reg.lock:
            apps = list(reg.apps.values())
            cards = "".join(self._app_card(req, app) for app in apps)
        base = req.base_url
        return (
            "<h1>Sandbox portal</h1>"
            '<div class="card" id="walkthrough"><h2>Create a connection, the way Entra ID does it</h2><ol>'
            "<li><b>New registration</b>: register an app below (App registrations).</li>"
            "<li><b>Add a permission</b> under its Application permissions (Microsoft Graph), e.g. "
            "<code>User.Read.All</code> to read users.</li>"
            "<li><b>Grant admin consent</b>: a permission added is not granted until an administrator consents.</li>"
            "<li><b>New client secret</b>: copy its <i>Value</i> at once, it is not shown again.</li>"
            "<li>Note the app's <b>Application (client) ID</b>, the <b>Directory (tenant) ID</b> and the "
            '<b>OAuth 2.0 token endpoint</b> (<a href="#endpoints">Endpoints</a>).</li>'
            "<li>In graphconn press <b>New connection</b>: service URL "
            f"<code>{html.escape(base)}/v1.0</code>, the token endpoint, client ID and secret, and the entity "
            "(<code>users</code>). Then <b>Test connection</b> and <b>Sync now</b>.</li></ol></div>"
            f'<div class="card"><b>Tenant</b> {html.escape(reg.display_name)}<br>'
            f"Directory (tenant) ID <code>{reg.tenant_id}</code> &middot; primary domain "
            f"<code>{html.escape(reg.domain)}</code></div>"
            + self._endpoints(base)
            + f"<h2>App registrations ({len(apps)})</h2>{cards}"
            '<div class="card"><h3>New app registration</h3><form method="post" action="/_sandbox/portal/apps">'
            '<input type="text" name="display_name" placeholder="Display name"> '
            "<button>Register</button></form></div>" + approles.portal_groups_card()
        )

    def _endpoints(self, base: str) -> str:
        """Entra's Endpoints pane: the tenant's OAuth 2.0 endpoints (v1 and v2) and Microsoft Graph."""
        tenant = f"{html.escape(base)}/{self.registry.tenant_id}"
        rows = [
            ("OAuth 2.0 token endpoint (v2)", f"{tenant}/oauth2/v2.0/token"),
            ("OAuth 2.0 authorization endpoint (v2)", f"{tenant}/oauth2/v2.0/authorize"),
            ("OAuth 2.0 token endpoint (v1)", f"{tenant}/oauth2/token"),
            ("OAuth 2.0 authorization endpoint (v1)", f"{tenant}/oauth2/authorize"),
            ("Microsoft Graph API endpoint", f"{html.escape(base)}/v1.0"),
        ]
        return (
            '<div class="card" id="endpoints"><h2>Endpoints</h2><table>'
            + "".join(f"<tr><th>{label}</th><td><code>{url}</code></td></tr>" for label, url in rows)
            + "</table>"
            '<p class="muted">v2 takes a scope (<code>https://graph.microsoft.com/.default</code>); '
            "v1 a resource (<code>https://graph.microsoft.com</code>).</p></div>"
        )

    def _app_card(self, req: Request, app: App) -> str:
        cid = app.client_id
        action = f"/_sandbox/portal/apps/{quote(cid)}"
        redirect = app.redirect_uris[0] if app.redirect_uris else ""
        consent_v1 = f"{req.base_url}/{self.registry.tenant_id}/adminconsent?" + urlencode(
            {"client_id": cid, "redirect_uri": redirect, "state": "portal"}
        )
        consent_v2 = f"{req.base_url}/{self.registry.tenant_id}/v2.0/adminconsent?" + urlencode(
            {
                "client_id": cid,
                "scope": "https://graph.microsoft.com/.default",
                "redirect_uri": redirect,
                "state": "portal",
            }
        )

        def perm_rows(names: list[str], kind: str, status: dict[str, str]) -> str:
            rows = []
            for name in names:
                rows.append(
                    f"<tr><td>{html.escape(name)}</td><td>{status[name]}</td><td>"
                    f'<form class="inline" method="post" action="{action}/{"revoke" if "Granted" in status[name] else "grant"}">'
                    f'<input type="hidden" name="kind" value="{kind}"><input type="hidden" name="permission" value="{html.escape(name)}">'
                    + (
                        '<button class="danger">Revoke</button>'
                        if "Granted" in status[name]
                        else "<button>Grant admin consent</button>"
                    )
                    + "</form></td></tr>"
                )
            return "".join(rows)

        def add_form(kind: str, options: list[str]) -> str:
            opts = "".join(f"<option>{html.escape(o)}</option>" for o in options)
            if kind == "role":  # as in Entra: add it to the registration, then grant admin consent
                return (
                    f'<form method="post" action="{action}/add-permission"><input type="hidden" name="kind" value="role">'
                    f'<label>Permission <select name="permission">{opts}</select></label> <button>Add a permission</button></form>'
                    f'<form method="post" action="{action}/consent"><button>Grant admin consent for '
                    f"{html.escape(self.registry.display_name)}</button></form>"
                )
            return (
                f'<form method="post" action="{action}/grant"><input type="hidden" name="kind" value="{kind}">'
                f'<select name="permission">{opts}</select> <button>Grant</button></form>'
            )

        role_status = {r: '<span class="ok">Granted for the organisation</span>' for r in app.roles}
        for r in app.requested_roles - set(app.roles):
            role_status[r] = f'<span class="warn">Not granted for {html.escape(self.registry.display_name)}</span>'
        scope_status = {s: '<span class="ok">Granted (consented)</span>' for s in app.scopes}
        secrets_rows = "".join(
            f"<tr><td>{html.escape(s.display_name)}</td><td><code>{s.key_id}</code></td><td>{html.escape(s.hint)}…</td>"
            f"<td>{iso(s.end)}</td><td>{'<span class=warn>Expired</span>' if s.end <= utcnow() else '<span class=ok>Valid</span>'}</td>"
            f"<td>{self._delete_button(action, s.key_id)}</td></tr>"
            for s in app.secrets
        )
        cert_rows = "".join(
            f"<tr><td>{html.escape(c.display_name)}</td><td><code>{c.thumbprint}</code></td>"
            f"<td>{iso(c.start)}</td><td>{iso(c.end)}</td><td>{'<span class=warn>Expired</span>' if c.end <= utcnow() else '<span class=ok>Valid</span>'}</td>"
            f"<td>{self._delete_button(action, c.key_id)}</td></tr>"
            for c in app.certificates
        )
        return (
            f'<div class="card" id="app-{html.escape(cid)}"><h2>{html.escape(app.display_name)}</h2>'
            f"Application (client) ID <code>{cid}</code><br>"
            f'<span class="muted">Object ID <code>{app.object_id}</code> &middot; service principal <code>{app.sp_id}</code></span>'
            "<h3>Redirect URIs</h3>"
            + (
                "".join(f"<code>{html.escape(u)}</code><br>" for u in app.redirect_uris)
                or '<span class="muted">none</span>'
            )
            + "<h3>Application permissions (Microsoft Graph)</h3><table><tr><th>Permission</th><th>Status</th><th></th></tr>"
            + perm_rows(sorted(role_status), "role", role_status)
            + "</table>"
            + add_form("role", [r for r in common_app_roles() if r not in app.roles and r not in app.requested_roles])
            + "<h3>Delegated permissions</h3><table><tr><th>Scope</th><th>Status</th><th></th></tr>"
            + perm_rows(sorted(scope_status), "scope", scope_status)
            + "</table>"
            + add_form("scope", [s for s in common_scopes() if s not in app.scopes])
            + "<h3>Client secrets</h3><table><tr><th>Description</th><th>Secret ID</th><th>Value</th><th>Expires</th><th></th><th></th></tr>"
            + secrets_rows
            + "</table>"
            + f'<form method="post" action="{action}/secrets"><input type="text" name="display_name" placeholder="Description"> '
            '<select name="days"><option value="180">180 days</option><option value="365">12 months</option>'
            '<option value="1">1 day</option><option value="-1">already expired</option></select> '
            "<button>New client secret</button></form>"
            "<h3>Certificates</h3><table><tr><th>Description</th><th>Thumbprint</th><th>Start</th><th>Expires</th><th></th><th></th></tr>"
            + cert_rows
            + "</table>"
            + f'<form method="post" action="{action}/certificates"><label>Upload certificate (public part, PEM)<br>'
            '<textarea name="certificate" rows="4" cols="70" placeholder="-----BEGIN CERTIFICATE-----"></textarea></label><br>'
            '<input type="text" name="display_name" placeholder="Description (optional)"> <button>Add certificate</button></form>'
            "<h3>Owners</h3>"
            + (
                f"<code>{', '.join(html.escape(o) for o in sorted(app.owners))}</code>"
                if app.owners
                else '<span class="muted">none</span>'
            )
            + (
                ""
                if cid in app.owners
                else f' <form class="inline" method="post" action="{action}/own-itself">'
                '<button class="secondary">Make the app an owner of itself</button></form>'
            )
            + approles.portal_section(self.directory, app, action)
            + "<h3>Admin consent URL</h3>"
            f'<a href="{html.escape(consent_v1)}"><code>{html.escape(consent_v1)}</code></a><br>'
            f'<span class="muted">v2.0:</span> <a href="{html.escape(consent_v2)}"><code>{html.escape(consent_v2)}</code></a>'
            "</div>"
        )
