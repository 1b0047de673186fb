"""RS256 signing of the sandbox's access and ID tokens, and Graph's view of a bearer token.

The key is made at start (like Entra's rolling keys, clients must fetch the JWKS rather than pin
it); ``kid`` and ``x5t`` are the base64url SHA-1 thumbprint of a self-signed certificate, as
Entra publishes them.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .permissions import GRAPH_APP_ID

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_AUDIENCES = (GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def opaque(n_bytes: int) -> str:
    """A random base64url string, the shape of Entra's `uti`, `aio` and refresh tokens."""
    return b64url(secrets.token_bytes(n_bytes))


class TokenRejected(Exception):
    """Graph refused the bearer token; ``reason`` picks the documented 401 message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Graph's 401 messages (docs/microsoft-wire-facts.md, "Graph errors"), keyed by reason.
EMPTY = "Access token is empty."
COMPACT = "CompactToken parsing failed with error code: 80049217"
INVALID = "Access token validation failure."
EXPIRED = "Lifetime validation failed, the token is expired."


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Signer:
    """One RSA signing key with its certificate, published as a JWKS."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._key.public_key()
        now = dt.datetime.now(dt.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.accesscontrol.windows.net")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(self._key, hashes.SHA256())
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        self.kid = b64url(cert.fingerprint(hashes.SHA1()))
        self._x5c = base64.b64encode(der).decode("ascii")

    def jwks(self, issuer: str | None = None) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        key: dict[str, Any] = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
            "x5c": [self._x5c],
        }
        if issuer:
            key["issuer"] = issuer
        return {"keys": [key]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims, self._key, algorithm="RS256", headers={"typ": "JWT", "kid": self.kid, "x5t": self.kid}
        )

    def verify_graph_token(self, token: str) -> dict[str, Any]:
        """The claims of a valid Graph access token, else ``TokenRejected`` with Graph's reason."""
        if not token:
            raise TokenRejected(EMPTY)
        try:
            jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise TokenRejected(COMPACT) from None
        try:
            return jwt.decode(
                token,
                self.public_key,
                algorithms=["RS256"],
                audience=list(GRAPH_AUDIENCES),
                options={"require": ["exp", "aud", "tid"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected(EXPIRED) from None
        except jwt.InvalidSignatureError:  # a DecodeError subclass, but a validation failure
            raise TokenRejected(INVALID) from None
        except jwt.DecodeError:
            raise TokenRejected(COMPACT) from None
        except jwt.InvalidTokenError:
            raise TokenRejected(INVALID) from None
