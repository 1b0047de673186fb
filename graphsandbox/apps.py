"""App registrations as Graph shows them, and the permission names the portal offers.

Graph sends appRoleIds, never names, in appRoleAssignments; the ids come from
``permissions.app_role_id`` (real GUIDs where known) so the data side and this side agree.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from .permissions import APP_ROLE_IDS, DELEGATED_SCOPE_IDS, GRAPH_APP_ID, app_role_id
from .permissions import scope_id as graph_scope_id
from .tenants import iso

if TYPE_CHECKING:
    from .tenants import Registry

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
_OIDC_SCOPE_IDS = {
    "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
    "openid": "37f7f235-527c-4136-accd-4a02d197296e",
    "profile": "14dad69e-099b-42c9-810b-d002981feec1",
    "email": "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
}
# Delegated scopes offered in the portal besides those with a known id.
_MORE_SCOPES = (
    "Mail.ReadBasic",
    "Group.Read.All",
    "GroupMember.Read.All",
    "Device.Read.All",
    "Application.Read.All",
    "Files.Read.All",
    "Sites.Read.All",
    "Contacts.Read",
)


def scope_id(name: str) -> str:
    """The oauth2PermissionScope GUID of a delegated permission (real where known)."""
    known = _OIDC_SCOPE_IDS.get(name) or graph_scope_id(name)
    return known or str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://graph.microsoft.com/scope/{name}"))


def common_app_roles() -> list[str]:
    return sorted(APP_ROLE_IDS)


def common_scopes() -> list[str]:
    names = set(DELEGATED_SCOPE_IDS) | set(_MORE_SCOPES)
    return sorted(names) + sorted(OIDC_SCOPES)


def is_permission_name(name: str) -> bool:
    """Graph permission names look like ``Word.Word[.Word]`` (or one of the OIDC scopes)."""
    parts = name.split(".")
    return name in OIDC_SCOPES or (len(parts) >= 2 and all(p and p.replace("-", "").isalnum() for p in parts))


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
            access = [{"id": app_role_id(r), "type": "Role"} for r in sorted(app.requested_roles | set(app.roles))] + [
                {"id": scope_id(s), "type": "Scope"} for s in sorted(app.scopes)
            ]
            applications.append(
                {
                    "id": app.object_id,
                    "appId": app.client_id,
                    "displayName": app.display_name,
                    "createdDateTime": iso(app.created),
                    "signInAudience": "AzureADMyOrg",
                    "publisherDomain": registry.domain,
                    "passwordCredentials": [
                        {
                            "keyId": s.key_id,
                            "displayName": s.display_name,
                            "hint": s.hint,
                            "startDateTime": iso(s.start),
                            "endDateTime": iso(s.end),
                            "customKeyIdentifier": None,
                            "secretText": None,
                        }
                        for s in app.secrets
                    ],
                    # https://learn.microsoft.com/graph/api/resources/keycredential: the SHA-1 thumbprint
                    # is the customKeyIdentifier; the key (the certificate, base64) is returned only for one
                    # object read with $select=keyCredentials (``with_keys``), null otherwise.
                    "keyCredentials": [
                        {
                            "keyId": c.key_id,
                            "displayName": c.display_name,
                            "customKeyIdentifier": c.thumbprint,
                            "startDateTime": iso(c.start),
                            "endDateTime": iso(c.end),
                            "type": "AsymmetricX509Cert",
                            "usage": "Verify",
                            "key": None,
                        }
                        for c in app.certificates
                    ],
                    "requiredResourceAccess": [{"resourceAppId": GRAPH_APP_ID, "resourceAccess": access}],
                    "web": {"redirectUris": list(app.redirect_uris), "homePageUrl": None, "logoutUrl": None},
                    "_owners": sorted(app.owners),
                    "_keys": {c.key_id: base64.b64encode(c.der).decode("ascii") for c in app.certificates if c.der},
                }
            )
            principals.append(
                {
                    "id": app.sp_id,
                    "appId": app.client_id,
                    "displayName": app.display_name,
                    "servicePrincipalType": "Application",
                    "accountEnabled": True,
                    "appOwnerOrganizationId": registry.tenant_id,
                    "appDisplayName": app.display_name,
                    "servicePrincipalNames": [app.client_id],
                    "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
                    "_appRoleAssignments": [
                        {
                            "id": _assignment_id(app.sp_id, app_role_id(role)),
                            "appRoleId": app_role_id(role),
                            "createdDateTime": iso(when),
                            "deletedDateTime": None,
                            "principalDisplayName": app.display_name,
                            "principalId": app.sp_id,
                            "principalType": "ServicePrincipal",
                            "resourceDisplayName": "Microsoft Graph",
                            "resourceId": registry.graph_sp_id,
                        }
                        for role, when in sorted(app.roles.items())
                    ],
                }
            )
    return applications, principals


def with_keys(item: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """One application read with ``$select=keyCredentials``: each keyCredential with its ``key``."""
    keys = item.get("_keys") or {}
    if isinstance(shown.get("keyCredentials"), list):
        shown["keyCredentials"] = [{**c, "key": keys.get(c.get("keyId"))} for c in shown["keyCredentials"]]
    return shown


def graph_service_principal(registry: Registry) -> dict[str, Any]:
    """Microsoft Graph's service principal in the tenant, with the roles and scopes the sandbox knows."""
    return {
        "id": registry.graph_sp_id,
        "appId": GRAPH_APP_ID,
        "displayName": "Microsoft Graph",
        "appDisplayName": "Microsoft Graph",
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
        "servicePrincipalNames": [GRAPH_APP_ID, "https://graph.microsoft.com/", "https://graph.microsoft.com"],
        "appRoles": [
            {
                "id": app_role_id(name),
                "value": name,
                "displayName": name,
                "description": name,
                "allowedMemberTypes": ["Application"],
                "isEnabled": True,
                "origin": "Application",
            }
            for name in common_app_roles()
        ],
        "oauth2PermissionScopes": [
            {"id": scope_id(name), "value": name, "type": "User", "adminConsentDisplayName": name, "isEnabled": True}
            for name in common_scopes()
            if name not in OIDC_SCOPES
        ],
        "_appRoleAssignments": [],
    }
