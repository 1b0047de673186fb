"""Certificate credentials: an app proves itself with a JWT signed by a certificate it registered.

Instead of ``client_secret`` the token request carries ``client_assertion_type`` =
``urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and ``client_assertion``, a JWT whose
header names the certificate (``x5t#S256``, or ``x5t`` for the older SHA-1 form; PS256 or RS256)
and whose claims are ``aud`` = the token endpoint, ``iss`` = ``sub`` = the client id, ``jti``,
``nbf``/``exp`` (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials).
Refusals are ``invalid_client`` (401) with AADSTS700027 (signature or key), 700021 (iss/sub),
700023 (audience) and 700024 (time range), as listed in
https://learn.microsoft.com/en-us/azure/developer/java/sdk/troubleshooting-authentication-service-principal;
the bracketed "[Reason - …]" texts follow real answers but their exact wording is a guess.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

if TYPE_CHECKING:
    from .tenants import App, Registry

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Certificate:
    """A registered public certificate (Graph's keyCredential)."""

    key_id: str
    thumbprint: str          # SHA-1, upper-case hex, as the portal shows it
    x5t: str
    x5t_s256: str
    public_key: Any
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def from_pem(cls, pem: str) -> Certificate:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        der = cert.public_bytes(Encoding.DER)
        return cls(key_id=str(uuid.uuid4()), thumbprint=hashlib.sha1(der).hexdigest().upper(),
                   x5t=_b64url(hashlib.sha1(der).digest()), x5t_s256=_b64url(hashlib.sha256(der).digest()),
                   public_key=cert.public_key(), start=cert.not_valid_before_utc, end=cert.not_valid_after_utc)

    def public(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "thumbprint": self.thumbprint,
                "start_date_time": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end_date_time": self.end.strftime("%Y-%m-%dT%H:%M:%SZ")}


def register(registry: Registry, app: App, pem: str) -> Certificate:
    """Upload a certificate to the app (Certificates & secrets > Certificates); ValueError when unreadable."""
    try:
        certificate = Certificate.from_pem(pem)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise ValueError("certificate must be a PEM-encoded X.509 certificate") from None
    with registry.lock:
        app.certificates.append(certificate)
    return certificate


def token_urls(req: Any, registry: Registry, v2: bool) -> set[str]:
    """The audiences an assertion may name: the endpoint called, by tenant id or domain."""
    return {req.base_url + req.path, *(f"{req.base_url}/{t}/oauth2/{'v2.0/' if v2 else ''}token"
                                       for t in (registry.tenant_id, registry.domain))}


def problem(registry: Registry, app: App, form: dict[str, str],
            token_urls: set[str]) -> tuple[int, str, int, str] | None:
    """(status, error, AADSTS code, message) when the assertion does not authenticate ``app``, else None."""
    found = _problem(registry, app, form, token_urls)
    if found is None:
        return None
    code, message = found
    return (400, "invalid_request", code, message) if code == 50027 else (401, "invalid_client", code, message)


def _problem(registry: Registry, app: App, form: dict[str, str], token_urls: set[str]) -> tuple[int, str] | None:
    assertion = form.get("client_assertion", "")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return 50027, "JWT token is invalid or malformed (client_assertion_type must be " + ASSERTION_TYPE + ")."
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return 50027, "JWT token is invalid or malformed."
    with registry.lock:
        certificates = list(app.certificates)
    # MSAL pads its thumbprints with '='; Entra matches them either way.
    s256, sha1 = (str(header.get(k) or "").rstrip("=") for k in ("x5t#S256", "x5t"))
    certificate = next((c for c in certificates if (s256 and s256 == c.x5t_s256) or (sha1 and sha1 == c.x5t)), None)
    used = header.get("x5t#S256") or header.get("x5t") or "none"
    if certificate is None:
        return 700027, ("Client assertion contains an invalid signature. [Reason - The key was not found., "
                        f"Thumbprint of key used by client: '{str(used)[:64]}', Please visit the Azure Portal, "
                        "Graph Explorer or directly use MS Graph to see configured keys for app Id "
                        f"'{app.client_id}'.]")
    now = time.time()
    if certificate.end.timestamp() < now:
        return 700027, ("Client assertion contains an invalid signature. [Reason - The key used is expired., "
                        f"Thumbprint of key used by client: '{certificate.thumbprint}']")
    try:
        jwt.decode(assertion, certificate.public_key, algorithms=["PS256", "RS256"],
                   options={"verify_exp": False, "verify_nbf": False, "verify_aud": False, "verify_iat": False})
    except jwt.PyJWTError:
        return 700027, ("Client assertion contains an invalid signature. [Reason - The signature does not "
                        f"match the key., Thumbprint of key used by client: '{certificate.thumbprint}']")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
    if str(claims.get("aud", "")).rstrip("/").lower() not in {u.lower() for u in token_urls}:
        return 700023, "Client assertion audience claim does not match Realm issuer."
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, (int, float)) or exp + CLOCK_SKEW < now or (
            isinstance(nbf, (int, float)) and nbf - CLOCK_SKEW > now):
        return 700024, "Client assertion is not within its valid time range."
    return None
