"""The Graph entities the dashboard can read, and the permissions each one needs.

One table drives the entity picker, the sync engine (delta support, page size, item URLs) and the
403 diagnostics (which permission is missing). Application permissions come from graph-wire.md §6;
delegated ones follow the same Microsoft permission pages (graph-wire names only the users one, so
the rest mirror the application column with the documented delegated names).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class PermissionRule:
    """What one kind of token (application or delegated) must carry to read an entity.

    ``least`` is listed first in every explanation. Normally any one accepted permission is enough;
    with ``all_of`` every permission in ``least`` is needed together (directoryAudits).
    """

    least: tuple[str, ...] = ()
    higher: tuple[str, ...] = ()
    all_of: bool = False

    @property
    def accepted(self) -> tuple[str, ...]:
        return self.least + self.higher

    @property
    def possible(self) -> bool:
        """False when this kind of token can never read the entity (e.g. ``me/…`` with an app token)."""
        return bool(self.least)

    def satisfied_by(self, permissions: Iterable[str]) -> bool:
        have = _casefold_set(permissions)
        if not self.possible:
            return False
        if self.all_of:
            return all(p.casefold() in have for p in self.least)
        return any(p.casefold() in have for p in self.accepted)

    def missing(self, permissions: Iterable[str]) -> tuple[str, ...]:
        """The permissions to add, least privileged first; empty when already satisfied."""
        if self.satisfied_by(permissions):
            return ()
        if self.all_of:
            have = _casefold_set(permissions)
            return tuple(p for p in self.least if p.casefold() not in have)
        return self.least[:1]

    def present(self, permissions: Iterable[str]) -> tuple[str, ...]:
        """Which of the accepted permissions are among ``permissions`` (catalogue spelling)."""
        have = _casefold_set(permissions)
        return tuple(p for p in self.accepted if p.casefold() in have)


@dataclass(frozen=True)
class Entity:
    """A readable Graph collection. ``path`` may hold ``{id}`` segments for free paths."""

    path: str
    display_name: str
    application: PermissionRule
    delegated: PermissionRule
    delta: bool = False
    max_top: int | None = 999  # None: the collection does not page
    key: str = "id"
    item_url: str = "{entity}/{key}"
    listed: bool = True  # offered in the entity picker; free-path templates are not
    params: tuple[tuple[str, str], ...] = ()  # query parameters the collection requires

    def rule(self, token_kind: str) -> PermissionRule:
        """The rule for an ``"app"`` or ``"delegated"`` token."""
        return self.application if token_kind == "app" else self.delegated


def _rule(least: str | tuple[str, ...], *higher: str, all_of: bool = False) -> PermissionRule:
    least_t = (least,) if isinstance(least, str) else least
    return PermissionRule(least_t, tuple(higher), all_of)


_DIRECTORY_RW = ("Directory.Read.All", "Directory.ReadWrite.All")
_AS_USER = "Directory.AccessAsUser.All"  # delegated only: acts with the signed-in user's own rights

ENTITIES: tuple[Entity, ...] = (
    Entity(
        "users", "Users",
        _rule("User.Read.All", "User.ReadWrite.All", *_DIRECTORY_RW),
        _rule("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", *_DIRECTORY_RW, _AS_USER),
        delta=True,
    ),
    Entity(
        "groups", "Groups",
        _rule("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", *_DIRECTORY_RW),
        _rule("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", *_DIRECTORY_RW, _AS_USER),
        delta=True,
    ),
    Entity(
        "groups/{id}/members", "Group members",
        _rule("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All",
              "GroupMember.ReadWrite.All", "Directory.Read.All"),
        _rule("GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All",
              "GroupMember.ReadWrite.All", "Directory.Read.All", _AS_USER),
        listed=False,
    ),
    Entity(
        "devices", "Devices",
        _rule("Device.Read.All", "Device.ReadWrite.All", *_DIRECTORY_RW),
        _rule("Device.Read.All", "Device.ReadWrite.All", *_DIRECTORY_RW, _AS_USER),
    ),
    Entity(
        "applications", "App registrations",
        _rule("Application.Read.All", "Application.ReadWrite.OwnedBy", "Application.ReadWrite.All",
              "Directory.Read.All"),
        _rule("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"),
    ),
    Entity(
        "servicePrincipals", "Enterprise applications (service principals)",
        _rule("Application.Read.All", "Application.ReadWrite.OwnedBy", "Application.ReadWrite.All",
              "Directory.Read.All"),
        _rule("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"),
    ),
    Entity(
        "directoryRoles", "Directory roles",
        _rule("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory", *_DIRECTORY_RW),
        _rule("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory", *_DIRECTORY_RW),
        max_top=None,
    ),
    Entity(
        "organization", "Organization",
        _rule("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All",
              "Directory.ReadWrite.All"),
        _rule("Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All",
              "Directory.ReadWrite.All"),
        max_top=None,
    ),
    Entity(
        "domains", "Domains",
        _rule("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All"),
        _rule("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All"),
        max_top=None,
    ),
    Entity(
        "subscribedSkus", "Licences (subscribed SKUs)",
        _rule("Organization.Read.All", *_DIRECTORY_RW, "Organization.ReadWrite.All"),
        _rule("Organization.Read.All", *_DIRECTORY_RW, "Organization.ReadWrite.All"),
        max_top=None,
    ),
    Entity(
        "auditLogs/signIns", "Sign-in logs",
        _rule("AuditLog.Read.All", "Directory.Read.All"),
        _rule("AuditLog.Read.All", "Directory.Read.All"),
        max_top=1000,
    ),
    Entity(
        "auditLogs/directoryAudits", "Directory audit logs",
        _rule(("AuditLog.Read.All", "Directory.Read.All"), all_of=True),
        _rule(("AuditLog.Read.All", "Directory.Read.All"), all_of=True),
        max_top=1000,
    ),
    Entity(
        "users/{id}/messages", "A user's mail messages",
        _rule("Mail.ReadBasic.All", "Mail.ReadWrite", "Mail.Read"),
        _rule("Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"),
        listed=False,
        max_top=1000,
    ),
    Entity(
        "me/messages", "My mail messages (signed-in user)",
        PermissionRule(),  # /me needs a signed-in user: no application permission can read it
        _rule("Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"),
        max_top=1000,
    ),
    Entity(
        "sites", "SharePoint sites",
        _rule("Sites.Read.All", "Sites.ReadWrite.All"),
        _rule("Sites.Read.All", "Sites.ReadWrite.All"),
        params=(("search", "*"),),  # listing sites is a search (graph-wire §6)
    ),
)

LISTED: tuple[Entity, ...] = tuple(e for e in ENTITIES if e.listed)

_VERSION_PREFIXES = ("v1.0", "beta")
_DELTA_SEGMENTS = ("delta", "microsoft.graph.delta")


def _casefold_set(items: Iterable[str]) -> set[str]:
    return {i.casefold() for i in items}


def path_segments(entity_path: str) -> list[str]:
    """Path segments of a Graph path or URL, without the API version, query or ``delta``."""
    text = entity_path.strip()
    if "://" in text:
        text = urlsplit(text).path
    text = text.split("?", 1)[0].split("#", 1)[0]
    parts = [p for p in text.split("/") if p]
    if parts and parts[0].casefold() in _VERSION_PREFIXES:
        parts = parts[1:]
    if parts and parts[-1].casefold() in _DELTA_SEGMENTS:
        parts = parts[:-1]
    return parts


def _matches(template: list[str], parts: list[str]) -> bool:
    return len(template) == len(parts) and all(
        t == "{id}" or t.casefold() == p.casefold() for t, p in zip(template, parts)
    )


_TEMPLATES = [(e.path.split("/"), e) for e in ENTITIES]


def lookup(entity_path: str) -> Entity | None:
    """The catalogue entry for a path such as ``users``, ``/v1.0/groups/abc/members``, ``users/x``.

    A path one segment longer than a collection is read as one item of it (``users/{id}``), so the
    "read one item" check and the sync share the same permissions.
    """
    parts = path_segments(entity_path)
    if not parts:
        return None
    for template, entity in _TEMPLATES:
        if _matches(template, parts):
            return entity
    for template, entity in _TEMPLATES:
        if _matches(template + ["{id}"], parts):
            return entity
    return None


# Application permission (app role) ids of Microsoft Graph, from graph-wire.md §6. Domain.Read.All
# is absent there (no source found), so it cannot be mapped back from an appRoleAssignment.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

APP_ROLE_IDS: dict[str, str] = {
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "User.ReadWrite.All": "741f803b-c850-494e-b5df-cde7c675a1ca",
    "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
    "Group.ReadWrite.All": "62a82d76-70ea-41e2-9197-370581804d09",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Directory.ReadWrite.All": "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    "Device.Read.All": "7438b122-aefc-4978-80ed-43db9fcc7715",
    "Device.ReadWrite.All": "1138cb37-bd11-4084-a2b7-9f71582aeddb",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
    "RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
    "AuditLog.Read.All": "b0afded3-3588-46d8-8b3d-9842eff778da",
    "Reports.Read.All": "230c1aed-a721-4c5d-9cb4-a90514e508ef",
    "Sites.Read.All": "332a536c-c7ef-4017-ab91-336970924f0d",
    "Sites.ReadWrite.All": "9492366f-7969-46a4-8d15-ed1a20078fff",
    "Files.Read.All": "01d4889c-1287-42c6-ac1f-5d1e02578ef6",
    "Files.ReadWrite.All": "75359482-378d-4052-8f01-80520e7db3cd",
    "Mail.Read": "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
    "Mail.ReadBasic.All": "693c5e45-0940-467d-9b8a-1022fb9d42ef",
    "Mail.ReadWrite": "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
    "Mail.Send": "b633e1c5-b582-4048-a93e-9f11b44c7e96",
    "Calendars.Read": "798ee544-9d2d-430c-a058-570e29e34338",
    "Calendars.ReadWrite": "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
    "Contacts.Read": "089fe4d0-434a-44c5-8827-41ba8a0b17f5",
    "Contacts.ReadWrite": "6918b873-d17a-4dc1-b314-35f528134491",
    "MailboxSettings.Read": "40f97065-369a-49f4-947c-6a255697ae91",
    "Policy.Read.All": "246dd0d5-5bd0-4def-940b-0421030a5b68",
}

APP_ROLE_NAMES: dict[str, str] = {guid: name for name, guid in APP_ROLE_IDS.items()}

# Delegated permission (oauth2PermissionScope) ids from the same dump.
DELEGATED_SCOPE_IDS: dict[str, str] = {
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
    "User.ReadBasic.All": "b340eb25-3456-403f-be2f-af7a0d370277",
    "User.Read.All": "a154be20-db9c-4678-8ab7-66f6cc099a59",
    "Directory.Read.All": "06da0dbc-49e2-44d2-8312-53f166ab848a",
    "Mail.Read": "570282fd-fa5c-430d-a7fd-fc8dc98a9dca",
    "Calendars.Read": "465a38f9-76ea-45b9-9f34-9e8b0d4b0b42",
}

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def permission_name(app_role_id: str) -> str | None:
    """The permission name of a Graph appRoleAssignment's ``appRoleId``, or None if unknown."""
    if not _GUID.match(app_role_id.strip()):
        return None
    return APP_ROLE_NAMES.get(app_role_id.strip().lower())


def granted_permissions(app_role_assignments: Iterable[dict]) -> frozenset[str]:
    """Names of the Graph app roles in a list of appRoleAssignment objects.

    Assignments carry the resource's object id, not its app id, so Graph's roles are recognised by
    their (globally unique) role ids; roles of other APIs are skipped.
    """
    names = (permission_name(str(a.get("appRoleId", ""))) for a in app_role_assignments)
    return frozenset(n for n in names if n)
