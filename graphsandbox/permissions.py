"""Which permissions each Graph path needs, and Graph's permission ids for them.

`required(path)` answers for a path after `/v1.0` or `/beta`; any one of `application` (app-only
tokens' `roles`) or `delegated` (delegated tokens' `scp`) suffices, least privileged first.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from graphpermissions import APPLICATION, DELEGATED, GRAPH_APP_ID, reference  # noqa: F401  (GRAPH_APP_ID re-exported)

DIRECTORY_DENIED = ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
OUTLOOK_DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


@dataclass(frozen=True)
class Requirement:
    entity: str
    application: tuple[str, ...]
    delegated: tuple[str, ...]
    denied_code: str = DIRECTORY_DENIED[0]
    denied_message: str = DIRECTORY_DENIED[1]

    @property
    def least_application(self) -> str | None:
        return self.application[0] if self.application else None

    @property
    def least_delegated(self) -> str | None:
        return self.delegated[0] if self.delegated else None


def satisfied(req: Requirement, roles: set[str] | frozenset[str], scopes: set[str] | frozenset[str]) -> bool:
    """Whether a token's roles (app-only) or scopes (delegated) are enough for the request."""
    return any(r in roles for r in req.application) or any(s in scopes for s in req.delegated)


# The sandbox's own rules, written from Microsoft's permission pages and kept in line with
# Microsoft's permission reference (a test compares them for every entity the dashboard lists):
# e.g. https://learn.microsoft.com/graph/api/user-list#permissions. Basic permissions
# (User.ReadBasic.All, Group.ReadBasic.All) are accepted where Microsoft's reference grants them.
_DIR_READ = ("Directory.Read.All", "Directory.ReadWrite.All")
_USERS = Requirement(
    "users",
    ("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All") + _DIR_READ,
    ("User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All") + _DIR_READ,
)
# users/delta is not granted by User.ReadBasic.All.
_USERS_DELTA = Requirement(
    "users", ("User.Read.All", "User.ReadWrite.All") + _DIR_READ, ("User.Read.All", "User.ReadWrite.All") + _DIR_READ
)
_GROUP_READ = ("Group.ReadBasic.All", "GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All") + _DIR_READ
_GROUPS = Requirement("groups", _GROUP_READ, _GROUP_READ)
_MEMBER_READ = (
    "GroupMember.ReadBasic.All",
    "GroupMember.Read.All",
    "Group.ReadBasic.All",
    "Group.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
)
_MEMBERS = Requirement("groupMembers", _MEMBER_READ, _MEMBER_READ)
_DEVICES = Requirement(
    "devices", ("Device.Read.All", "Device.ReadWrite.All") + _DIR_READ, ("Device.Read.All",) + _DIR_READ
)
_APP_READ = ("Application.Read.All", "Application.ReadWrite.OwnedBy", "Application.ReadWrite.All", "Directory.Read.All")
_APP_READ_DELEGATED = ("Application.Read.All", "Application.ReadWrite.All") + _DIR_READ
_APPLICATIONS = Requirement("applications", _APP_READ, _APP_READ_DELEGATED)
_SERVICE_PRINCIPALS = Requirement("servicePrincipals", _APP_READ, _APP_READ_DELEGATED)
_APP_ROLE_ASSIGNMENTS = Requirement(
    "appRoleAssignments",
    ("Application.Read.All", "AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All") + _DIR_READ,
    ("Application.Read.All", "AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All") + _DIR_READ,
)
_ROLES = Requirement(
    "directoryRoles",
    ("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory") + _DIR_READ,
    ("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory") + _DIR_READ,
)
# Microsoft's reference marks DeviceManagementServiceConfig.Read.All least privileged for /organization.
_ORGANIZATION = Requirement(
    "organization",
    (
        "DeviceManagementServiceConfig.Read.All",
        "Organization.Read.All",
        "Directory.Read.All",
        "Organization.ReadWrite.All",
        "Directory.ReadWrite.All",
    ),
    ("DeviceManagementServiceConfig.Read.All", "User.Read", "Organization.Read.All") + _DIR_READ,
)
_DOMAINS = Requirement(
    "domains",
    ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All"),
    ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All"),
)
_SKUS = Requirement(
    "subscribedSkus",
    (
        "LicenseAssignment.Read.All",
        "Organization.Read.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
        "Organization.ReadWrite.All",
    ),
    ("LicenseAssignment.Read.All", "Organization.Read.All") + _DIR_READ,
)
_ME = Requirement(
    "me",
    (),
    ("User.Read", "User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All")
    + _DIR_READ
    + ("Directory.AccessAsUser.All",),
)
_MESSAGES = Requirement(
    "messages",
    ("Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"),
    ("Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"),
    *OUTLOOK_DENIED,
)
_ME_MESSAGES = Requirement("messages", (), ("Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"), *OUTLOOK_DENIED)
_EVENTS = Requirement(
    "events",
    ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"),
    ("Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"),
    *OUTLOOK_DENIED,
)
_CONTACTS = Requirement(
    "contacts", ("Contacts.Read", "Contacts.ReadWrite"), ("Contacts.Read", "Contacts.ReadWrite"), *OUTLOOK_DENIED
)
_SIGN_INS = Requirement("signIns", ("AuditLog.Read.All",), ("AuditLog.Read.All",))
_DIRECTORY_AUDITS = Requirement(
    "directoryAudits", ("AuditLog.Read.All", "Directory.Read.All"), ("AuditLog.Read.All", "Directory.Read.All")
)
_DRIVES = Requirement(
    "drives",
    ("Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All"),
    ("Files.Read", "Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All"),
    "accessDenied",
    "Access denied",
)
_SITES = Requirement(
    "sites",
    ("Sites.Read.All", "Sites.ReadWrite.All"),
    ("Sites.Read.All", "Sites.ReadWrite.All"),
    "accessDenied",
    "Access denied",
)
_REPORTS = Requirement("reports", ("Reports.Read.All",), ("Reports.Read.All",))

