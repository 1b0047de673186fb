"""A connection's credential beyond the profile: the secret or certificate in use and when it expires.

The names below are what the rest of the house calls; the modules hold the rest.
"""

from connections.credentials.expiry import (
    CertificateMissing,
    CredentialsRead,
    Expiry,
    assertion_for,
    certificate_of,
    expiry,
    for_page,
    in_use_end_subquery,
    record,
    save_certificate,
    use_certificate,
)

__all__ = [
    "CertificateMissing",
    "CredentialsRead",
    "Expiry",
    "assertion_for",
    "certificate_of",
    "expiry",
    "for_page",
    "in_use_end_subquery",
    "record",
    "save_certificate",
    "use_certificate",
]
