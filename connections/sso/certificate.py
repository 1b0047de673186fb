"""The dashboard's certificate credential: proof of the app's identity without a shared secret.

The token request carries a short-lived JWT signed with the certificate's private key: PS256,
``x5t#S256`` (the certificate's SHA-256 thumbprint) in the header, ``aud`` = the token endpoint,
``iss`` = ``sub`` = the client id, a fresh ``jti``, five minutes of validity
(https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials).
The file holds the PEM private key and the PEM certificate uploaded to the app registration.
"""
from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.views.decorators.debug import sensitive_variables

ASSERTION_SECONDS = 300


@dataclass(frozen=True)
class ClientCertificate:
    private_key: Any = field(repr=False)
    x5t_s256: str
    thumbprint: str         # SHA-1 hex, as the Azure portal lists it

    @classmethod
    @sensitive_variables()
    def load(cls, path: str) -> ClientCertificate:
        """The key and certificate in ``path``; ValueError saying what is wrong (never the key)."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ValueError(f"OIDC_RP_CLIENT_CERTIFICATE_FILE {path} cannot be read ({error.strerror}).") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise ValueError(f"OIDC_RP_CLIENT_CERTIFICATE_FILE {path} holds no unencrypted PEM private key.") from None
        try:
            cert = x509.load_pem_x509_certificate(data)
        except ValueError:
            raise ValueError(f"OIDC_RP_CLIENT_CERTIFICATE_FILE {path} holds no PEM certificate.") from None
        if cert.public_key().public_numbers() != key.public_key().public_numbers():
            raise ValueError(f"The private key in {path} does not belong to its certificate.")
        der = cert.public_bytes(serialization.Encoding.DER)
        return cls(private_key=key, x5t_s256=base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode(),
                   thumbprint=hashlib.sha1(der).hexdigest().upper())

    def assertion(self, client_id: str, token_url: str) -> str:
        now = int(time.time())
        claims = {"aud": token_url, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()),
                  "nbf": now, "iat": now, "exp": now + ASSERTION_SECONDS}
        return jwt.encode(claims, self.private_key, algorithm="PS256",
                          headers={"typ": "JWT", "x5t#S256": self.x5t_s256})
