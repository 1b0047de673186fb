"""The least-privilege planner: the entities an app reads → the fewest, least privileged
Microsoft Graph permissions, why each is needed, and the copy-ready ways to configure them.

Pure functions over the shipped permission reference (``graphpermissions``) and the catalogue:
no Django, no I/O. The manifest block, Azure CLI commands and admin-consent URLs follow
Microsoft's documented shapes:
https://learn.microsoft.com/entra/identity-platform/reference-microsoft-graph-app-manifest#requiredresourceaccess-attribute,
https://learn.microsoft.com/cli/azure/ad/app/permission and
https://learn.microsoft.com/entra/identity-platform/v2-admin-consent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from graphpermissions import APPLICATION, DELEGATED, GRAPH_APP_ID, Permission, reference
from microsoft import catalogue
from microsoft.clouds import CLOUDS, DEFAULT_CLOUD, GLOBAL
from microsoft.tokenclient import graph_admin_consent_url

# The az CLI's name for each cloud (``az cloud list``), and each cloud's name on the page.
AZ_CLOUD_NAMES = {name: cloud.az_cloud for name, cloud in CLOUDS.items()}
CLOUD_LABELS = {name: cloud.label for name, cloud in CLOUDS.items()}
# Permissions the dashboard itself may use beyond the entities: reading the app's own grants.
DASHBOARD_EXTRAS = {"Application.Read.All": "lets the dashboard read what is granted to the app (optional)"}


@dataclass(frozen=True)
class Need:
    """One permission of the plan and the entities that need it."""

    permission: Permission
    entities: tuple[str, ...]  # display names
    rules: tuple[catalogue.PermissionRule, ...] = field(default=(), compare=False, repr=False)

    @property
    def basic_properties(self) -> list[str]:
        """For a *.ReadBasic.* permission, the only properties it returns (else empty)."""
        return sorted(catalogue.BASIC_PROPERTIES.get(self.permission.name, ()), key=str.casefold)


@dataclass(frozen=True)
class Plan:
    token_kind: str  # "app" or "delegated"
    needs: tuple[Need, ...]
    impossible: tuple[str, ...] = ()  # entities this kind of token can never read
    unknown: tuple[str, ...] = ()  # paths Microsoft's reference does not know
    notes: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n.permission.name for n in self.needs)

    @property
    def kind_word(self) -> str:
        return "Application" if self.token_kind == "app" else "Delegated"

    def manifest(self) -> str:
        """The app manifest's ``requiredResourceAccess`` block for Microsoft Graph."""
        access = [{"id": n.permission.id, "type": n.permission.manifest_type} for n in self.needs]
        block = {"requiredResourceAccess": [{"resourceAppId": GRAPH_APP_ID, "resourceAccess": access}]}
        return json.dumps(block, indent=2)

    def az_commands(self, client_id: str, cloud: str = "global") -> str:
        """``az ad app permission add`` for every permission, then ``admin-consent``."""
        app = client_id.strip() or "<application-client-id>"
        lines = [] if cloud == GLOBAL else [f"az cloud set --name {AZ_CLOUD_NAMES.get(cloud, DEFAULT_CLOUD.az_cloud)}"]
        if self.needs:
            pairs = " ".join(f"{n.permission.id}={n.permission.manifest_type}" for n in self.needs)
            lines.append(f"az ad app permission add --id {app} --api {GRAPH_APP_ID} --api-permissions {pairs}")
            lines.append(f"az ad app permission admin-consent --id {app}")
        return "\n".join(lines)

    def consent_urls(
        self,
        tenant: str,
        client_id: str,
        redirect_uri: str | None,
        first_login_host: str | None = None,
        first_graph_service_url: str | None = None,
    ) -> list[tuple[str, str]]:
        """``(label, admin-consent URL)`` for each cloud; ``first_*`` puts a connection's own first
        (its login host and its Graph service URL)."""
        tenant = tenant.strip() or "organizations"
        app = client_id.strip() or "<application-client-id>"
        urls = []
        if first_login_host:
            urls.append(
                (
                    "This connection's cloud",
                    graph_admin_consent_url(
                        first_login_host,
                        tenant,
                        app,
                        first_graph_service_url or DEFAULT_CLOUD.graph_base,
                        redirect_uri=redirect_uri,
                    ),
                )
            )
        for name, cloud in CLOUDS.items():
            urls.append(
                (
                    CLOUD_LABELS[name],
                    graph_admin_consent_url(cloud.login_host, tenant, app, cloud.graph_base, redirect_uri=redirect_uri),
                )
            )
        return urls


