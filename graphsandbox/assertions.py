"""Client assertions (``private_key_jwt``): how Entra checks a JWT signed with an app's certificate.

Format: https://learn.microsoft.com/entra/identity-platform/certificate-credentials — header
``alg`` PS256 with ``x5t#S256`` (current) or RS256 with ``x5t`` (older), claims ``aud`` = the
token endpoint, ``iss`` = ``sub`` = the client ID, ``jti``, ``nbf``, ``exp``.

Answers follow what Entra sends for each fault:

- unknown certificate or a bad signature: ``AADSTS700027`` "Client assertion contains an invalid
  signature" with the reason and the thumbprint the client used (seen in public MSAL and SDK issue
  threads; the reason texts below are Entra's as reported there);
- a certificate whose RSA key is shorter than 2048 bits: ``AADSTS700027`` "RSA key size 1024 is less
  than the minimum required 2048 bits" (as reported in silverhack/monkey365#183);
- outside its time range: ``AADSTS700024`` "Client assertion is not within its valid time range"
  with the current time and the assertion's range;
- a wrong ``aud``, ``iss`` or ``sub``: Entra's exact code is not documented. GUESS: the sandbox answers
  ``AADSTS50027`` ("JWT token is invalid or malformed") with the offending claim named in the reason.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

if TYPE_CHECKING:
    from .tenants import App, KeyCredential

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "PS256")
DOCS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"
# GUESS: how far Entra's clock and the client's may disagree before AADSTS700024 (not documented).
CLOCK_SKEW = dt.timedelta(minutes=5)
MIN_RSA_BITS = 2048  # Entra refuses assertions signed with a shorter RSA key


@dataclass
class AssertionRefused(Exception):
    status: int
    error: str
    code: int
    message: str


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _when(value: dt.datetime) -> str:
    """.NET's round-trip time format, as ESTS prints it in AADSTS700024."""
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _malformed(reason: str) -> AssertionRefused:
    return AssertionRefused(401, "invalid_client", 50027, f"JWT token is invalid or malformed. [Reason - {reason}]")


def _key_problem(app: App, reason: str, thumbprint: str, found: KeyCredential | None = None) -> AssertionRefused:
    found_text = (
        f", Found key 'Start={found.start:%m/%d/%Y %H:%M:%S}, End={found.end:%m/%d/%Y %H:%M:%S}'" if found else ""
    )
    return AssertionRefused(
        401,
        "invalid_client",
        700027,
        f"Client assertion contains an invalid signature. [Reason - {reason}, Thumbprint of key used by "
        f"client: '{thumbprint}'{found_text}, Please visit the Azure Portal, Graph Explorer or directly use "
        f"MS Graph to see configured keys for app Id '{app.client_id}'. Review the documentation at {DOCS}]",
    )


def verify(app: App, assertion: str, assertion_type: str, audiences: set[str], now: dt.datetime) -> KeyCredential:
    """The app's certificate that signed ``assertion``, or ``AssertionRefused`` in Entra's words."""
    if not assertion_type:
        raise AssertionRefused(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_assertion_type'.",
        )
    if assertion_type != ASSERTION_TYPE:
        # GUESS: the code for a wrong assertion type is not documented.
        raise AssertionRefused(
            400, "invalid_request", 700004, f"Client assertion type is invalid. Expected '{ASSERTION_TYPE}'."
        )
    parts = assertion.split(".")
    if len(parts) != 3:
        raise _malformed("the client assertion is not a signed JWT (three dot-separated parts)")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _malformed("the client assertion's header or claims are not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _malformed("the client assertion's header or claims are not JSON objects")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _malformed(f"the signing algorithm '{alg}' is not supported; use PS256 or RS256")
    credential, thumbprint = _find_credential(app, header)
    if credential is None:
        raise _key_problem(app, "The key was not found.", thumbprint)
    bits = getattr(credential.public_key, "key_size", MIN_RSA_BITS)
    if bits < MIN_RSA_BITS:
        raise AssertionRefused(
            401, "invalid_client", 700027, f"RSA key size {bits} is less than the minimum required {MIN_RSA_BITS} bits."
        )
    if credential.end <= now:
        # GUESS: Entra refuses an expired registered certificate with this reason text.
        raise _key_problem(app, "The key used is expired.", thumbprint, credential)
    try:
        jwt.decode(
            assertion,
            credential.public_key,
            algorithms=[alg],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise _key_problem(
            app, "The provided signature value did not match the expected signature value.", thumbprint, credential
        ) from None
    except jwt.PyJWTError:
        raise _malformed("the client assertion could not be read as a JWT") from None
    _check_time(claims, now)
    if claims.get("aud") not in audiences:
        raise _malformed(
            f"The audience claim '{claims.get('aud')}' of the client assertion is not this tenant's token endpoint"
        )
    for name in ("iss", "sub"):
        if str(claims.get(name, "")).lower() != app.client_id:
            raise _malformed(f"The '{name}' claim of the client assertion must be the client ID '{app.client_id}'")
    return credential


def _find_credential(app: App, header: dict[str, Any]) -> tuple[KeyCredential | None, str]:
    """The registered certificate named by ``x5t#S256`` (preferred) or ``x5t``, and its thumbprint text."""
    for name, attr in (("x5t#S256", "sha256"), ("x5t", "sha1")):
        value = header.get(name)
        if not isinstance(value, str) or not value:
            continue
        try:
            digest = _b64(value)
        except (binascii.Error, ValueError):
            return None, value
        for credential in app.certificates:
            if getattr(credential, attr) == digest:
                return credential, digest.hex().upper()
        return None, digest.hex().upper()
    return None, "none (the assertion has neither x5t#S256 nor x5t)"


def _check_time(claims: dict[str, Any], now: dt.datetime) -> None:
    try:
        exp = dt.datetime.fromtimestamp(int(claims["exp"]), dt.timezone.utc)
        nbf = dt.datetime.fromtimestamp(int(claims.get("nbf", claims.get("iat", 0))), dt.timezone.utc)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise _malformed("the client assertion has no valid 'exp' claim") from None
    if exp + CLOCK_SKEW <= now or nbf - CLOCK_SKEW > now:
        raise AssertionRefused(
            401,
            "invalid_client",
            700024,
            f"Client assertion is not within its valid time range. Current time: {_when(now)}, assertion valid "
            f"from {_when(nbf)}, expiry time of assertion {_when(exp)}. Review the documentation at {DOCS} .",
        )