_TOP = {
    "users": _USERS,
    "groups": _GROUPS,
    "devices": _DEVICES,
    "applications": _APPLICATIONS,
    "serviceprincipals": _SERVICE_PRINCIPALS,
    "directoryroles": _ROLES,
    "organization": _ORGANIZATION,
    "domains": _DOMAINS,
    "subscribedskus": _SKUS,
    "drives": _DRIVES,
    "sites": _SITES,
    "reports": _REPORTS,
}
# Second segment below a user (`/users/{id}/<nav>` or `/me/<nav>`).
_USER_NAV = {
    "messages": _MESSAGES,
    "events": _EVENTS,
    "calendar": _EVENTS,
    "contacts": _CONTACTS,
    "drive": _DRIVES,
    "mailfolders": _MESSAGES,
}
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
    if head == "users" and segs[1:] in (["delta"], ["microsoft.graph.delta"]):
        return _USERS_DELTA
    if head == "users" and len(segs) >= 3 and segs[2] in _USER_NAV:
        return _USER_NAV[segs[2]]
    if head == "groups" and len(segs) >= 3 and segs[2] in ("members", "transitivemembers"):
        return _MEMBERS
    if head == "serviceprincipals" and "approleassignments" in segs[1:]:
        return _APP_ROLE_ASSIGNMENTS
    return _TOP.get(head)


# -- basic permissions ------------------------------------------------------------------------
# User.ReadBasic.All returns the basic profile only: displayName, givenName, mail, photo, surname,
# userPrincipalName (and id): https://learn.microsoft.com/graph/permissions-reference#userreadbasicall.
# Group.ReadBasic.All's "basic group properties" are not listed by Microsoft: the set is a guess.
# What Graph answers for other selected properties is not documented either; answers on Microsoft
# Q&A show them as null, which is what the sandbox does (a guess).
BASIC_PROPERTIES: dict[str, frozenset[str]] = {
    "User.ReadBasic.All": frozenset({"id", "displayName", "givenName", "surname", "mail", "userPrincipalName"}),
    "Group.ReadBasic.All": frozenset(
        {"id", "displayName", "description", "mail", "mailNickname", "mailEnabled", "securityEnabled", "groupTypes"}
    ),
}


def basic_properties(
    req: Requirement, roles: set[str] | frozenset[str], scopes: set[str] | frozenset[str]
) -> frozenset[str] | None:
    """The properties a token may see when only a basic permission lets it read, else None (all)."""
    held = [p for p in (req.application if roles else req.delegated) if p in (roles or scopes)]
    if held and all(p in BASIC_PROPERTIES for p in held):
        return frozenset().union(*(BASIC_PROPERTIES[p] for p in held))
    return None


# -- permission ids ---------------------------------------------------------------------------
# The rules above are the sandbox's own; the ids are Microsoft Graph's, read from the permission
# reference the dashboard ships (``graphpermissions``, derived from Microsoft's own data).

# Application permissions the portal offers besides those the rules name.
_PORTAL_ROLES = (
    "User.Read.All",
    "User.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Mail.Send",
    "Calendars.Read",
    "Calendars.ReadWrite",
    "Contacts.Read",
    "Contacts.ReadWrite",
    "MailboxSettings.Read",
    "Policy.Read.All",
    "Reports.Read.All",
    "Files.Read.All",
)
# Delegated permissions with a real id that the portal offers first.
_PORTAL_SCOPES = (
    "User.Read",
    "User.ReadBasic.All",
    "User.Read.All",
    "Directory.Read.All",
    "Mail.Read",
    "Calendars.Read",
)


def app_role_id(name: str) -> str:
    """Graph's appRole id for an application permission; a stable uuid5 for names Graph lacks."""
    return reference().id_of(name, APPLICATION) or str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"https://graph.microsoft.com/{name}")
    )


def _every_application_permission() -> list[str]:
    names = dict.fromkeys(_PORTAL_ROLES)
    for req in (
        list(_TOP.values()) + list(_USER_NAV.values()) + list(_AUDIT.values()) + [_MEMBERS, _APP_ROLE_ASSIGNMENTS]
    ):
        names.update(dict.fromkeys(req.application))
    return list(names)


APP_ROLE_IDS: dict[str, str] = {name: app_role_id(name) for name in _every_application_permission()}
APP_ROLE_NAMES: dict[str, str] = {v: k for k, v in APP_ROLE_IDS.items()}
DELEGATED_SCOPE_IDS: dict[str, str] = {
    name: guid for name in _PORTAL_SCOPES if (guid := reference().id_of(name, DELEGATED) or "")
}


def scope_id(name: str) -> str | None:
    """Graph's oauth2PermissionScope id of a delegated permission, when Graph has it."""
    return reference().id_of(name, DELEGATED)