def plan(entity_paths: Iterable[str], token_kind: str, select: str = "") -> Plan:
    """The minimal permission set for reading ``entity_paths`` with an ``"app"`` or ``"delegated"`` token.

    Each entity contributes its least privileged permission; a permission is then dropped when the
    others already cover every entity that wanted it (one permission for several entities).
    """
    kind = APPLICATION if token_kind == "app" else DELEGATED
    wanted: dict[str, list[tuple[str, catalogue.PermissionRule]]] = {}
    impossible, unknown, notes = [], [], []
    seen: set[str] = set()
    for path in entity_paths:
        path = path.strip()
        entity = catalogue.resolve(path) if path else None
        if not path or path.casefold() in seen:
            continue
        seen.add(path.casefold())
        if entity is None:
            unknown.append(path)
            continue
        rule = entity.rule(token_kind, select)
        if not rule.possible:
            impossible.append(entity.display_name)
            continue
        if rule.note:
            notes.append(rule.note)
        wanted.setdefault(rule.least[0], []).append((entity.display_name, rule))
    chosen = dict(wanted)
    for name in sorted(chosen, key=lambda n: _privilege(n, kind), reverse=True):
        others = [n for n in chosen if n != name]
        if others and all(rule.satisfied_by(others) for _, rule in chosen[name]):
            for display, rule in chosen.pop(name):
                cover = next(n for n in rule.accepted if n in chosen)
                chosen[cover].append((display, rule))
    needs = tuple(
        Need(perm, tuple(dict.fromkeys(display for display, _ in entries)), tuple(rule for _, rule in entries))
        for name, entries in sorted(chosen.items(), key=lambda item: item[0].casefold())
        if (perm := reference().permission(name, kind)) is not None
    )
    return Plan(token_kind, needs, tuple(impossible), tuple(unknown), tuple(dict.fromkeys(notes)))


def _privilege(name: str, kind: str) -> int:
    perm = reference().permission(name, kind)
    return perm.privilege if perm else 0


def removable(token_permissions: Iterable[str], needed: Plan) -> tuple[list[str], list[tuple[str, str]]]:
    """What an application token carries beyond ``needed``: ``(not needed at all, [(held, instead)])``.

    A held permission that is the only one covering an entity but is more privileged than the
    plan's choice (``Directory.ReadWrite.All`` for reading users) is listed with its replacement.
    """
    held = [p for p in token_permissions if p not in DASHBOARD_EXTRAS]
    plan_names = {n.casefold() for n in needed.names}
    if not held or not needed.needs:
        return [], []
    have = {h.casefold() for h in held}
    used: dict[str, str] = {}  # held permission → the plan permission it stands in for
    for need in needed.needs:
        if need.permission.name.casefold() in have:
            used[need.permission.name] = need.permission.name
            continue
        candidates = need.rules[0].accepted if need.rules else ()
        stand_in = next(
            (h for h in candidates if h.casefold() in have and all(rule.satisfied_by([h]) for rule in need.rules)), None
        )
        if stand_in:
            used.setdefault(next(x for x in held if x.casefold() == stand_in.casefold()), need.permission.name)
    unneeded = [h for h in held if h not in used]
    replace = [(h, instead) for h, instead in used.items() if h.casefold() not in plan_names]
    return unneeded, replace
