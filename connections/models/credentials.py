"""Credentials beyond the client secret: the connection's certificate, and what Entra says of every
credential of the app (read from Graph after token fetches and daily)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from connections.encryption.fields import EncryptedTextField

from .teams import TeamScopedQuerySet


class ConnectionQuerySet(TeamScopedQuerySet):
    team_field = "connection__team"


class ConnectionCertificate(models.Model):
    """The certificate a connection signs client assertions with (``private_key_jwt``).

    Only the private key is secret (encrypted, write-only); the certificate and its facts are public.
    """

    class AssertionForm(models.TextChoices):
        PS256 = "PS256", "PS256 with x5t#S256 (current)"
        RS256 = "RS256", "RS256 with x5t (older)"

    connection = models.OneToOneField(
        "connections.Connection", on_delete=models.CASCADE, primary_key=True, related_name="certificate"
    )
    private_key = EncryptedTextField()
    certificate_pem = models.TextField()
    subject = models.CharField(max_length=500)
    issuer = models.CharField(max_length=500)
    serial = models.CharField(max_length=100)
    thumbprint_sha1 = models.CharField("SHA-1 thumbprint", max_length=40)
    thumbprint_sha256 = models.CharField("SHA-256 thumbprint", max_length=64)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    assertion_form = models.CharField(max_length=5, choices=AssertionForm.choices, default=AssertionForm.PS256)
    uploaded_at = models.DateTimeField(default=timezone.now)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ConnectionQuerySet.as_manager()

    def __str__(self) -> str:
        return f"certificate {self.thumbprint_sha1} of {self.connection_id}"

    @property
    def not_valid_yet(self) -> bool:
        """Its validity starts later: Entra ID refuses assertions signed with it until ``not_before``."""
        return self.not_before > timezone.now()


class AppCredential(models.Model):
    """One secret or certificate of the app registration, as Graph listed it at the last check."""

    class Kind(models.TextChoices):
        SECRET = "secret", "Client secret"
        CERTIFICATE = "certificate", "Certificate"

    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="app_credentials")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    key_id = models.CharField(max_length=64)
    display_name = models.CharField(max_length=500, blank=True)
    hint = models.CharField(max_length=10, blank=True, help_text="first characters of a secret, as Graph shows them")
    thumbprint = models.CharField(max_length=64, blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    in_use = models.BooleanField(default=False, help_text="the credential this connection holds")

    expiry: Any  # not a column: credentials.expiry.Expiry, attached by for_page (declared for the type checker)

    objects = ConnectionQuerySet.as_manager()

    class Meta:
        ordering = ["-in_use", "end_at"]
        constraints = [models.UniqueConstraint(fields=["connection", "key_id"], name="app_credential_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key_id} of {self.connection_id}"


class CredentialCheck(models.Model):
    """The last time the app's credentials were read from Entra, and why not when it failed."""

    connection = models.OneToOneField(
        "connections.Connection", on_delete=models.CASCADE, primary_key=True, related_name="credential_check"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    readable = models.BooleanField(default=False)
    problem = models.CharField(max_length=500, blank=True)

    objects = ConnectionQuerySet.as_manager()
