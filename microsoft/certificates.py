"""Certificate credentials: reading an upload (PEM or PKCS#12) and signing client assertions.

Parsing and signing use ``cryptography`` and PyJWT; nothing here does cryptography by hand.
The assertion follows https://learn.microsoft.com/entra/identity-platform/certificate-credentials:
PS256 with ``x5t#S256`` (current) or RS256 with ``x5t`` (older), ``aud`` = the token endpoint,
``iss`` = ``sub`` = the client ID, a unique ``jti``, ``nbf``/``iat`` now and ``exp`` minutes later.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import cast

import jwt
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from microsoft.redaction import sensitive_variables

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = dt.timedelta(minutes=10)
MAX_UPLOAD_BYTES = 64 * 1024
_KEY_BLOCK = re.compile(rb"-----BEGIN (?:RSA |ENCRYPTED )?PRIVATE KEY-----")


ONLY_RSA = "Only RSA keys can sign client assertions for Entra ID (PS256/RS256)."
# Entra ID refuses a client assertion signed with a shorter key at sign-in (AADSTS700027).
MIN_RSA_BITS = 2048


def key_too_short(bits: int) -> str:
    """Why Entra ID refuses a key of ``bits``, in its own words, and what to do instead."""
    return (
        f"This certificate's RSA key has {bits} bits: Entra ID refuses client assertions signed with "
        f"it (AADSTS700027: RSA key size {bits} is less than the minimum required {MIN_RSA_BITS} bits). "
        f"Create a certificate with an RSA key of at least {MIN_RSA_BITS} bits and upload that."
    )


class CertificateError(ValueError):
    """An upload that cannot be used; ``field`` names the form field to attach the message to."""

    def __init__(self, message: str, field: str = "certificate_file") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class LoadedCertificate:
    """A certificate and its matching private key (the key as unencrypted PKCS#8 PEM, to be stored encrypted)."""

    private_key_pem: str = field(repr=False)
    certificate_pem: str
    subject: str
    issuer: str
    serial: str
    thumbprint_sha1: str
    thumbprint_sha256: str
    not_before: dt.datetime
    not_after: dt.datetime


@sensitive_variables()  # the debug 500 page must not show a key or its password
def load(
    *,
    certificate: bytes | None = None,
    private_key: bytes | None = None,
    pkcs12_data: bytes | None = None,
    password: str = "",
) -> LoadedCertificate:
    """Read a PEM certificate and key (one file holding both is fine) or a PKCS#12 file."""
    secret = password.encode() if password else None
    if pkcs12_data:
        try:
            key, cert, _ = pkcs12.load_key_and_certificates(pkcs12_data, secret)
        except UnsupportedAlgorithm:
            raise CertificateError(ONLY_RSA, "pkcs12_file") from None
        except ValueError:
            raise CertificateError(
                "The PKCS#12 file could not be opened: the password is wrong or it is not a .pfx/.p12 file.",
                "pkcs12_password",
            ) from None
        if cert is None or key is None:
            raise CertificateError("The PKCS#12 file must hold a certificate and its private key.", "pkcs12_file")
        return _loaded(cert, key, "pkcs12_file")
    if not certificate:
        raise CertificateError("Upload the certificate (PEM) and its private key, or one PKCS#12 (.pfx) file.")
    cert = _pem_certificate(certificate)
    key = _pem_key(private_key or certificate, secret, "private_key_file" if private_key else "certificate_file")
    return _loaded(cert, key, "private_key_file")


def _pem_certificate(data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE-----") :])
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateError("That file is not an X.509 certificate (PEM with BEGIN CERTIFICATE, or DER).") from None


@sensitive_variables()
def _pem_key(data: bytes, password: bytes | None, field_name: str) -> rsa.RSAPrivateKey:
    found = _KEY_BLOCK.search(data)
    if found is None:
        raise CertificateError(
            "No private key found: upload the key as PEM (BEGIN PRIVATE KEY), or a file "
            "with both the certificate and the key.",
            field_name,
        )
    try:
        key = serialization.load_pem_private_key(data[found.start() :], password)
    except UnsupportedAlgorithm:
        raise CertificateError(ONLY_RSA, field_name) from None
    except TypeError:
        raise CertificateError("The private key is encrypted: enter its password.", "pkcs12_password") from None
    except ValueError:
        raise CertificateError(
            "The private key could not be read (wrong password, or not a PEM key).", field_name
        ) from None
    return key  # type: ignore[return-value]


@sensitive_variables()
def _loaded(cert: x509.Certificate, key: object, key_field: str) -> LoadedCertificate:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CertificateError(ONLY_RSA, key_field)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        certificate_key = cert.public_key().public_bytes(serialization.Encoding.DER, public)
    except UnsupportedAlgorithm:  # a certificate for a key type the library cannot read (SM2, …)
        raise CertificateError(ONLY_RSA, "certificate_file") from None
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != certificate_key:
        raise CertificateError("The private key does not belong to this certificate.", key_field)
    if key.key_size < MIN_RSA_BITS:
        raise CertificateError(key_too_short(key.key_size), key_field)
    return LoadedCertificate(
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        subject=cert.subject.rfc4514_string() or "(empty subject)",
        issuer=cert.issuer.rfc4514_string() or "(empty issuer)",
        serial=format(cert.serial_number, "X"),
        thumbprint_sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - it is Entra's x5t
        thumbprint_sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def _b64url_hex(value: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(value)).rstrip(b"=").decode("ascii")


@sensitive_variables()  # the debug 500 page must not show the key
def client_assertion(
    *,
    private_key_pem: str,
    thumbprint_sha1: str,
    thumbprint_sha256: str,
    client_id: str,
    audience: str,
    form: str = "PS256",
    now: dt.datetime | None = None,
) -> str:
    """A signed client assertion for one token request (a fresh ``jti`` each time)."""
    issued = now or dt.datetime.now(dt.timezone.utc)
    if form == "RS256":
        headers = {"typ": "JWT", "x5t": _b64url_hex(thumbprint_sha1)}
    else:
        form = "PS256"
        headers = {"typ": "JWT", "x5t#S256": _b64url_hex(thumbprint_sha256)}
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "nbf": int(issued.timestamp()),
        "iat": int(issued.timestamp()),
        "exp": int((issued + ASSERTION_LIFETIME).timestamp()),
    }
    # Only RSA keys are ever saved (``load`` refuses the others).
    key = cast(rsa.RSAPrivateKey, serialization.load_pem_private_key(private_key_pem.encode(), None))
    return jwt.encode(claims, key, algorithm=form, headers=headers)
