"""The dashboard's Entra ID sign-in settings, and the endpoint URLs Entra derives from them.

Single-tenant: ``OIDC_TENANT_ID`` is the organisation's tenant id. Several organisations:
``OIDC_TENANT_ID=organizations`` and ``OIDC_ALLOWED_TENANTS`` lists the tenant ids accepted.
Entra's v2 endpoints are fixed paths under the authority host
(https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri),
and an ID token's issuer is ``https://{authority host}/{tid}/v2.0`` for the tenant that signed the
person in, also when signing in through ``organizations``
(https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference).
No Django imports beyond settings access: settings.py validates these values at start-up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from microsoft.clouds import DEFAULT_CLOUD

MULTI_TENANT = "organizations"


def _guid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class EntraSignIn:
    tenant: str  # a tenant id, or "organizations"
    client_id: str
    client_secret: str
    client_certificate_file: str  # PEM key + certificate, used instead of the secret when set
    authority: str  # https://login.microsoftonline.com (or a national cloud, or the sandbox)
    allowed_tenants: tuple[str, ...]  # tenant ids whose people may sign in

    @classmethod
    def from_settings(cls, settings: Any = None) -> EntraSignIn:
        if settings is None:
            from django.conf import settings
        tenant = (getattr(settings, "OIDC_TENANT_ID", "") or "").strip()
        allowed = [_guid(t) or t.strip() for t in getattr(settings, "OIDC_ALLOWED_TENANTS", []) or [] if t.strip()]
        if tenant and tenant.lower() != MULTI_TENANT:
            tenant = _guid(tenant) or tenant
            allowed = allowed or ([tenant] if _guid(tenant) else [])
        elif tenant:
            tenant = MULTI_TENANT
        return cls(
            tenant=tenant,
            client_id=(getattr(settings, "OIDC_RP_CLIENT_ID", "") or "").strip(),
            client_secret=getattr(settings, "OIDC_RP_CLIENT_SECRET", "") or "",
            client_certificate_file=(getattr(settings, "OIDC_RP_CLIENT_CERTIFICATE_FILE", "") or "").strip(),
            authority=(getattr(settings, "OIDC_AUTHORITY_HOST", "") or DEFAULT_CLOUD.login_base).rstrip("/"),
            allowed_tenants=tuple(allowed),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.tenant and self.client_id)

    def problems(self) -> list[str]:
        """What is wrong with the settings (empty when sign-in is off or configured right)."""
        if not (self.tenant or self.client_id or self.client_secret or self.client_certificate_file):
            return []
        found = []
        if not self.tenant:
            found.append("OIDC_TENANT_ID must be set (the organisation's tenant id, or 'organizations').")
        elif self.tenant != MULTI_TENANT and not _guid(self.tenant):
            found.append(
                f"OIDC_TENANT_ID must be a tenant id (a GUID) or 'organizations', not {self.tenant!r}: "
                "Entra ID > Overview > Tenant ID."
            )
        if self.tenant == MULTI_TENANT and not self.allowed_tenants:
            found.append(
                "With OIDC_TENANT_ID=organizations, OIDC_ALLOWED_TENANTS must list the tenant ids "
                "whose people may sign in (comma-separated)."
            )
        bad = [t for t in self.allowed_tenants if not _guid(t)]
        if bad:
            found.append(f"OIDC_ALLOWED_TENANTS entries must be tenant ids (GUIDs): {', '.join(bad)}.")
        if not _guid(self.client_id):
            found.append("OIDC_RP_CLIENT_ID must be the app registration's Application (client) ID, a GUID.")
        if self.client_certificate_file:
            from .certificate import ClientCertificate

            try:
                ClientCertificate.load(self.client_certificate_file)
            except ValueError as error:
                found.append(str(error))
        elif not self.client_secret:
            found.append(
                "OIDC_RP_CLIENT_SECRET must be set (a client secret of the app registration), or "
                "OIDC_RP_CLIENT_CERTIFICATE_FILE (its certificate's PEM key and certificate)."
            )
        if urlsplit(self.authority).scheme != "https":
            found.append(f"OIDC_AUTHORITY_HOST must be an https:// URL, not {self.authority!r}.")
        return found

    # -- Entra's endpoints -------------------------------------------------------------------
    @property
    def authorize_url(self) -> str:
        return f"{self.authority}/{self.tenant}/oauth2/v2.0/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.authority}/{self.tenant}/oauth2/v2.0/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.authority}/{self.tenant}/discovery/v2.0/keys"

    def issuer(self, tenant_id: str) -> str:
        return f"{self.authority}/{tenant_id}/v2.0"

    def end_session_url(self, post_logout_redirect_uri: str) -> str:
        """Entra's sign-out; it comes back to ``post_logout_redirect_uri`` when that is registered
        (https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request)."""
        return f"{self.authority}/{self.tenant}/oauth2/v2.0/logout?" + urlencode(
            {"post_logout_redirect_uri": post_logout_redirect_uri}
        )
