"""The authentication backend for Sign in with Microsoft: mozilla-django-oidc, set up for Entra ID.

The library runs the authorization-code flow (state and nonce in the session, PKCE S256), picks
the signing key from the tenant's published JWKS by ``kid`` and checks the signature and the
nonce. What it leaves out is added here: the ID token's issuer, audience, tenant and lifetime are
validated by PyJWT in ``get_payload_data`` (the library checks none of issuer and audience), the
person is matched by ``tid`` + ``oid`` instead of e-mail, the claims come from the ID token
(Entra's userinfo endpoint carries no roles or groups), and the token endpoint and the keys are
fetched through ``outbound`` (allowed hosts, the configured CA, plain-word errors).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import jwt
from django.core.exceptions import SuspiciousOperation
from django.views.decorators.debug import sensitive_variables
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from connections.policy import outbound_policy
from microsoft import outbound, tokenclient

from . import mapping
from .certificate import ClientCertificate
from .config import EntraSignIn
from .refusals import SignInRefused

EXCHANGE_TIMEOUT = 10.0  # the browser waits on the code redemption and the keys
CLOCK_SKEW_SECONDS = 120


def library_setting(name: str, *default: Any) -> Any:
    """mozilla-django-oidc's settings, derived from ours (the Entra profile is not configuration)."""
    config = EntraSignIn.from_settings()
    derived = {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": config.authorize_url,
        "OIDC_OP_TOKEN_ENDPOINT": config.token_url,
        "OIDC_OP_JWKS_ENDPOINT": config.jwks_url,
        "OIDC_OP_USER_ENDPOINT": None,  # claims come from the ID token
        "OIDC_RP_CLIENT_ID": config.client_id,
        "OIDC_RP_CLIENT_SECRET": config.client_secret,
        "OIDC_RP_SIGN_ALGO": "RS256",  # Entra signs ID tokens with RS256 only
        "OIDC_RP_SCOPES": "openid profile",
        "OIDC_USE_NONCE": True,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_AUTHENTICATION_CALLBACK_URL": "sso:callback",
        "OIDC_AUTH_REQUEST_EXTRA_PARAMS": {"response_mode": "query", "prompt": "select_account"},
        "OIDC_CREATE_USER": True,
        "OIDC_STORE_ACCESS_TOKEN": False,
        "OIDC_STORE_ID_TOKEN": False,
    }
    if name in derived:
        return derived[name]
    return import_from_settings(name, *default)


def _policy() -> outbound.OutboundPolicy:
    return replace(outbound_policy(), timeout=EXCHANGE_TIMEOUT, retries=1)


class EntraBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(library_setting)

    def authenticate(self, request: Any, **kwargs: Any) -> Any:
        if not EntraSignIn.from_settings().enabled:
            return None
        return super().authenticate(request, **kwargs)

    # -- talking to Entra: through the one outbound door ----------------------------------
    @sensitive_variables()  # the debug 500 page must not show the code, secret or tokens
    def get_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        config = EntraSignIn.from_settings()
        secret, assertion = payload.get("client_secret"), None
        if config.client_certificate_file:  # the certificate replaces the secret
            try:
                certificate = ClientCertificate.load(config.client_certificate_file)
            except ValueError as error:
                raise SignInRefused("certificate", f"{error} Tell your graphconn administrator.", status=502) from None
            secret, assertion = None, certificate.assertion(payload["client_id"], self.OIDC_OP_TOKEN_ENDPOINT)
        request = tokenclient.TokenRequest(
            token_url=self.OIDC_OP_TOKEN_ENDPOINT,
            client_id=payload["client_id"],
            client_secret=secret,
            client_assertion=assertion,
            grant_type="authorization_code",
            code=payload["code"],
            redirect_uri=payload["redirect_uri"],
            code_verifier=payload.get("code_verifier"),
        )
        try:
            result = tokenclient.request_token(request, _policy())
        except tokenclient.TokenError as error:
            raise SignInRefused.token_endpoint(error) from None
        if not result.id_token:
            raise SignInRefused(
                "no_id_token",
                "Microsoft's answer held no identity token (id_token), so "
                "nobody can be signed in. The app registration must allow the openid scope.",
            )
        return {"id_token": result.id_token, "access_token": result.access_token}

    def retrieve_matching_jwk(self, token: str) -> jwt.PyJWK:
        """The tenant's published key with the token's ``kid`` (and ``alg`` when the key names one)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SignInRefused("malformed", "The identity token is not a readable JWT.") from None
        try:
            response = outbound.request("GET", self.OIDC_OP_JWKS_ENDPOINT, policy=_policy())
            body = response.json() if response.status_code == 200 else None
        except outbound.OutboundError as error:
            raise SignInRefused(
                "unreachable", f"The tenant's signing keys could not be read: {error.message}"
            ) from None
        except ValueError:
            body = None
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list):
            raise SignInRefused(
                "no_keys",
                "The tenant's signing keys (JWKS) could not be read from "
                f"{outbound.safe_url(self.OIDC_OP_JWKS_ENDPOINT)}.",
            )
        for key in keys:
            if not isinstance(key, dict) or key.get("kid") != header.get("kid"):
                continue
            if key.get("alg", header.get("alg")) == header.get("alg"):
                try:
                    return jwt.PyJWK(key)
                except jwt.PyJWTError:
                    break
        raise SignInRefused(
            "signature",
            "The identity token is signed with a key the tenant does not publish, "
            "so it cannot be trusted. Nobody was signed in.",
        )

    # -- the ID token: signature, issuer, audience, tenant, lifetime ------------------------
    @sensitive_variables("token")
    def get_payload_data(self, token: str, key: Any) -> dict[str, Any]:
        config = EntraSignIn.from_settings()
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise SignInRefused("malformed", "The identity token is not a readable JWT.") from None
        tid = str(unverified.get("tid") or "").lower()
        if tid not in config.allowed_tenants:
            raise SignInRefused.other_tenant(tid, config)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=config.client_id,
                issuer=config.issuer(tid),
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss", "tid", "oid"]},
            )
        except jwt.InvalidSignatureError:
            raise SignInRefused(
                "signature",
                "The identity token's signature does not match the tenant's "
                "published keys, so it cannot be trusted. Nobody was signed in.",
            ) from None
        except jwt.ExpiredSignatureError:
            raise SignInRefused(
                "expired",
                "The identity token Microsoft sent has expired. Sign in again; if "
                "this keeps happening, check this server's clock.",
            ) from None
        except jwt.ImmatureSignatureError:
            raise SignInRefused(
                "not_yet_valid", "The identity token is not valid yet; check this server's clock, then sign in again."
            ) from None
        except jwt.InvalidAudienceError:
            raise SignInRefused(
                "audience",
                "The identity token was issued to another application, not to "
                f"graphconn (audience {unverified.get('aud')!s:.60}, expected {config.client_id}). "
                "Nobody was signed in.",
            ) from None
        except jwt.InvalidIssuerError:
            raise SignInRefused(
                "issuer",
                f"The identity token was not issued by {config.issuer(tid)} (its "
                f"issuer is {unverified.get('iss')!s:.100}). Nobody was signed in.",
            ) from None
        except jwt.MissingRequiredClaimError as error:
            raise SignInRefused(
                "claims",
                f"The identity token lacks the {error.claim} claim, so the "
                "person cannot be identified. Nobody was signed in.",
            ) from None
        except jwt.PyJWTError:
            raise SignInRefused(
                "malformed", "The identity token could not be verified. Nobody was signed in."
            ) from None

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return super().verify_token(token, **kwargs)
        except SignInRefused:
            raise
        except SuspiciousOperation:
            # Keys and payload are checked above (SignInRefused); what the library itself still
            # refuses after them is a nonce that differs from the one this sign-in sent.
            raise SignInRefused(
                "nonce",
                "The identity token does not carry the one-time value (nonce) this "
                "sign-in sent: it belongs to another sign-in and may be replayed. Nobody was "
                "signed in. Start again with Sign in with Microsoft.",
            ) from None

    def get_user(self, user_id: Any) -> Any:
        """The session's user, unless an admin has switched the account off since (as ModelBackend)."""
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None

    # -- who the person is -----------------------------------------------------------------
    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        if "_claim_names" in claims and "groups" in (claims.get("_claim_names") or {}):
            raise SignInRefused(
                "groups_overage",
                "Your account is in more groups than a token can list, so "
                "graphconn cannot see which of them give you access. Ask your administrator "
                "to give you graphconn's access through an app role instead of a group.",
            )
        for name in ("oid", "tid"):
            if not claims.get(name):
                raise SignInRefused(
                    "claims",
                    f"The identity token lacks the {name} claim, so the person cannot "
                    "be identified. Nobody was signed in.",
                )
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return mapping.users_for(mapping.Person.from_claims(claims))

    def describe_user_by_claims(self, claims: dict[str, Any]) -> str:
        return f"Entra object id {claims.get('oid')} in tenant {claims.get('tid')}"

    def create_user(self, claims: dict[str, Any]) -> Any:
        return mapping.create_user(mapping.Person.from_claims(claims))

    def update_user(self, user: Any, claims: dict[str, Any]) -> Any:
        return mapping.update_user(user, mapping.Person.from_claims(claims))
