"""The dashboard's own certificate credential: proof of the sign-in app's identity without a secret.

The file named by ``OIDC_RP_CLIENT_CERTIFICATE_FILE`` holds the PEM private key and the PEM
certificate uploaded to the app registration. Reading it and signing the client assertion are the
same code a certificate connection uses (``microsoft.certificates``): PS256 with ``x5t#S256``,
``aud`` = the token endpoint, ``iss`` = ``sub`` = the client id, a fresh ``jti``
(https://learn.microsoft.com/entra/identity-platform/certificate-credentials).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.views.decorators.debug import sensitive_variables

from microsoft import certificates


@dataclass(frozen=True)
class ClientCertificate:
    loaded: certificates.LoadedCertificate = field(repr=False)

    @property
    def thumbprint(self) -> str:
        """SHA-1 hex, as the Azure portal lists it."""
        return self.loaded.thumbprint_sha1

    @classmethod
    @sensitive_variables()
    def load(cls, path: str) -> ClientCertificate:
        """The key and certificate in ``path``; ValueError saying what is wrong (never the key)."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ValueError(f"OIDC_RP_CLIENT_CERTIFICATE_FILE {path} cannot be read ({error.strerror}).") from None
        try:
            return cls(certificates.load(certificate=data))
        except certificates.CertificateError as error:
            raise ValueError(f"OIDC_RP_CLIENT_CERTIFICATE_FILE {path}: {error.message}") from None

    def assertion(self, client_id: str, token_url: str) -> str:
        return certificates.client_assertion(
            private_key_pem=self.loaded.private_key_pem,
            thumbprint_sha1=self.loaded.thumbprint_sha1,
            thumbprint_sha256=self.loaded.thumbprint_sha256,
            client_id=client_id,
            audience=token_url,
        )
