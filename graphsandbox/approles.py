"""App roles for users, group claims and sign-out: what Entra puts in a user's ID token for an app.

An app registration defines appRoles; an admin assigns them to users or to groups (Enterprise
applications > Users and groups). The ID token of a user signing in to that app then carries, in
``roles``, the values of the roles assigned to the user directly or through one of the user's
groups (https://learn.microsoft.com/en-us/entra/identity-platform/howto-add-app-roles-in-apps),
and, when the app's ``groupMembershipClaims`` is set, the object ids of the user's groups in
``groups`` (https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference).
With more than 200 groups a JWT carries no ``groups`` but ``_claim_names``/``_claim_sources``
pointing at Graph, the "groups overage" claim
(https://learn.microsoft.com/en-us/security/zero-trust/develop/configure-tokens-group-claims-app-roles).
Assigning a role the app does not define is refused, as Graph refuses an appRoleAssignment whose
appRoleId is not one of the resource's appRoles.
"""

from __future__ import annotations

import contextvars
import html
from typing import TYPE_CHECKING, Any

from . import generator
from .layout import page
from .wire import Response

if TYPE_CHECKING:
    from .directory import Directory
    from .tenants import App, Registry

GROUPS_OVERAGE_LIMIT = 200
GROUP_CLAIM_KINDS = ("SecurityGroup", "All")

# A test tool: claims that replace those of the ID tokens issued during this request (a tampered
# or mis-issued token, so a relying party's checks can be tried). Set from a fault (app.py).
ID_TOKEN_OVERRIDES: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "id_token_overrides", default=None
)


class AssignmentError(ValueError):
    """An assignment Entra would refuse; the message says why."""


def member_group_ids(directory: Directory, user_id: str) -> list[str]:
    """Ids of the groups that hold the user (direct members; the sandbox has no nested groups)."""
    users = directory.view("users")
    user = users.get(user_id)
    if user is None:
        return []
    uid = user["id"]
    index = users.index_of(uid)
    base = users.at(index) if index is not None and 0 <= index < users.n_base else None
    generated = base is not None and base["id"] == uid
    out = []
    for pos, group in directory.view("groups").iter_from(0):
        members = directory.member_override(group["id"])
        if members is not None:
            if uid in members:
                out.append(group["id"])
        elif (
            generated
            and pos < directory.n_groups
            and index in generator.group_member_indices(directory.seed, pos, directory.n_users)
        ):
            out.append(group["id"])
    return out


def token_claims(registry: Registry, directory: Directory, app: App, user_id: str) -> dict[str, Any]:
    """``roles`` (and ``groups``, or the overage claims) for this user signing in to ``app``."""
    with registry.lock:
        assignments = {p: set(r) for p, r in app.assignments.items()}
        defined = set(app.app_roles)
        group_claims = app.group_membership_claims
    claims: dict[str, Any] = {}
    via_groups = any(p != user_id and directory.get_group(p) is not None for p in assignments)
    groups = member_group_ids(directory, user_id) if group_claims or via_groups else []
    roles = set(assignments.get(user_id, set()))
    for group_id in groups:
        roles |= assignments.get(group_id, set())
    roles &= defined
    if roles:
        claims["roles"] = sorted(roles)
    if group_claims == "SecurityGroup":
        groups = [g for g in groups if (directory.get_group(g) or {}).get("securityEnabled")]
    if group_claims:
        if len(groups) > GROUPS_OVERAGE_LIMIT:
            claims["_claim_names"] = {"groups": "src1"}
            claims["_claim_sources"] = {
                "src1": {"endpoint": f"https://graph.microsoft.com/v1.0/users/{user_id}/getMemberObjects"}
            }
        else:
            claims["groups"] = groups
    return claims


def _principal(directory: Directory, value: str) -> str:
    """A user (id or UPN) or a group (id) → its object id."""
    user = directory.get_user(value) if value else None
    if user is not None:
        return str(user["id"])
    group = directory.get_group(value) if value else None
    if group is not None:
        return str(group["id"])
    raise AssignmentError(f"no user or group {value!r} in the directory")


def assign(registry: Registry, directory: Directory, app: App, principal: str, role: str) -> str:
    if role not in app.app_roles:
        raise AssignmentError(
            f"{app.display_name} defines no app role {role!r} (its roles: {', '.join(app.app_roles) or 'none'})"
        )
    object_id = _principal(directory, principal)
    with registry.lock:
        app.assignments.setdefault(object_id, set()).add(role)
    return object_id


def unassign(registry: Registry, directory: Directory, app: App, principal: str, role: str) -> bool:
    object_id = _principal(directory, principal)
    with registry.lock:
        roles = app.assignments.get(object_id, set())
        found = role in roles
        roles.discard(role)
        if not roles:
            app.assignments.pop(object_id, None)
    return found


