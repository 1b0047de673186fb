"""Certificate and expiry fixtures: self-signed certificates made here, sandbox apps that know them.

``tests.tokens.conftest`` fixtures (sandbox apps and connections, the buttons) are reused.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.tokens.conftest import run_job, sandbox_app, sandbox_connection  # noqa: F401  (fixtures)

# One key per test session: RSA key generation is the slow part.
_KEYS: list[rsa.RSAPrivateKey] = []


def _key(index: int) -> rsa.RSAPrivateKey:
    while len(_KEYS) <= index:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[index]


@dataclass(frozen=True)
class Cert:
    cert_pem: bytes
    key_pem: bytes
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def thumbprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()

    def pkcs12(self, password: str) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            b"graphconn", self.key, self.certificate, None,
            serialization.BestAvailableEncryption(password.encode()))


def make_cert(cn: str = "graphconn test", days: int = 365, key_index: int = 0) -> Cert:
    key = _key(key_index)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return Cert(cert.public_bytes(serialization.Encoding.PEM), key_pem, key, cert)


@pytest.fixture
def cert_factory() -> Callable[..., Cert]:
    return make_cert
