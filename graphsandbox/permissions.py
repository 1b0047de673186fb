"""Which permissions each Graph path needs (graph-wire §6), and Graph's appRole ids for them.

`required(path)` answers for a path after `/v1.0` or `/beta`; any one of `application` (app-only
tokens' `roles`) or `delegated` (delegated tokens' `scp`) suffices, least privileged first, except
that `all_of_application` must all be present when it is set.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
DIRECTORY_DENIED = ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
OUTLOOK_DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


@dataclass(frozen=True)
class Requirement:
    entity: str
    application: tuple[str, ...]
    delegated: tuple[str, ...]
    all_of_application: tuple[str, ...] = ()
    denied_code: str = DIRECTORY_DENIED[0]
    denied_message: str = DIRECTORY_DENIED[1]

    @property
    def least_application(self) -> str | None:
        return (self.all_of_application or self.application or (None,))[0]

    @property
    def least_delegated(self) -> str | None:
        return self.delegated[0] if self.delegated else None


def satisfied(req: Requirement, roles: set[str] | frozenset[str], scopes: set[str] | frozenset[str]) -> bool:
    """Whether a token's roles (app-only) or scopes (delegated) are enough for the request."""
    if req.all_of_application:
        app_ok = all(r in roles for r in req.all_of_application)
    else:
        app_ok = any(r in roles for r in req.application)
    return app_ok or any(s in scopes for s in req.delegated)


_DIR_READ = ("Directory.Read.All", "Directory.ReadWrite.All")
_USERS = Requirement(
    "users",
    ("User.Read.All", "User.ReadWrite.All") + _DIR_READ,
    ("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All") + _DIR_READ + ("Directory.AccessAsUser.All",),
)
# graph-wire §6 names GroupMember.Read.All as least privileged (unconfirmed); the Group.* and
# Directory.* permissions are accepted as higher privileged.
_GROUP_READ = ("GroupMember.Read.All", "Group.Read.All", "GroupMember.ReadWrite.All", "Group.ReadWrite.All") + _DIR_READ
_GROUPS = Requirement("groups", _GROUP_READ, _GROUP_READ + ("Directory.AccessAsUser.All",))
_MEMBERS = Requirement("groupMembers", _GROUP_READ, _GROUP_READ + ("Directory.AccessAsUser.All",))
_DEVICES = Requirement("devices", ("Device.Read.All", "Device.ReadWrite.All") + _DIR_READ,
                       ("Device.Read.All",) + _DIR_READ + ("Directory.AccessAsUser.All",))
_APP_READ = ("Application.Read.All", "Application.ReadWrite.OwnedBy", "Application.ReadWrite.All") + _DIR_READ
_APPLICATIONS = Requirement("applications", _APP_READ, ("Application.Read.All", "Application.ReadWrite.All") + _DIR_READ)
_SERVICE_PRINCIPALS = Requirement("servicePrincipals", _APP_READ,
                                  ("Application.Read.All", "Application.ReadWrite.All") + _DIR_READ)
_APP_ROLE_ASSIGNMENTS = Requirement(
    "appRoleAssignments",
    ("Application.Read.All", "AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All") + _DIR_READ,
    ("Application.Read.All", "AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All") + _DIR_READ,
)
_ROLES = Requirement("directoryRoles", ("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory") + _DIR_READ,
                     ("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory") + _DIR_READ)
_ORGANIZATION = Requirement("organization", ("Organization.Read.All", "Directory.Read.All",
                                             "Organization.ReadWrite.All", "Directory.ReadWrite.All"),
                            ("User.Read", "Organization.Read.All") + _DIR_READ)
_DOMAINS = Requirement("domains", ("Domain.Read.All", "Domain.ReadWrite.All") + _DIR_READ,
                       ("Domain.Read.All", "Domain.ReadWrite.All") + _DIR_READ)
_SKUS = Requirement("subscribedSkus", ("Organization.Read.All", "Directory.Read.All",
                                       "Directory.ReadWrite.All", "Organization.ReadWrite.All"),
                    ("Organization.Read.All",) + _DIR_READ)
_ME = Requirement("me", (), ("User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All",
                             "User.ReadWrite.All") + _DIR_READ + ("Directory.AccessAsUser.All",))
_MESSAGES = Requirement("messages", ("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"),
                        ("Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"), (), *OUTLOOK_DENIED)
