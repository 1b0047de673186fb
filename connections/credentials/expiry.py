"""A connection's credential: the client secret or a certificate, and when it expires.

Expiry comes from Entra itself when the app may read its own registration (Graph lists the app's
``passwordCredentials`` and ``keyCredentials``; see appinfo.py), from the certificate for a
certificate connection, and otherwise from the date a person typed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Min, OuterRef, Subquery
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connections.encryption.fields import plaintext
from connections.models import AppCredential, Connection, ConnectionCertificate, CredentialCheck
from microsoft import certificates

WARN_DAYS = 30
# Levels in order of urgency; an alert is sent when a connection's level changes.
LEVELS = ("", "30", "7", "1", "expired")
LEVEL_WORDS = {
    "": "fine",
    "30": "expires within 30 days",
    "7": "expires within 7 days",
    "1": "expires within a day",
    "expired": "has expired",
}


class CertificateMissing(Exception):
    """A certificate connection with no certificate uploaded yet."""


# --- certificates -----------------------------------------------------------------------------


@sensitive_variables()  # the debug 500 page must not show the key
def assertion_for(connection: Connection) -> str:
    """A fresh client assertion for the connection's token URL (raises CertificateMissing or
    UndecryptableSecret when the key cannot be used)."""
    cert = ConnectionCertificate.objects.filter(connection=connection).first()
    if cert is None:
        raise CertificateMissing()
    return certificates.client_assertion(
        private_key_pem=plaintext(cert.private_key),
        thumbprint_sha1=cert.thumbprint_sha1,
        thumbprint_sha256=cert.thumbprint_sha256,
        client_id=connection.client_id,
        audience=connection.token_url,
        form=cert.assertion_form,
    )


@sensitive_variables()
def save_certificate(
    connection: Connection, loaded: certificates.LoadedCertificate, form: str, user: Any
) -> ConnectionCertificate:
    """Keep the certificate (key encrypted) and switch the connection to it.

    A certificate whose validity starts later cannot sign in before then: a connection that signs in
    with a readable client secret keeps doing so (``use_certificate`` switches once it is valid);
    one with nothing else to sign in with is switched, and its page says from when it works.
    The caller discards the saved token, so the next test proves the new credential.
    """
    keep_secret = loaded.not_before > timezone.now() and not connection.uses_certificate
    keep_secret = keep_secret and connection.secret_state == "saved"
    with transaction.atomic():
        cert, _ = ConnectionCertificate.objects.update_or_create(
            connection=connection,
            defaults={
                "private_key": loaded.private_key_pem,
                "certificate_pem": loaded.certificate_pem,
                "subject": loaded.subject[:500],
                "issuer": loaded.issuer[:500],
                "serial": loaded.serial[:100],
                "thumbprint_sha1": loaded.thumbprint_sha1,
                "thumbprint_sha256": loaded.thumbprint_sha256,
                "not_before": loaded.not_before,
                "not_after": loaded.not_after,
                "assertion_form": form,
                "uploaded_at": timezone.now(),
                "uploaded_by": user if getattr(user, "pk", None) else None,
            },
        )
        if not keep_secret:
            use_certificate(connection)
    return cert


def use_certificate(connection: Connection) -> None:
    """Sign in with the saved certificate from now on (Entra's list says again which is in use)."""
    with transaction.atomic():
        Connection.objects.filter(pk=connection.pk).update(credential_type="certificate")
        AppCredential.objects.filter(connection=connection).update(in_use=False)
    connection.credential_type = "certificate"


def certificate_of(connection: Connection) -> ConnectionCertificate | None:
    try:
        return connection.certificate
    except ConnectionCertificate.DoesNotExist:
        return None


# --- what Entra says about the app's credentials ----------------------------------------------


@dataclass(frozen=True)
class CredentialsRead:
    """Graph's answer about the app's credentials, or why it could not be asked."""

    secrets: list[dict[str, Any]] = field(default_factory=list)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""

    @property
    def readable(self) -> bool:
        return not self.problem

    @sensitive_variables()  # the secret is only compared with Graph's hints, never kept or shown
    def held_secrets(self, secret: str) -> list[dict[str, Any]]:
        """The secrets that are the one the connection holds, as far as Graph lets us tell: those
        whose ``hint`` (Graph shows a secret's first three characters) the secret starts with, or,
        when no hint matches and the app has only one secret, that one."""
        hinted = [c for c in self.secrets if secret and c.get("hint") and secret.startswith(str(c["hint"]))]
        if hinted:
            return hinted
        return list(self.secrets) if secret and len(self.secrets) == 1 else []


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _thumbprint(value: Any) -> str:
    """customKeyIdentifier as hex: Graph shows the SHA-1 thumbprint in hex, or base64 of its bytes."""
    text = str(value or "").strip()
    if len(text) == 40 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.upper()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.upper()[:64]
    return raw.hex().upper() if len(raw) == 20 else text.upper()[:64]


@sensitive_variables()  # the secret is only compared with Graph's hint, never stored or shown
def record(connection: Connection, read: CredentialsRead, secret: str) -> None:
    """Replace the stored list with what Graph said, marking the credential this connection holds."""
    now = timezone.now()
    with transaction.atomic():
        CredentialCheck.objects.update_or_create(
            connection=connection,
            defaults={"checked_at": now, "readable": read.readable, "problem": read.problem[:500]},
        )
        if not read.readable:
            return  # the last list Graph gave stays, marked by the check's time
        cert = certificate_of(connection) if connection.uses_certificate else None
        rows = []
        held = [] if connection.uses_certificate else read.held_secrets(secret)
        for item in read.secrets:
            in_use = item in held
            rows.append(
                AppCredential(
                    connection=connection,
                    kind=AppCredential.Kind.SECRET,
                    key_id=str(item.get("keyId") or "")[:64],
                    display_name=str(item.get("displayName") or "")[:500],
                    hint=str(item.get("hint") or "")[:10],
                    start_at=_when(item.get("startDateTime")),
                    end_at=_when(item.get("endDateTime")),
                    in_use=in_use,
                )
            )
        for item in read.certificates:
            thumbprint = _thumbprint(item.get("customKeyIdentifier"))
            rows.append(
                AppCredential(
                    connection=connection,
                    kind=AppCredential.Kind.CERTIFICATE,
                    key_id=str(item.get("keyId") or "")[:64],
                    display_name=str(item.get("displayName") or "")[:500],
                    thumbprint=thumbprint,
                    start_at=_when(item.get("startDateTime")),
                    end_at=_when(item.get("endDateTime")),
                    in_use=bool(cert and thumbprint == cert.thumbprint_sha1),
                )
            )
        AppCredential.objects.filter(connection=connection).delete()
        AppCredential.objects.bulk_create([r for r in rows if r.key_id])


# --- expiry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expiry:
    ends_on: dt.date | None
    days: int | None
    level: str  # one of LEVELS
    source: str  # "entra", "certificate", "manual" or ""

    @property
    def words(self) -> str:
        """ "5 days left", "expires today", "expired 3 days ago", "no expiry known"."""
        if self.days is None:
            return "no expiry known"
        if self.days < 0:
            return f"expired {-self.days} day{'s' if self.days != -1 else ''} ago"
        if self.days == 0:
            return "expires today"
        return f"{self.days} day{'s' if self.days != 1 else ''} left"

    @property
    def badge(self) -> str:
        """The badge of the level: bad within 7 days or ended, a warning within 30, else ok."""
        return "bad" if self.level in ("expired", "1", "7") else "warn" if self.level == "30" else "ok"

    @property
    def source_words(self) -> str:
        return {
            "entra": "read from Entra ID",
            "certificate": "from the certificate",
            "manual": "entered by hand",
            "": "",
        }[self.source]


def level_for(days: int | None, ended: bool = False) -> str:
    if days is None:
        return ""
    if ended or days < 0:
        return "expired"
    if days <= 1:
        return "1"
    if days <= 7:
        return "7"
    return "30" if days <= WARN_DAYS else ""


def in_use_end_subquery() -> Subquery:
    """For list pages: the end of the credential in use as Entra listed it (one subquery per row)."""
    return Subquery(
        AppCredential.objects.filter(connection=OuterRef("pk"), in_use=True)
        .values("connection")
        .annotate(end=Min("end_at"))
        .values("end")[:1]
    )


_MISSING = object()


def expiry(connection: Connection, today: dt.date | None = None) -> Expiry:
    """When the credential this connection uses ends, and how urgent that is."""
    now = timezone.now()
    today = today or timezone.localdate()
    entra_end: Any = getattr(connection, "in_use_end", _MISSING)  # a datetime, None or _MISSING
    if entra_end is _MISSING:
        entra_end = AppCredential.objects.filter(connection=connection, in_use=True).aggregate(end=Min("end_at"))["end"]
    ends_at: dt.datetime | None = None
    ends_on: dt.date | None = None
    source = ""
    if connection.uses_certificate:
        cert = certificate_of(connection)
        candidates = [t for t in (entra_end, cert.not_after if cert else None) if t]
        if candidates:
            ends_at = min(candidates)
            source = "entra" if entra_end and ends_at == entra_end else "certificate"
    elif entra_end:
        ends_at, source = entra_end, "entra"
    elif connection.secret_expires_on:
        ends_on, source = connection.secret_expires_on, "manual"
    if ends_at is not None:
        ends_on = timezone.localtime(ends_at).date()
    if ends_on is None:
        return Expiry(None, None, "", "")
    days = (ends_on - today).days
    ended = ends_at is not None and ends_at <= now and today >= timezone.localdate()
    return Expiry(ends_on, days, level_for(days, ended), source)


def for_page(connection: Connection) -> Connection:
    """Attach what the credentials panel shows: expiry, certificate, Entra's check and list."""
    rows = list(connection.app_credentials.all())
    # The end of the credential in use as Entra listed it (what ``in_use_end_subquery`` gives a list),
    # from the rows the panel shows anyway.
    in_use_end = min((row.end_at for row in rows if row.in_use and row.end_at is not None), default=None)
    connection.in_use_end = in_use_end  # type: ignore[attr-defined]  # as the list's annotation names it
    connection.expiry = expiry(connection)
    connection.certificate_facts = certificate_of(connection)
    try:  # joined by the detail page's query; otherwise one query
        connection.entra_check = connection.credential_check
    except CredentialCheck.DoesNotExist:
        connection.entra_check = None
    today = timezone.localdate()
    for row in rows:
        ends_on = timezone.localtime(row.end_at).date() if row.end_at else None
        days = (ends_on - today).days if ends_on else None
        row.expiry = Expiry(ends_on, days, level_for(days, bool(row.end_at and row.end_at <= timezone.now())), "entra")
    connection.app_credential_rows = rows
    return connection
