"""Microsoft Graph's permission catalogue as the sandbox knows it (ids from graph-wire.md §6).

Graph sends appRoleIds, never names, in appRoleAssignments; the dashboard maps them back, so the
real GUIDs are used where they are known and a stable uuid5 otherwise.
"""
from __future__ import annotations

import base64
import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from .tenants import iso
from .tokens import GRAPH_APP_ID

if TYPE_CHECKING:
    from .tenants import Registry

_NAMESPACE = uuid.UUID("5f0c4d52-8c1e-4b7e-9d4a-6a6b8f0e9a10")

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
    "Domain.Read.All": "",
}

DELEGATED_SCOPE_IDS: dict[str, str] = {
    "User.Read": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
    "User.ReadBasic.All": "b340eb25-3456-403f-be2f-af7a0d370277",
    "User.Read.All": "a154be20-db9c-4678-8ab7-66f6cc099a59",
    "Directory.Read.All": "06da0dbc-49e2-44d2-8312-53f166ab848a",
    "Mail.Read": "570282fd-fa5c-430d-a7fd-fc8dc98a9dca",
    "Calendars.Read": "465a38f9-76ea-45b9-9f34-9e8b0d4b0b42",
    "Mail.ReadBasic": "",
    "Group.Read.All": "",
    "GroupMember.Read.All": "",
    "Device.Read.All": "",
    "Application.Read.All": "",
    "Files.Read.All": "",
    "Sites.Read.All": "",
    "Contacts.Read": "",
    "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
    "openid": "37f7f235-527c-4136-accd-4a02d197296e",
    "profile": "14dad69e-099b-42c9-810b-d002981feec1",
    "email": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
}

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


def app_role_id(name: str) -> str:
    """The appRole GUID of an application permission (real where known)."""
    return APP_ROLE_IDS.get(name) or str(uuid.uuid5(_NAMESPACE, "role:" + name))


def scope_id(name: str) -> str:
    """The oauth2PermissionScope GUID of a delegated permission (real where known)."""
    return DELEGATED_SCOPE_IDS.get(name) or str(uuid.uuid5(_NAMESPACE, "scope:" + name))


def common_app_roles() -> list[str]:
    return sorted(APP_ROLE_IDS)


def common_scopes() -> list[str]:
    return sorted(DELEGATED_SCOPE_IDS, key=lambda s: (s in OIDC_SCOPES, s))


def is_permission_name(name: str) -> bool:
    """Graph permission names look like ``Word.Word[.Word]`` (or one of the OIDC scopes)."""
    parts = name.split(".")
    return name in OIDC_SCOPES or (len(parts) >= 2 and all(p and p.replace("-", "").isalnum()
                                                           for p in parts))


def _assignment_id(sp_id: str, role_id: str) -> str:
    """Graph's appRoleAssignment ids are 43-character base64url strings; stable per pair."""
    digest = hashlib.sha256(f"{sp_id}:{role_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")[:43]


def graph_objects(registry: Registry) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The tenant's applications and servicePrincipals as Graph shapes them.

    The service principal list also holds Microsoft Graph's own, with its appRoles, so a client can
    map an appRoleAssignment's ``appRoleId`` to a permission name the way it would against Graph.
    """
    applications: list[dict[str, Any]] = []
    principals: list[dict[str, Any]] = [graph_service_principal(registry)]
    with registry.lock:
        apps = list(registry.apps.values())
        for app in apps:
            access = ([{"id": app_role_id(r), "type": "Role"} for r in sorted(app.requested_roles | set(app.roles))]
                      + [{"id": scope_id(s), "type": "Scope"} for s in sorted(app.scopes)])
            applications.append({
                "id": app.object_id, "appId": app.client_id, "displayName": app.display_name,
                "createdDateTime": iso(app.created), "signInAudience": "AzureADMyOrg",
                "publisherDomain": registry.domain,
                "passwordCredentials": [
                    {"keyId": s.key_id, "displayName": s.display_name, "hint": s.hint,
                     "startDateTime": iso(s.start), "endDateTime": iso(s.end),
                     "customKeyIdentifier": None, "secretText": None} for s in app.secrets],
                "keyCredentials": [],
                "requiredResourceAccess": [{"resourceAppId": GRAPH_APP_ID, "resourceAccess": access}],
                "web": {"redirectUris": list(app.redirect_uris), "homePageUrl": None, "logoutUrl": None},
            })
            principals.append({
                "id": app.sp_id, "appId": app.client_id, "displayName": app.display_name,
                "servicePrincipalType": "Application", "accountEnabled": True,
                "appOwnerOrganizationId": registry.tenant_id, "appDisplayName": app.display_name,
                "servicePrincipalNames": [app.client_id], "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
                "_appRoleAssignments": [
                    {"id": _assignment_id(app.sp_id, app_role_id(role)), "appRoleId": app_role_id(role),
                     "createdDateTime": iso(when), "deletedDateTime": None,
                     "principalDisplayName": app.display_name, "principalId": app.sp_id,
                     "principalType": "ServicePrincipal", "resourceDisplayName": "Microsoft Graph",
                     "resourceId": registry.graph_sp_id}
                    for role, when in sorted(app.roles.items())],
            })
    return applications, principals


def graph_service_principal(registry: Registry) -> dict[str, Any]:
    """Microsoft Graph's service principal in the tenant, with the roles and scopes the sandbox knows."""
    return {
        "id": registry.graph_sp_id, "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph",
        "appDisplayName": "Microsoft Graph", "servicePrincipalType": "Application",
        "accountEnabled": True, "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        "servicePrincipalNames": [GRAPH_APP_ID, "https://graph.microsoft.com/",
                                  "https://graph.microsoft.com"],
        "appRoles": [{"id": app_role_id(name), "value": name, "displayName": name,
                      "description": name, "allowedMemberTypes": ["Application"], "isEnabled": True,
                      "origin": "Application"} for name in common_app_roles()],
        "oauth2PermissionScopes": [{"id": scope_id(name), "value": name, "type": "User",
                                    "adminConsentDisplayName": name, "isEnabled": True}
                                   for name in common_scopes() if name not in OIDC_SCOPES],
        "_appRoleAssignments": [],
    }
