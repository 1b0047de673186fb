"""The connection profile: everything needed to get a token and read one Graph entity."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from connections.encryption import keys
from connections.encryption.fields import Ciphertext, EncryptedTextField, UnreadableSecret
from microsoft.clouds import DEFAULT_CLOUD

from .teams import Team, TeamScopedQuerySet

DEFAULT_SERVICE_URL = DEFAULT_CLOUD.graph_base  # https://graph.microsoft.com/v1.0
DEFAULT_ITEM_URL = "{entity}/{key}"
CALLBACK_PATH = "/connections/oauth/callback"
SECRET_WARN_DAYS = 30
SECRET_ALARM_DAYS = 7


def default_redirect_url() -> str:
    """The dashboard's own OAuth callback."""
    return settings.PUBLIC_BASE_URL + CALLBACK_PATH


class Connection(models.Model):
    """One row of the connection library. Field names follow what an app registration gives; the secret is encrypted."""

    class TokenVersion(models.TextChoices):
        V1 = "v1", "v1 (resource)"
        V2 = "v2", "v2 (scope)"

    class GrantType(models.TextChoices):
        CLIENT_CREDENTIALS = "client_credentials", "Client credentials (application permissions)"
        AUTHORIZATION_CODE = "authorization_code", "Authorization code (delegated, a person signs in)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="connections")
    name = models.CharField(max_length=100)
    service_url = models.CharField("service URL", max_length=500, default=DEFAULT_SERVICE_URL)
    tenant = models.CharField(max_length=255, help_text="Directory (tenant) ID or a verified domain.")
    client_id = models.CharField("application (client) ID", max_length=36)
    client_secret = EncryptedTextField(blank=True)
    credential_type = models.CharField(
        "credential",
        max_length=12,
        default="secret",
        choices=[("secret", "Client secret"), ("certificate", "Certificate (private_key_jwt)")],
    )
    secret_expires_on = models.DateField("secret expires on", null=True, blank=True)
    token_version = models.CharField(
        "token endpoint version", max_length=2, choices=TokenVersion.choices, default=TokenVersion.V2
    )
    grant_type = models.CharField(max_length=20, choices=GrantType.choices, default=GrantType.CLIENT_CREDENTIALS)
    token_url = models.CharField("token URL", max_length=500, blank=True)
    authorize_url = models.CharField("authorise URL", max_length=500, blank=True)
    redirect_url = models.CharField("redirect URL", max_length=500, blank=True, default=default_redirect_url)
    scope = models.CharField(max_length=1000, blank=True)
    resource = models.CharField(max_length=500, blank=True)
    entity = models.CharField(max_length=300, default="users")
    item_url = models.CharField("item URL convention", max_length=300, default=DEFAULT_ITEM_URL)
    odata_select = models.CharField("$select", max_length=1000, blank=True)
    odata_filter = models.CharField("$filter", max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # Not columns: what pages attach to the rows they read (library.access, library.status,
    # credentials.expiry, the list view), declared for the type checker only (no default, so
    # ``getattr(row, name, default)`` still tells whether a page set it). Types that live above
    # the models are Any here.
    can: Any  # library.access.Can
    access_role: str | None
    token_state: str
    token_expires_at: datetime.datetime | None
    token_error: str
    graph_refusal: str
    last_sync: Any  # SyncRun | None
    last_sync_status: str | None
    last_sync_rows: int | None
    last_sync_added: int | None
    last_sync_changed: int | None
    last_sync_removed: int | None
    last_sync_at: datetime.datetime | None
    next_run: datetime.datetime | None
    delta_stale: bool
    problems: list[str]
    health: str
    expiry: Any  # credentials.expiry.Expiry
    certificate_facts: Any  # ConnectionCertificate | None
    entra_check: Any  # CredentialCheck | None
    app_credential_rows: list[Any]  # AppCredential rows, each with its ``expiry``

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="connection_name_unique_per_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_state(self) -> str:
        """ "none", "saved" or "unreadable" (no configured key decrypts it): what pages show."""
        stored = self.__dict__.get("client_secret")
        if isinstance(stored, Ciphertext):  # not decrypted yet: say which without decrypting here
            return keys.state(stored.token)
        value = self.client_secret
        if isinstance(value, UnreadableSecret):
            return "unreadable"
        return "saved" if value else "none"

    def days_until_secret_expiry(self, today: datetime.date | None = None) -> int | None:
        if self.secret_expires_on is None:
            return None
        return (self.secret_expires_on - (today or timezone.localdate())).days

    def secret_expiry_level(self, today: datetime.date | None = None) -> str:
        """ "" (fine or unknown), "warn" (≤30 days), "alarm" (≤7 days) or "expired"."""
        days = self.days_until_secret_expiry(today)
        if days is None or days > SECRET_WARN_DAYS:
            return ""
        if days < 0:
            return "expired"
        return "alarm" if days <= SECRET_ALARM_DAYS else "warn"

    @property
    def is_delegated(self) -> bool:
        return self.grant_type == self.GrantType.AUTHORIZATION_CODE

    @property
    def uses_certificate(self) -> bool:
        return self.credential_type == "certificate"
