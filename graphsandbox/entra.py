"""Entra ID's login endpoints: token (v1 and v2), authorize, admin consent, discovery, keys.

Bodies, headers, status codes and AADSTS codes follow docs/microsoft-wire-facts.md (token endpoints, their errors, access tokens) so MSAL, Azure Identity
and hand-written clients cannot tell the sandbox from login.microsoftonline.com.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

from . import approles, assertions
from .apps import OIDC_SCOPES, is_permission_name
from .layout import page
from .permissions import GRAPH_APP_ID
from .tenants import App, AuthCode, Registry, SignedInUser
from .tokens import GRAPH_RESOURCE, Signer, b64url, opaque
from .wire import Request, Response

BACKDATED = 300  # seconds Entra back-dates iat and nbf by


def _expires_in(iat: int, exp: int) -> int:
    """Seconds left when the token was issued, less one, as Entra answers (3599 for an hour): from the
    issue time, not the clock when the body is written, so a second ticking in between changes nothing."""
    return exp - (iat + BACKDATED) - 1


if TYPE_CHECKING:
    from .directory import Directory

JSON_UTF8 = "application/json; charset=utf-8"
GRAPH_RESOURCES = {GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID}
WIDS_DEFAULT = "0997a1d0-0d1d-4acb-b408-d5ca73121e90"
GRANTS = ("client_credentials", "authorization_code", "refresh_token")


def _ests_headers(request_id: str, code: int = 0) -> dict[str, str]:
    return {
        "Cache-Control": "no-store, no-cache",
        "Pragma": "no-cache",
        "Expires": "-1",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "P3P": 'CP="DSP CUR OTPi IND OTRi ONL FIN"',
        "x-ms-request-id": request_id,
        "x-ms-ests-server": "2.1.18000.5 - SEC ProdSlices",
        "x-ms-clitelem": f"1,{code},0,,",
    }


class AadError(Exception):
    """An ESTS error answer; raised anywhere inside a token request."""

    def __init__(self, status: int, error: str, code: int, message: str, *, suberror: str | None = None) -> None:
        super().__init__(f"AADSTS{code}")
        self.status, self.error, self.code, self.message, self.suberror = (status, error, code, message, suberror)

    def response(self, correlation_id: str = "", headers: dict[str, str] | None = None) -> Response:
        trace_id = str(uuid.uuid4())
        correlation_id = correlation_id or str(uuid.uuid4())
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        body: dict[str, Any] = {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}"
                f"\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}"
            ),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }
        if self.suberror:
            body["suberror"] = self.suberror
        return Response(self.status, body, {**_ests_headers(trace_id, self.code), **(headers or {})}, JSON_UTF8)


def basic_credentials(req: Request) -> tuple[str, str] | None:
    """(client_id, secret) from HTTP Basic client authentication (RFC 6749 §2.3.1), if well formed."""
    header = req.header("authorization")
    if header[:6].lower() != "basic ":
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(user), unquote(password)


def _missing(name: str) -> AadError:
    return AadError(400, "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'.")


@dataclass
class ScopeRequest:
    """A v2 ``scope`` parameter split into what Entra cares about."""

    raw: str
    oidc: set[str] = field(default_factory=set)
    graph: dict[str, str] = field(default_factory=dict)  # short name -> form the client used
    default: bool = False
    foreign: list[str] = field(default_factory=list)  # resources other than Graph
    invalid: list[str] = field(default_factory=list)


def parse_scopes(raw: str) -> ScopeRequest:
    request = ScopeRequest(raw)
    for item in raw.split():
        if item in OIDC_SCOPES:
            request.oidc.add(item)
            continue
        resource, _, name = item.rpartition("/") if "/" in item else ("", "", item)
        if resource and resource.rstrip("/") + "/" not in {r.rstrip("/") + "/" for r in GRAPH_RESOURCES}:
            request.foreign.append(resource)
        elif name == ".default":
            request.default = True
        elif is_permission_name(name):
            request.graph[name] = item
        else:
            request.invalid.append(item)
    return request


class Entra:
    def __init__(self, registry: Registry, signer: Signer, directory: Directory) -> None:
        self.registry = registry
        self.signer = signer
        self.directory = directory

    # -- routing ---------------------------------------------------------------------------
    def route(self, req: Request) -> Response | None:
        """The answer for a login-side path, or None when the path is not one of Entra's."""
        parts = [p for p in req.path.split("/") if p]
        if len(parts) < 2:
            return None
        tenant, rest = parts[0], parts[1:]
        if rest == ["oauth2", "token"] or rest == ["oauth2", "v2.0", "token"]:
            return self.token(req, tenant, v2=len(rest) == 3)
        if rest in (["oauth2", "authorize"], ["oauth2", "v2.0", "authorize"]):
            return self.authorize(req, tenant, v1=len(rest) == 2)
        if rest in (["adminconsent"], ["v2.0", "adminconsent"]):
            return self.admin_consent(req, tenant, v2=len(rest) == 2)
        if rest in ([".well-known", "openid-configuration"], ["v2.0", ".well-known", "openid-configuration"]):
            return self.openid_configuration(req, tenant, v2=len(rest) == 3)
        if rest in (["discovery", "keys"], ["discovery", "v2.0", "keys"]):
            return self.keys(req, tenant, v2=len(rest) == 3)
        if tenant == "common" and rest == ["discovery", "instance"]:
            return self.instance_discovery(req)
        if rest in (["oauth2", "v2.0", "logout"], ["oauth2", "logout"]):
            return approles.sign_out(req, self.registry, tenant)
        return None

    def fault(self, status: int, retry_after: int | None) -> Response:
        """An injected failure on a login path, in ESTS's words."""
        error = AadError(
            status,
            "server_error" if status == 500 else "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        )
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return error.response(headers=headers)

    # -- token endpoint --------------------------------------------------------------------
    def token(self, req: Request, tenant: str, *, v2: bool) -> Response:
        correlation = req.header("client-request-id")
        try:
            if req.method != "POST":
                raise AadError(
                    400,
                    "invalid_request",
                    900561,
                    f"The endpoint only accepts POST, OPTIONS requests. Received a {req.method} request.",
                )
            body = self._token(req, tenant, v2)
        except AadError as error:
            return error.response(correlation)
        request_id = str(uuid.uuid4())
        return Response(200, body, _ests_headers(request_id), JSON_UTF8)

    def _token(self, req: Request, tenant: str, v2: bool) -> dict[str, Any]:
        form = req.form()
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if req.header("authorization")[:6].lower() == "basic ":
            basic = basic_credentials(req)
            if basic is None:
                raise AadError(401, "invalid_client", 7000215, "Invalid client secret provided.")
            client_id, secret = client_id or basic[0], secret or basic[1]
        if not self.registry.resolves(tenant):
            raise AadError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud. Check with your subscription "
                "administrator, this may happen if there are no active subscriptions for the tenant.",
            )
        grant = form.get("grant_type", "")
        if not grant:
            raise _missing("grant_type")
        if grant not in GRANTS:
            raise AadError(
                400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
            )
        if not client_id:
            raise _missing("client_id")
        app = self.registry.app(client_id)
        if app is None:
            raise AadError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self._tenant_label(tenant)}'. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in the "
                "tenant. You may have sent your authentication request to the wrong tenant.",
            )
        # appidacr: how the client authenticated, "1" a client secret, "2" a certificate (docs/microsoft-wire-facts.md).
        if form.get("client_assertion"):
            self._authenticate_assertion(req, app, form)
            acr = "2"
        else:
            self._authenticate(app, secret, grant, v2)
            acr = "1"
        if grant == "client_credentials":
            return self._client_credentials(app, form, v2, acr)
        if grant == "authorization_code":
            return self._authorization_code(req, app, form, v2, acr)
        return self._refresh(req, app, form, v2, acr)

    def _tenant_label(self, tenant: str) -> str:
        return self.registry.tenant_id if tenant.lower() in ("common", "organizations") else tenant

    def _authenticate(self, app: App, secret: str, grant: str, v2: bool) -> None:
        if not secret:
            if v2:
                raise AadError(
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                )
            raise AadError(
                400,
                "invalid_request",
                90014,
                f"'client_assertion' or 'client_secret' is required for the '{grant}' grant type.",
            )
        verdict = self.registry.check_secret(app, secret)
        if verdict == "wrong":
            raise AadError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                "client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        if verdict == "expired":
            raise AadError(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.client_id}' are expired. Visit the "
                "Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or "
                "consider using certificate credentials for added security: https://aka.ms/certCreds.",
            )

    def _authenticate_assertion(self, req: Request, app: App, form: dict[str, str]) -> None:
        """private_key_jwt: a JWT signed with a certificate registered on the app (assertions.py).

        The audience may be this tenant's v1 or v2 token endpoint, by tenant ID or domain.
        """
        segments = {self.registry.tenant_id, self.registry.domain, req.path.strip("/").split("/")[0]}
        audiences = {f"{req.base_url}/{t}/oauth2/{v}token" for t in segments for v in ("", "v2.0/")}
        now = datetime.now(timezone.utc) + timedelta(seconds=self.registry.settings.clock_offset)
        try:
            assertions.verify(app, form["client_assertion"], form.get("client_assertion_type", ""), audiences, now)
        except assertions.AssertionRefused as refused:
            raise AadError(refused.status, refused.error, refused.code, refused.message) from None

    def _unknown_resource(self, resource: str) -> AadError:
        return AadError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{self.registry.display_name}. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You might have sent your authentication request to the wrong tenant.",
        )

    def _v1_resource(self, form: dict[str, str], required: bool) -> str:
        resource = form.get("resource", "")
        if not resource:
            if required:
                raise AadError(400, "invalid_resource", 50001, "Resource identifier is not provided.")
            return GRAPH_RESOURCE
        if resource not in GRAPH_RESOURCES:
            raise self._unknown_resource(resource)
        return resource

    def _client_credentials(self, app: App, form: dict[str, str], v2: bool, acr: str) -> dict[str, Any]:
        if not v2:
            resource = self._v1_resource(form, required=True)
            token, iat, exp = self._app_token(app, GRAPH_APP_ID if resource == GRAPH_APP_ID else GRAPH_RESOURCE, acr)
            return self._v1_body(token, iat, exp, resource)
        raw = form.get("scope", "")
        if not raw:
            raise _missing("scope")
        scopes = parse_scopes(raw)
        if scopes.foreign and len(raw.split()) == 1 and raw.endswith("/.default"):
            raise self._unknown_resource(scopes.foreign[0])
        if len(raw.split()) != 1 or not scopes.default:
            raise AadError(
                400,
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' is not valid. The scope {raw} is not valid.",
            )
        token, iat, exp = self._app_token(app, GRAPH_RESOURCE, acr)
        return self._v2_body(token, iat, exp)

    def _delegated_scopes(self, app: App, requested: tuple[str, ...]) -> tuple[list[str], ScopeRequest]:
        """The Graph scopes a delegated token gets now; 65001 when one was never consented."""
        scopes = parse_scopes(" ".join(requested))
        if scopes.invalid:
            raise AadError(
                400,
                "invalid_scope",
                70011,
                "The provided value for the input parameter 'scope' is not valid. "
                f"The scope {' '.join(scopes.invalid)} is not valid.",
            )
        if scopes.foreign:
            raise self._unknown_resource(scopes.foreign[0])
        with self.registry.lock:
            consented = {s for s in app.scopes if s not in OIDC_SCOPES}
        missing = sorted(set(scopes.graph) - consented)
        if missing:
            raise AadError(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{app.client_id}' named '{app.display_name}'. Send an interactive authorization "
                "request for this user and resource.",
                suberror="consent_required",
            )
        granted = set(scopes.graph) | (consented if scopes.default or not scopes.graph else set())
        return sorted(granted), scopes

    def _authorization_code(self, req: Request, app: App, form: dict[str, str], v2: bool, acr: str) -> dict[str, Any]:
        value = form.get("code", "")
        if not value:
            raise _missing("code")
        with self.registry.lock:
            code = self.registry.codes.get(value)
            if code is None:
                raise AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
            if code.client_id != app.client_id:
                raise AadError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
            if code.used:
                raise AadError(
                    400,
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid "
                    "code or use an existing refresh token.",
                )
            if code.expires < time.time():
                raise AadError(
                    400,
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity. "
                    "Send a new interactive authorization request for this user and resource.",
                )
            redirect_uri = form.get("redirect_uri", "")
            if redirect_uri != code.redirect_uri:
                raise AadError(
                    400,
                    "invalid_grant",
                    500112,
                    f"The reply address '{redirect_uri}' does not match the reply address "
                    f"'{code.redirect_uri}' provided when requesting Authorization code.",
                )
            if code.challenge and not _pkce_ok(code.challenge, code.challenge_method, form.get("code_verifier", "")):
                raise AadError(
                    400,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                )
            granted, scopes = self._delegated_scopes(app, code.scopes)
            code.used = True
        resource = GRAPH_RESOURCE if v2 else (code.resource or self._v1_resource(form, required=False))
        return self._delegated_body(
            req,
            app,
            code.user,
            granted,
            scopes,
            v2=v2,
            v1_resource=resource,
            nonce=code.nonce,
            client_info=form.get("client_info") == "1",
            offline=code.v1 or "offline_access" in scopes.oidc,
            id_token="openid" in scopes.oidc,
            requested=code.scopes,
            acr=acr,
        )

    def _refresh(self, req: Request, app: App, form: dict[str, str], v2: bool, acr: str) -> dict[str, Any]:
        value = form.get("refresh_token", "")
        if not value:
            raise _missing("refresh_token")
        with self.registry.lock:
            grant = self.registry.refresh.get(value)
            if grant is None:
                raise AadError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
            if grant.client_id != app.client_id:
                raise AadError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
            idle = time.time() - grant.last_used
            if idle > self.registry.settings.refresh_token_lifetime:
                raise AadError(
                    400,
                    "invalid_grant",
                    700082,
                    "The refresh token has expired due to inactivity.\u00a0The token was issued on "
                    f"{grant.issued.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z and was inactive for "
                    f"{_timespan(idle)}.",
                )
            grant.last_used = time.time()
        requested = tuple(form.get("scope", "").split()) if v2 and form.get("scope") else grant.scopes
        granted, scopes = self._delegated_scopes(app, requested)
        resource = self._v1_resource(form, required=False)
        scopes.oidc |= set(grant.scopes) & OIDC_SCOPES  # a refresh keeps the sign-in's OIDC scopes
        return self._delegated_body(
            req,
            app,
            grant.user,
            granted,
            scopes,
            v2=v2,
            v1_resource=resource,
            nonce=None,
            client_info=form.get("client_info") == "1",
            offline=True,
            id_token="openid" in scopes.oidc,
            requested=requested,
            acr=acr,
        )

    # -- issuing ---------------------------------------------------------------------------
    def _times(self) -> tuple[int, int]:
        """(iat, exp): Entra back-dates iat/nbf by 5 minutes (docs/microsoft-wire-facts.md, "Token endpoints")."""
        now = int(time.time())
        return now - BACKDATED, now + self.registry.settings.token_lifetime

    def _common_claims(self, app: App, aud: str, acr: str = "1") -> dict[str, Any]:
        tid = self.registry.tenant_id
        iat, exp = self._times()
        return {
            "aud": aud,
            "iss": f"https://sts.windows.net/{tid}/",
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "aio": opaque(60),
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": acr,
            "idp": f"https://sts.windows.net/{tid}/",
            "rh": f"0.A{opaque(48)}.",
            "tenant_region_scope": "EU",
            "tid": tid,
            "uti": opaque(16),
            "ver": "1.0",
            "xms_tcdt": int(self.registry.created.timestamp()),
        }

    def _app_token(self, app: App, aud: str, acr: str = "1") -> tuple[str, int, int]:
        claims = self._common_claims(app, aud, acr)
        with self.registry.lock:
            roles = sorted(app.roles)
        claims.update({"idtyp": "app", "oid": app.sp_id, "sub": app.sp_id, "wids": [WIDS_DEFAULT]})
        if roles:
            claims["roles"] = roles
        return self.signer.sign(dict(sorted(claims.items()))), claims["iat"], claims["exp"]

    def _user_token(self, app: App, user: SignedInUser, aud: str, scp: str, acr: str = "1") -> tuple[str, int, int]:
        claims = self._common_claims(app, aud, acr)
        claims.update(
            {
                "acct": 0,
                "acr": "1",
                "amr": ["pwd"],
                "family_name": user.surname,
                "given_name": user.given_name,
                "idtyp": "user",
                "ipaddr": "127.0.0.1",
                "name": user.name,
                "oid": user.id,
                "platf": "3",
                "puid": hashlib.sha256(user.id.encode()).hexdigest()[:16].upper(),
                "scp": scp,
                "sid": str(uuid.uuid5(uuid.NAMESPACE_URL, user.id + app.client_id)),
                "sub": _pairwise(app.client_id, user.id),
                "unique_name": user.upn,
                "upn": user.upn,
                "wids": ["b79fbf4d-3ef9-4689-8143-76b194e85509"],
            }
        )
        return self.signer.sign(dict(sorted(claims.items()))), claims["iat"], claims["exp"]

    def _id_token(self, req: Request, app: App, user: SignedInUser, nonce: str | None, v2: bool, email: bool) -> str:
        tid = self.registry.tenant_id
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": app.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.name,
            "oid": user.id,
            "sub": _pairwise(app.client_id, user.id),
            "tid": tid,
            "uti": opaque(16),
        }
        if v2:
            claims.update(
                {
                    "iss": f"{req.base_url}/{tid}/v2.0",
                    "preferred_username": user.upn,
                    "rh": f"0.A{opaque(48)}.",
                    "ver": "2.0",
                }
            )
            if email:
                claims["email"] = user.upn
        else:
            claims.update(
                {
                    "iss": f"https://sts.windows.net/{tid}/",
                    "amr": ["pwd"],
                    "family_name": user.surname,
                    "given_name": user.given_name,
                    "unique_name": user.upn,
                    "upn": user.upn,
                    "ver": "1.0",
                }
            )
        if nonce:
            claims["nonce"] = nonce
        claims.update(approles.token_claims(self.registry, self.directory, app, user.id))
        claims.update(approles.ID_TOKEN_OVERRIDES.get() or {})
        return self.signer.sign(claims)

    def _v2_body(self, token: str, iat: int, exp: int, **extra: Any) -> dict[str, Any]:
        expires_in = _expires_in(iat, exp)
        return {
            "token_type": "Bearer",
            **extra,
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": token,
        }

    def _v1_body(self, token: str, iat: int, exp: int, resource: str, **extra: Any) -> dict[str, Any]:
        expires_in = str(_expires_in(iat, exp))
        return {
            "token_type": "Bearer",
            **extra,
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "expires_on": str(exp),
            "not_before": str(iat),
            "resource": resource,
            "access_token": token,
        }

    def _delegated_body(
        self,
        req: Request,
        app: App,
        user: SignedInUser,
        granted: list[str],
        scopes: ScopeRequest,
        *,
        v2: bool,
        v1_resource: str,
        nonce: str | None,
        client_info: bool,
        offline: bool,
        id_token: bool,
        requested: tuple[str, ...],
        acr: str = "1",
    ) -> dict[str, Any]:
        oidc_in_scp = sorted(scopes.oidc & {"openid", "profile", "email"})
        scp = " ".join(granted + oidc_in_scp) or "openid"
        aud = GRAPH_APP_ID if v2 else (GRAPH_APP_ID if v1_resource == GRAPH_APP_ID else GRAPH_RESOURCE)
        token, iat, exp = self._user_token(app, user, aud, scp, acr)
        extra: dict[str, Any] = {}
        if v2:
            shown = [scopes.graph.get(s, f"{GRAPH_RESOURCE}/{s}") for s in granted]
            extra["scope"] = " ".join(shown + sorted(scopes.oidc))
        else:
            extra["scope"] = " ".join(granted)
        tail: dict[str, Any] = {}
        if offline:
            tail["refresh_token"] = self.registry.new_refresh_token(app.client_id, user, requested)
        if id_token:
            tail["id_token"] = self._id_token(req, app, user, nonce, v2, "email" in scopes.oidc)
        if client_info:
            tail["client_info"] = b64url(json.dumps({"uid": user.id, "utid": self.registry.tenant_id}).encode())
        if v2:
            return {**self._v2_body(token, iat, exp, **extra), **tail}
        return {**self._v1_body(token, iat, exp, v1_resource, **extra), **tail}

    # -- authorize -------------------------------------------------------------------------
    def authorize(self, req: Request, tenant: str, *, v1: bool) -> Response:
        params = req.query if req.method == "GET" else req.form()
        checked = self._page_client(tenant, params)
        if isinstance(checked, Response):
            return checked
        app, redirect_uri = checked
        mode = params.get("response_mode") or "query"
        state = params.get("state")

        def fail(error: str, description: str) -> Response:
            return _redirect(redirect_uri, {"error": error, "error_description": description, "state": state}, mode)

        if params.get("response_type", "") != "code":
            return fail(
                "unsupported_response_type",
                f"AADSTS70005: response_type '{params.get('response_type', '')}' is not enabled for the application.",
            )
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or "plain"
        if challenge and method not in ("S256", "plain"):
            return fail("invalid_request", f"AADSTS501491: Invalid code_challenge_method '{method}'.")
        raw_scope = params.get("scope", "")
        if v1:
            resource = params.get("resource") or GRAPH_RESOURCE
            if resource not in GRAPH_RESOURCES:
                return fail(
                    "invalid_resource",
                    f"AADSTS500011: The resource principal named {resource} "
                    f"was not found in the tenant named {self.registry.display_name}.",
                )
            scopes = parse_scopes(raw_scope or "openid")
        else:
            if not raw_scope:
                return fail(
                    "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'scope'."
                )
            resource = None
            scopes = parse_scopes(raw_scope)
            if scopes.invalid or scopes.foreign:
                return fail(
                    "invalid_scope",
                    f"AADSTS70011: The provided value for the input parameter "
                    f"'scope' is not valid. The scope {raw_scope} is not valid.",
                )
        if req.method == "GET":
            return self._sign_in_page(req, app, params, scopes, v1)
        if params.get("action") == "cancel":
            return fail("access_denied", "AADSTS65004: User declined to consent to access the app.")
        found = self.directory.get_user(params.get("user", ""))
        if found is None:
            return self._sign_in_page(req, app, params, scopes, v1, problem="Choose one of the listed users.")
        user = _signed_in(found)
        code = self.registry.new_code(
            AuthCode(
                client_id=app.client_id,
                redirect_uri=redirect_uri,
                user=user,
                scopes=(
                    tuple(raw_scope.split())
                    if not v1  # v1 asks for a resource: every consented scope
                    else (f"{GRAPH_RESOURCE}/.default", *sorted(scopes.oidc))
                ),
                resource=resource,
                challenge=challenge,
                challenge_method=method,
                nonce=params.get("nonce") or None,
                v1=v1,
                expires=time.time() + self.registry.settings.code_lifetime,
            )
        )
        answer: dict[str, str | None] = {"code": code, "state": state}
        if v1:
            answer["session_state"] = str(uuid.uuid5(uuid.NAMESPACE_URL, user.id))
        return _redirect(redirect_uri, answer, mode)

    def _page_client(self, tenant: str, params: dict[str, str]) -> tuple[App, str] | Response:
        """The app and its registered redirect URI for a browser page, else Entra's error page."""
        if not self.registry.resolves(tenant):
            return _error_page(90002, f"Tenant '{tenant}' not found.")
        client_id = params.get("client_id", "")
        app = self.registry.app(client_id) if client_id else None
        if app is None:
            return _error_page(
                700016,
                f"Application with identifier '{client_id}' was not found in the "
                f"directory '{self._tenant_label(tenant)}'.",
            )
        redirect_uri = params.get("redirect_uri") or (app.redirect_uris[0] if app.redirect_uris else "")
        if redirect_uri not in app.redirect_uris:
            return _error_page(
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not "
                "match the redirect URIs configured for the application "
                f"'{app.client_id}'. Make sure the redirect URI sent in the request "
                "matches one added to your application in the Azure portal.",
            )
        return app, redirect_uri

    def _sign_in_page(
        self, req: Request, app: App, params: dict[str, str], scopes: ScopeRequest, v1: bool, problem: str = ""
    ) -> Response:
        with self.registry.lock:
            consented = set(app.scopes)
        wanted = sorted(consented - OIDC_SCOPES) if scopes.default or v1 else sorted(scopes.graph)
        hint = params.get("login_hint", "").lower()
        users = approles.sign_in_candidates(self.directory, app, 5, hint)
        rows = []
        for i, user in enumerate(users):
            checked = (hint and hint in (user.get("userPrincipalName", "").lower(), user.get("id"))) or (
                not hint and i == 0
            )
            rows.append(
                f'<label class="user"><input type="radio" name="user" value="{html.escape(user["id"])}"'
                f"{' checked' if checked else ''}> <b>{html.escape(user.get('displayName') or '')}</b>"
                f" <span>{html.escape(user.get('userPrincipalName') or '')}</span>"
                f"{approles.role_hint(app, user['id'])}</label>"
            )
        hidden = _hidden_fields({k: v for k, v in params.items() if k not in ("user", "action")})
        perms = (
            "".join(
                f"<li>{html.escape(s)}{'' if s in consented else ' <em>(not consented by an admin: redeeming the code will fail with AADSTS65001)</em>'}</li>"
                for s in wanted
            )
            or "<li>Sign you in and read your profile</li>"
        )
        body = (
            f"<h1>Sign in to {html.escape(app.display_name)}</h1>"
            f'<p class="muted">Tenant {html.escape(self.registry.domain)} &middot; '
            f"{'v1' if v1 else 'v2'} authorize endpoint</p>"
            + (f'<p class="error">{html.escape(problem)}</p>' if problem else "")
            + f'<form method="post" action="{html.escape(req.path)}">{hidden}'
            f"<h2>Pick an account</h2>{''.join(rows)}"
            f"<h2>This app would like to</h2><ul>{perms}</ul>"
            '<button type="submit" name="action" value="accept">Accept</button> '
            '<button type="submit" name="action" value="cancel" class="secondary">Cancel</button></form>'
        )
        return Response(400 if problem else 200, page("Sign in to your account", body), {}, "text/html; charset=utf-8")

    # -- admin consent ---------------------------------------------------------------------
    def admin_consent(self, req: Request, tenant: str, *, v2: bool) -> Response:
        params = req.query if req.method == "GET" else req.form()
        if v2 and tenant.lower() == "common":
            return _error_page(
                90130, "The v2.0 admin consent endpoint does not support /common; use /organizations or the tenant."
            )
        checked = self._page_client(tenant, params)
        if isinstance(checked, Response):
            return checked
        app, redirect_uri = checked
        state = params.get("state")
        scope = params.get("scope") or f"{GRAPH_RESOURCE}/.default"
        if req.method == "GET":
            with self.registry.lock:
                rows = (
                    "".join(
                        f"<li>{html.escape(r)}{' <em>(already granted)</em>' if r in app.roles else ''}</li>"
                        for r in sorted(app.requested_roles)
                    )
                    or "<li>(no application permissions requested)</li>"
                )
            hidden = _hidden_fields({k: v for k, v in params.items() if k != "action"})
            body = (
                f"<h1>Permissions requested</h1><p><b>{html.escape(app.display_name)}</b> "
                f'<span class="muted">{html.escape(app.client_id)}</span></p>'
                "<p>Accepting grants these application permissions for the whole organisation "
                f"({html.escape(self.registry.domain)}):</p><ul>{rows}</ul>"
                f'<form method="post" action="{html.escape(req.path)}">{hidden}'
                '<button type="submit" name="action" value="accept">Accept</button> '
                '<button type="submit" name="action" value="cancel" class="secondary">Cancel</button></form>'
            )
            return Response(200, page("Permissions requested", body), {}, "text/html; charset=utf-8")
        if params.get("action") == "cancel":
            if v2:
                trace, corr = uuid.uuid4(), uuid.uuid4()
                stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
                return _redirect(
                    redirect_uri,
                    {
                        "admin_consent": "True",
                        "error": "consent_required",
                        "error_description": "AADSTS65004: The resource owner or authorization server denied the "
                        f"request.\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\n"
                        f"Timestamp: {stamp}",
                        "state": state,
                    },
                    "query",
                )
            return _redirect(
                redirect_uri,
                {"error": "permission_denied", "error_description": "The admin canceled the request", "state": state},
                "query",
            )
        with self.registry.lock:
            requested = sorted(app.requested_roles)
        self.registry.grant(app, requested, [])
        answer: dict[str, str | None] = {"admin_consent": "True", "tenant": self.registry.tenant_id}
        if v2:
            answer["scope"] = scope
        answer["state"] = state
        return _redirect(redirect_uri, answer, "query")

    # -- discovery -------------------------------------------------------------------------
    def _discovery_headers(self) -> dict[str, str]:
        return {
            **_ests_headers(str(uuid.uuid4())),
            "Cache-Control": "max-age=86400, private",
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, OPTIONS",
        }

    def _unknown_tenant(self, tenant: str) -> Response:
        return AadError(
            400,
            "invalid_tenant",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, "
            "this may happen if there are no active subscriptions for the tenant.",
        ).response()

    def openid_configuration(self, req: Request, tenant: str, *, v2: bool) -> Response:
        if not self.registry.resolves(tenant):
            return self._unknown_tenant(tenant)
        tid, base = self.registry.tenant_id, req.base_url
        seg = tenant.lower() if tenant.lower() in ("common", "organizations") else tid
        shared = {
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        region = {
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        if v2:
            doc: dict[str, Any] = {
                "token_endpoint": f"{base}/{seg}/oauth2/v2.0/token",
                **shared,
                "jwks_uri": f"{base}/{seg}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/{tid}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/{seg}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/{seg}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/{seg}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "cloud_instance_name",
                    "cloud_instance_host_name",
                    "cloud_graph_host_name",
                    "msgraph_host",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "acr",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "at_hash",
                    "c_hash",
                    "email",
                ],
                "kerberos_endpoint": f"{base}/{seg}/kerberos",
                **region,
            }
        else:
            doc = {
                "token_endpoint": f"{base}/{seg}/oauth2/token",
                **shared,
                "jwks_uri": f"{base}/common/discovery/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                "scopes_supported": ["openid"],
                "issuer": f"https://sts.windows.net/{tid}/",
                "microsoft_multi_refresh_token": True,
                "authorization_endpoint": f"{base}/{seg}/oauth2/authorize",
                "device_authorization_endpoint": f"{base}/{seg}/oauth2/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/{seg}/oauth2/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "cloud_instance_name",
                    "cloud_instance_host_name",
                    "cloud_graph_host_name",
                    "msgraph_host",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "acr",
                    "amr",
                    "nonce",
                    "email",
                    "given_name",
                    "family_name",
                    "nickname",
                ],
                "check_session_iframe": f"{base}/{seg}/oauth2/checksession",
                "userinfo_endpoint": f"{base}/{seg}/openid/userinfo",
                "kerberos_endpoint": f"{base}/{seg}/kerberos",
                **region,
            }
        return Response(200, doc, self._discovery_headers(), JSON_UTF8)

    def keys(self, req: Request, tenant: str, *, v2: bool) -> Response:
        if not self.registry.resolves(tenant):
            return self._unknown_tenant(tenant)
        issuer = f"{req.base_url}/{self.registry.tenant_id}/v2.0" if v2 else None
        return Response(200, self.signer.jwks(issuer), self._discovery_headers(), JSON_UTF8)

    def instance_discovery(self, req: Request) -> Response:
        endpoint = req.query.get("authorization_endpoint", "")
        segments = [p for p in urlsplit(endpoint).path.split("/") if p]
        tenant = segments[0] if segments else "common"
        host = urlsplit(req.base_url).netloc
        body = {
            "tenant_discovery_endpoint": f"{req.base_url}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
        return Response(200, body, self._discovery_headers(), JSON_UTF8)


def _pkce_ok(challenge: str, method: str, verifier: str) -> bool:
    if not verifier:
        return False
    if method == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        return secrets.compare_digest(computed, challenge)
    return secrets.compare_digest(verifier, challenge)


def _pairwise(client_id: str, user_id: str) -> str:
    return b64url(hashlib.sha256(f"{client_id}:{user_id}".encode()).digest())[:43]


def _timespan(seconds: float) -> str:
    """.NET TimeSpan text, as ESTS prints it: ``90.00:00:00``."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}.{hours:02d}:{minutes:02d}:{secs:02d}" if days else f"{hours:02d}:{minutes:02d}:{secs:02d}"


def _signed_in(user: dict[str, Any]) -> SignedInUser:
    name = user.get("displayName") or user.get("userPrincipalName") or user["id"]
    return SignedInUser(
        id=user["id"],
        upn=user.get("userPrincipalName") or "",
        name=name,
        given_name=user.get("givenName") or name.split(" ")[0],
        surname=user.get("surname") or (name.split(" ")[-1] if " " in name else ""),
    )


def _hidden_fields(values: dict[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in values.items())


def _redirect(uri: str, params: dict[str, str | None], mode: str) -> Response:
    values = {k: v for k, v in params.items() if v is not None}
    if mode == "form_post":
        fields = _hidden_fields(values)
        body = (
            f'<html><head><title>Working...</title></head><body onload="document.forms[0].submit()">'
            f'<form method="POST" action="{html.escape(uri)}">{fields}'
            "<noscript><p>Script is disabled. Click Submit to continue.</p>"
            '<input type="submit" value="Submit"></noscript></form></body></html>'
        )
        return Response(200, body, {"Cache-Control": "no-store, no-cache"}, "text/html; charset=utf-8")
    separator = "#" if mode == "fragment" else ("&" if "?" in uri else "?")
    return Response(
        302,
        b"",
        {"Location": uri + separator + urlencode(values), "Cache-Control": "no-store, no-cache"},
        "text/html; charset=utf-8",
    )


def _error_page(code: int, message: str) -> Response:
    """Entra's 'Sorry, but we're having trouble signing you in' page: never a redirect."""
    body = (
        "<h1>Sorry, but we're having trouble signing you in.</h1>"
        f'<p class="error">AADSTS{code}: {html.escape(message)}</p>'
        f'<p class="muted">Request Id: {uuid.uuid4()}</p>'
    )
    return Response(400, page("Sign in to your account", body), {}, "text/html; charset=utf-8")
