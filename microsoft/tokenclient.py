"""Entra ID token endpoint client (v1 and v2), PKCE, and the URLs around an app registration.

Plain code over ``outbound.request`` rather than MSAL or oauthlib: the dashboard must show Entra's
exact error fields (AADSTS codes, trace id, correlation id) and both response shapes, and MSAL
hides those behind its own discovery and caching; the protocol parts used here are a form POST and
a URL, which a library would not make shorter or safer.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote, urlencode, urlsplit

from microsoft import outbound
from microsoft.clouds import (  # the clouds' facts live there; CLOUDS and Cloud are read from here too
    CLOUDS,
    DEFAULT_CLOUD,
    Cloud,
    cloud_for_graph_host,
    cloud_of_login_host,
)
from microsoft.redaction import sensitive_variables

GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
OIDC_SCOPES = ("openid", "profile", "offline_access")


def cloud_for_graph_url(graph_service_url: str) -> Cloud:
    """The cloud a Graph service URL belongs to; other hosts (a stand-in for Graph) count as global."""
    try:
        host = urlsplit(graph_service_url).hostname or ""
    except ValueError:  # e.g. an unclosed [IPv6 literal typed into the form
        host = ""
    return cloud_for_graph_host(host)


def cloud_for_login_host(login_host: str) -> Cloud:
    """The cloud of a login host (``usgov`` stands for both US Government clouds)."""
    return cloud_of_login_host(_bare_host(login_host).split(":")[0]) or DEFAULT_CLOUD


def is_microsoft_login_host(login_host: str) -> bool:
    """Whether ``host[:port]`` (or a URL) is a login host of one of Microsoft's clouds."""
    host, _, port = _bare_host(login_host).partition(":")
    return port in ("", "443") and cloud_of_login_host(host) is not None


def _bare_host(login_host: str) -> str:
    """``login_host`` may be given as ``host[:port]`` or as ``https://host[:port]``."""
    text = login_host.strip().rstrip("/").lower()
    return urlsplit(text).netloc if "://" in text else text