def sign_in_candidates(directory: Directory, app: App, n: int, hint: str = "") -> list[dict]:
    """The accounts the sign-in page offers (Entra's "Pick an account"): the ``login_hint`` user,
    users assigned to the app, users added to the directory lately, then the first users."""
    out: dict[str, dict] = {}
    users = directory.view("users")
    wanted = [hint] if hint else []
    wanted += list(app.assignments) + users.added_ids[-10:][::-1]
    for key in wanted:
        user = users.get(key)
        if user is not None:
            out.setdefault(user["id"], user)
    for user in directory.sample_users(n):
        out.setdefault(user["id"], user)
    return list(out.values())[: n + len(wanted)]


def role_hint(app: App, user_id: str) -> str:
    """What the sign-in page shows next to a user holding one of the app's roles directly."""
    roles = sorted(app.assignments.get(user_id, ()))
    return f' <span class="muted">app role {html.escape(", ".join(roles))}</span>' if roles else ""


def sign_out(req: Any, registry: Registry, tenant: str) -> Response:
    """``/oauth2/v2.0/logout``: the session ends; back to ``post_logout_redirect_uri`` when that is
    one of a registered app's redirect URIs, else Entra's own "signed out" page
    (https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request)."""
    target = req.query.get("post_logout_redirect_uri", "")
    if not registry.resolves(tenant):
        body = (
            f"<h1>Sorry, but we're having trouble signing you out.</h1><p>Tenant '{html.escape(tenant)}' not found.</p>"
        )
        return Response(400, page("Sign out", body), {}, "text/html; charset=utf-8")
    with registry.lock:
        registered = {u for a in registry.apps.values() for u in a.redirect_uris}
    if target and target in registered:
        return Response(302, b"", {"Location": target, "Cache-Control": "no-store"}, "text/html; charset=utf-8")
    body = "<h1>You signed out of your account</h1><p>It's a good idea to close all browser windows.</p>"
    return Response(200, page("Sign out", body), {"Cache-Control": "no-store"}, "text/html; charset=utf-8")


def portal_section(directory: Directory | None, app: App, action: str) -> str:
    """The app card's "App roles" part: defined roles, who holds them, assign and remove forms."""
    if not app.app_roles:
        return ""
    rows = []
    for principal, roles in sorted(app.assignments.items()):
        user = directory.get_user(principal) if directory else None
        group = None if user or not directory else directory.get_group(principal)
        label = (
            f"{user.get('displayName')} ({user.get('userPrincipalName')})"
            if user
            else f"group {group.get('displayName')}"
            if group
            else principal
        )
        for role in sorted(roles):
            rows.append(
                f"<tr><td>{html.escape(label)}</td><td><code>{html.escape(role)}</code></td><td>"
                f'<form class="inline" method="post" action="{action}/unassign">'
                f'<input type="hidden" name="principal" value="{html.escape(principal)}">'
                f'<input type="hidden" name="role" value="{html.escape(role)}">'
                '<button class="danger">Remove</button></form></td></tr>'
            )
    options = "".join(f"<option>{html.escape(r)}</option>" for r in app.app_roles)
    claims = html.escape(app.group_membership_claims or "none")
    return (
        "<h3>App roles (Users and groups)</h3>"
        f'<p class="muted">Roles: {", ".join(f"<code>{html.escape(r)}</code>" for r in app.app_roles)}'
        f" &middot; group claims: {claims}</p>"
        "<table><tr><th>User or group</th><th>Role</th><th></th></tr>" + "".join(rows) + "</table>"
        f'<form method="post" action="{action}/assign">'
        '<input type="text" name="principal" placeholder="User principal name or object id"> '
        f'<select name="role">{options}</select> <button>Assign</button></form>'
    )


def portal_groups_card() -> str:
    """Add a user to a group, or take them out (as Groups > Members does)."""
    return (
        '<div class="card"><h3>Group membership</h3>'
        '<form method="post" action="/_sandbox/portal/members">'
        '<input type="text" name="group" placeholder="Group object id"> '
        '<input type="text" name="user" placeholder="User principal name or id"> '
        '<button name="op" value="add">Add member</button> '
        '<button name="op" value="remove" class="secondary">Remove member</button></form></div>'
    )


def change_membership(directory: Directory, group_id: str, user: str, add: bool) -> list[str]:
    """Add or remove a user in a group; the group's member ids afterwards."""
    found = directory.get_user(user) if user else None
    if found is None:
        raise AssignmentError(f"no user {user!r} in the directory")
    members = directory.group_member_ids(group_id)
    if members is None:
        raise AssignmentError(f"no group {group_id!r} in the directory")
    uid = found["id"]
    new = ([*members, uid] if uid not in members else members) if add else [m for m in members if m != uid]
    directory.update("groups", group_id, {"members": new})
    return new