_ME_MESSAGES = Requirement("messages", (), ("Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"), (), *OUTLOOK_DENIED)
_EVENTS = Requirement("events", ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"),
                      ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"), (), *OUTLOOK_DENIED)
_CONTACTS = Requirement("contacts", ("Contacts.Read", "Contacts.ReadWrite"),
                        ("Contacts.Read", "Contacts.ReadWrite"), (), *OUTLOOK_DENIED)
_SIGN_INS = Requirement("signIns", ("AuditLog.Read.All", "Directory.Read.All"), ("AuditLog.Read.All", "Directory.Read.All"))
_DIRECTORY_AUDITS = Requirement("directoryAudits", (), ("AuditLog.Read.All",),
                                ("AuditLog.Read.All", "Directory.Read.All"))
_DRIVES = Requirement("drives", ("Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All"),
                      ("Files.Read", "Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All"), (), "accessDenied",
                      "Access denied")
_SITES = Requirement("sites", ("Sites.Read.All", "Sites.ReadWrite.All"), ("Sites.Read.All", "Sites.ReadWrite.All"),
                     (), "accessDenied", "Access denied")
_REPORTS = Requirement("reports", ("Reports.Read.All",), ("Reports.Read.All",))

_TOP = {
    "users": _USERS, "groups": _GROUPS, "devices": _DEVICES, "applications": _APPLICATIONS,
    "serviceprincipals": _SERVICE_PRINCIPALS, "directoryroles": _ROLES, "organization": _ORGANIZATION,
    "domains": _DOMAINS, "subscribedskus": _SKUS, "drives": _DRIVES, "sites": _SITES,
    "reports": _REPORTS,
}
# Second segment below a user (`/users/{id}/<nav>` or `/me/<nav>`).
_USER_NAV = {"messages": _MESSAGES, "events": _EVENTS, "calendar": _EVENTS, "contacts": _CONTACTS,
             "drive": _DRIVES, "mailfolders": _MESSAGES}
_AUDIT = {"signins": _SIGN_INS, "directoryaudits": _DIRECTORY_AUDITS}


def _segments(path: str) -> list[str]:
    """Lower-cased segments, with key syntax `applications(appId='x')` cut to `applications`."""
    path = path.split("?", 1)[0]
    return [re.sub(r"\(.*\)$", "", s).lower() for s in path.strip("/").split("/") if s]


def required(path: str) -> Requirement | None:
    """The requirement for a path after the version segment, or None for paths we do not know."""
    segs = _segments(path)
    if not segs:
        return None
    head = segs[0]
    if head == "me":
        if len(segs) == 1:
            return _ME
        nav = _USER_NAV.get(segs[1])
        if nav is _MESSAGES:
            return _ME_MESSAGES
        return nav or (_ME if segs[1] in ("memberof", "manager", "photo") else None)
    if head == "auditlogs":
        return _AUDIT.get(segs[1]) if len(segs) > 1 else None
    if head == "users" and len(segs) >= 3 and segs[2] in _USER_NAV:
        return _USER_NAV[segs[2]]
    if head == "groups" and len(segs) >= 3 and segs[2] in ("members", "transitivemembers"):
        return _MEMBERS
    if head == "serviceprincipals" and "approleassignments" in segs[1:]:
        return _APP_ROLE_ASSIGNMENTS
    return _TOP.get(head)


# -- appRole ids ------------------------------------------------------------------------------------

_KNOWN_ROLE_IDS = {
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
# Delegated scope (oauth2PermissionScope) ids seen in the same dump.
DELEGATED_SCOPE_IDS = {
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
    "User.ReadBasic.All": "b340eb25-3456-403f-be2f-af7a0d370277",
    "User.Read.All": "a154be20-db9c-4678-8ab7-66f6cc099a59",
    "Directory.Read.All": "06da0dbc-49e2-44d2-8312-53f166ab848a",
    "Mail.Read": "570282fd-fa5c-430d-a7fd-fc8dc98a9dca",
    "Calendars.Read": "465a38f9-76ea-45b9-9f34-9e8b0d4b0b42",
}


def app_role_id(name: str) -> str:
    """Graph's appRole id for an application permission; a stable uuid5 for ones not on record."""
    return _KNOWN_ROLE_IDS.get(name) or str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://graph.microsoft.com/{name}"))


def _every_application_permission() -> list[str]:
    names = dict.fromkeys(_KNOWN_ROLE_IDS)
    for req in list(_TOP.values()) + list(_USER_NAV.values()) + list(_AUDIT.values()) + [
            _MEMBERS, _APP_ROLE_ASSIGNMENTS]:
        names.update(dict.fromkeys(req.application + req.all_of_application))
    return list(names)


APP_ROLE_IDS: dict[str, str] = {name: app_role_id(name) for name in _every_application_permission()}
APP_ROLE_NAMES: dict[str, str] = {v: k for k, v in APP_ROLE_IDS.items()}