# --- token requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenRequest:
    """One call to a token endpoint. v2 uses ``scope``, v1 uses ``resource``."""

    token_url: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    grant_type: str = "client_credentials"
    scope: str | None = None
    resource: str | None = None
    code: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None
    code_verifier: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    client_assertion: str | None = field(default=None, repr=False)  # private_key_jwt, instead of a secret

    @sensitive_variables()  # the debug 500 page must not show secrets or tokens
    def form(self) -> dict[str, str]:
        """The form body. Delegated v2 requests get the OpenID scopes, as MSAL sends them."""
        if self.grant_type not in GRANT_TYPES:
            raise ValueError(f"Unknown grant type {self.grant_type!r}.")
        fields: dict[str, str | None] = {"grant_type": self.grant_type, "client_id": self.client_id}
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        if self.client_assertion:
            fields["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            fields["client_assertion"] = self.client_assertion
        if self.scope:
            delegated = self.grant_type != "client_credentials"
            fields["scope"] = with_oidc_scopes(self.scope) if delegated else self.scope
        if self.resource:
            fields["resource"] = self.resource
        if self.grant_type == "authorization_code":
            fields.update(code=self.code, redirect_uri=self.redirect_uri, code_verifier=self.code_verifier)
        elif self.grant_type == "refresh_token":
            fields["refresh_token"] = self.refresh_token
        return {k: v for k, v in fields.items() if v}


@dataclass(frozen=True)
class TokenResult:
    """A token and its non-secret metadata, from either response shape, times in UTC."""

    access_token: str = field(repr=False)
    token_type: str
    issued_at: datetime
    expires_at: datetime
    not_before: datetime | None = None
    ext_expires_in: int | None = None
    scope: str | None = None
    resource: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    request_id: str | None = None  # x-ms-request-id, for support tickets

    @property
    def expires_in(self) -> int:
        return int((self.expires_at - self.issued_at).total_seconds())


_TRAILER = re.compile(r"\s*(?:Trace ID|Correlation ID|Timestamp):.*\Z", re.S)
_AADSTS = re.compile(r"AADSTS(\d+)")


class TokenError(Exception):
    """A token request that produced no token.

    ``kind``: ``aadsts`` (Entra answered with an error body), ``bad_response`` (not a token response),
    or the ``OutboundError`` kind: ``unreachable``, ``timeout``, ``tls``, ``disallowed``, ``redirect``.
    ``description`` is Entra's text without its Trace ID / Correlation ID / Timestamp lines.
    """

    def __init__(
        self,
        description: str,
        *,
        kind: str,
        status: int | None = None,
        error: str | None = None,
        codes: list[int] | None = None,
        trace_id: str | None = None,
        correlation_id: str | None = None,
        timestamp: datetime | None = None,
        error_uri: str | None = None,
        suberror: str | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.kind = kind
        self.status = status
        self.error = error
        self.codes = codes or []
        self.trace_id = trace_id
        self.correlation_id = correlation_id
        self.timestamp = timestamp
        self.error_uri = error_uri
        self.suberror = suberror

    def __reduce__(self) -> tuple:  # survives pickling (worker results, multiprocessing)
        state = {k: v for k, v in self.__dict__.items() if k != "description"}
        return (_restore_token_error, (self.description, state))

    @property
    def code(self) -> int | None:
        """The main AADSTS code (the first one Entra lists)."""
        return self.codes[0] if self.codes else None

    @classmethod
    def from_body(cls, status: int, body: dict, request_id: str | None = None) -> TokenError:
        def text(name: str) -> str | None:  # any other JSON type in a text field is ignored
            value = body.get(name)
            return value[:2000] if isinstance(value, str) and value else None

        raw = text("error_description") or ""
        description = _TRAILER.sub("", raw).strip() or text("error") or "Unknown error"
        listed = body.get("error_codes")
        codes = [int(c) for c in (listed if isinstance(listed, list) else []) if str(c).isdigit()][:10]
        if not codes:
            codes = [int(m) for m in _AADSTS.findall(raw)[:1]]
        return cls(
            description,
            kind="aadsts",
            status=status,
            error=text("error"),
            codes=codes,
            trace_id=text("trace_id") or request_id,
            correlation_id=text("correlation_id"),
            timestamp=_parse_entra_time(body.get("timestamp")),
            error_uri=text("error_uri"),
            suberror=text("suberror"),
        )


def _restore_token_error(description: str, state: dict) -> TokenError:
    return TokenError(description, **state)


@sensitive_variables()  # the debug 500 page must not show secrets or tokens
def request_token(req: TokenRequest, policy: outbound.OutboundPolicy) -> TokenResult:
    """POST ``req`` to its token endpoint and parse the answer, or raise ``TokenError``."""
    try:
        response = outbound.request(
            "POST",
            req.token_url,
            policy=policy,
            data=req.form(),
            headers={"Accept": "application/json"},
            retry=True,
        )
    except outbound.OutboundError as exc:
        raise TokenError(exc.message, kind=exc.kind) from None
    issued_at = datetime.now(timezone.utc)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    request_id = response.headers.get("x-ms-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _not_a_token_response(response.status_code, content_type)
    if isinstance(body.get("error"), dict):
        raise _graph_answer(response.status_code, body["error"])
    if "error" in body:
        raise TokenError.from_body(response.status_code, body, request_id)
    if response.status_code != 200 or not body.get("access_token"):
        raise _not_a_token_response(response.status_code, content_type)
    return parse_token_response(body, issued_at, request_id)


def _graph_answer(status: int, error: dict) -> TokenError:
    """``{"error": {"code", "message"}}`` is Microsoft Graph's error shape, not Entra's: the token
    URL points at a Graph path."""
    code = str(error.get("code") or "none")[:100]
    return TokenError(
        f"The token URL answered like Microsoft Graph (HTTP {status}, Graph code {code}), not like Entra ID's "
        "token endpoint: it points at a Graph path instead of https://login…/{tenant}/oauth2/v2.0/token.",
        kind="bad_response",
        status=status,
    )


def _not_a_token_response(status: int, content_type: str) -> TokenError:
    return TokenError(
        f"The token endpoint answered with something that is not a token response (HTTP {status}, {content_type}).",
        kind="bad_response",
        status=status,
    )


def parse_token_response(body: dict, issued_at: datetime, request_id: str | None = None) -> TokenResult:
    """Both shapes: v1 sends numbers as strings plus ``expires_on``/``not_before``/``resource``;
    v2 sends integers plus ``scope``. ``expires_on`` wins over ``expires_in`` when present."""
    expires_on = _as_int(body.get("expires_on"))
    expires_in = _as_int(body.get("expires_in"))
    if expires_on is not None:
        expires_at = datetime.fromtimestamp(expires_on, timezone.utc)
    else:
        expires_at = issued_at + timedelta(seconds=expires_in if expires_in is not None else 3599)
    not_before = _as_int(body.get("not_before"))
    return TokenResult(
        access_token=str(body["access_token"]),
        token_type=str(body.get("token_type") or "Bearer"),
        issued_at=issued_at,
        expires_at=expires_at,
        not_before=datetime.fromtimestamp(not_before, timezone.utc) if not_before else None,
        ext_expires_in=_as_int(body.get("ext_expires_in")),
        scope=body.get("scope") or None,
        resource=body.get("resource") or None,
        refresh_token=body.get("refresh_token") or None,
        id_token=body.get("id_token") or None,
        request_id=request_id,
    )


def _as_int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None and value != "" else None
    except ValueError:
        return None


def _parse_entra_time(value: object) -> datetime | None:
    """Entra writes ``2016-01-09 02:02:12Z``."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# --- PKCE, state and URLs -------------------------------------------------------------------


def new_pkce() -> tuple[str, str]:
    """A PKCE pair ``(verifier, S256 challenge)`` (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_state() -> str:
    return secrets.token_urlsafe(32)


def with_oidc_scopes(scope: str) -> str:
    """Add ``openid profile offline_access`` (a refresh token needs ``offline_access``)."""
    parts = scope.split()
    return " ".join(parts + [s for s in OIDC_SCOPES if s not in parts])


def authorize_url(
    authorize_endpoint: str,
    client_id: str,
    redirect_uri: str,
    scope_or_resource: str,
    state: str,
    code_challenge: str,
    v1: bool,
    prompt: str | None = None,
) -> str:
    """The sign-in URL for the authorization-code flow with PKCE (S256)."""
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "response_mode": "query",
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    if v1:
        params["resource"] = scope_or_resource
    else:
        params["scope"] = with_oidc_scopes(scope_or_resource)
    if prompt:
        params["prompt"] = prompt
    separator = "&" if urlsplit(authorize_endpoint).query else "?"
    return f"{authorize_endpoint}{separator}{urlencode(params, quote_via=quote)}"


def tenant_urls(tenant: str, version: str, login_host: str = DEFAULT_CLOUD.login_host) -> tuple[str, str]:
    """``(token_url, authorize_url)`` for a tenant (GUID or domain) on the v1 or v2 endpoint."""
    if version not in ("v1", "v2"):
        raise ValueError(f"Unknown endpoint version {version!r}; use 'v1' or 'v2'.")
    base = f"https://{_bare_host(login_host)}/{quote(tenant.strip(), safe='')}/oauth2"
    if version == "v2":
        base += "/v2.0"
    return f"{base}/token", f"{base}/authorize"


_TOKEN_ENDPOINT_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/(?P<v2>v2\.0/)?token/?$", re.IGNORECASE)


def parse_token_endpoint(url: str) -> tuple[str, str] | None:
    """``(tenant, version)`` of an Entra token endpoint as the app registration's Endpoints list
    shows it (``…/{tenant}/oauth2/token`` is v1, ``…/{tenant}/oauth2/v2.0/token`` v2); None otherwise."""
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return None
    found = _TOKEN_ENDPOINT_PATH.match(path)
    if not found:
        return None
    return unquote(found["tenant"]), "v2" if found["v2"] else "v1"


def default_scope_or_resource(version: str, graph_service_url: str) -> str:
    """v2: ``https://<graph host>/.default``; v1: ``https://<graph host>``, for the URL's cloud."""
    resource = cloud_for_graph_url(graph_service_url).graph_resource
    return f"{resource}/.default" if version == "v2" else resource


def admin_consent_url(
    login_base: str,
    tenant: str,
    client_id: str,
    redirect_uri: str | None = None,
    v2: bool = True,
    scope: str = f"{DEFAULT_CLOUD.graph_resource}/.default",
    state: str | None = None,
) -> str:
    """The URL where a tenant admin grants the app's configured permissions for the whole tenant.

    v2 needs a ``scope`` (``/.default`` means "everything configured") and refuses ``common``.
    """
    tenant = tenant.strip() or "organizations"
    if v2 and tenant.lower() == "common":
        tenant = "organizations"
    params = {"client_id": client_id}
    if v2:
        params["scope"] = scope
    if redirect_uri:
        params["redirect_uri"] = redirect_uri
    if state:
        params["state"] = state
    path = "v2.0/adminconsent" if v2 else "adminconsent"
    base = f"https://{_bare_host(login_base)}"
    return f"{base}/{quote(tenant, safe='')}/{path}?{urlencode(params, quote_via=quote)}"


def graph_admin_consent_url(
    login_host: str,
    tenant: str,
    client_id: str,
    graph_service_url: str,
    redirect_uri: str | None = None,
    state: str | None = None,
) -> str:
    """The admin-consent URL for everything the app has configured on Microsoft Graph: v2, on
    ``login_host``, with the ``/.default`` scope of the cloud of ``graph_service_url``. The one
    builder behind the consent button, the diagnoses' consent step and the planner's links."""
    return admin_consent_url(
        login_host,
        tenant,
        client_id,
        redirect_uri=redirect_uri,
        scope=default_scope_or_resource("v2", graph_service_url),
        state=state,
    )


def portal_app_url(client_id: str, cloud: str | Cloud = "global", blade: str = "CallAnAPI") -> str:
    """A blade of the app registration in the Azure portal of ``cloud``: ``CallAnAPI`` (API
    permissions), ``Credentials`` (certificates & secrets), ``Authentication``, ``Overview``."""
    portal = (cloud if isinstance(cloud, Cloud) else CLOUDS.get(cloud, DEFAULT_CLOUD)).portal_host
    return (
        f"https://{portal}/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/{blade}"
        f"/appId/{quote(client_id.strip(), safe='')}"
    )


def portal_api_permissions_url(client_id: str, cloud: str | Cloud = "global") -> str:
    return portal_app_url(client_id, cloud, "CallAnAPI")
