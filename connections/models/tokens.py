"""Tokens: the current one per connection (encrypted) and the history of every fetch."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from connections.encryption.fields import EncryptedTextField

from .teams import TeamScopedQuerySet


class TokenQuerySet(TeamScopedQuerySet):
    team_field = "connection__team"


class ConnectionToken(models.Model):
    """The connection's current access token, its display claims, and the fetch claim.

    ``claimed_until``/``claimed_by`` make token fetching single-flight: a fetch first claims
    the row with a conditional UPDATE (works the same on SQLite and PostgreSQL); other
    callers wait for that fetch's result instead of sending a second token request. The
    claim expires on its own, so a crashed worker cannot hold it.
    """

    class State(models.TextChoices):
        NONE = "none", "No token yet"
        VALID = "valid", "Valid"
        ERROR = "error", "Token error"
        SIGN_IN = "sign_in", "Sign-in required"

    connection = models.OneToOneField(
        "connections.Connection", on_delete=models.CASCADE, primary_key=True, related_name="token"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.NONE)
    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_type = models.CharField(max_length=20, blank=True)
    kind = models.CharField(max_length=10, blank=True, help_text="app or delegated")
    issued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    scope = models.TextField(blank=True)
    claims = models.JSONField(default=dict, blank=True, help_text="decoded for display only, never trusted")
    permissions = models.JSONField(default=list, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    error = models.JSONField(default=dict, blank=True, help_text="the diagnosis of the last failed fetch")
    error_at = models.DateTimeField(null=True, blank=True)
    granted = models.JSONField(
        null=True,
        blank=True,
        help_text="Graph application permissions granted to the app (admin consent); null when unreadable",
    )
    granted_checked_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)

    objects = TokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"token of {self.connection_id} ({self.state})"

    @property
    def is_valid(self) -> bool:
        """Valid, unexpired and readable (a token no configured key decrypts is fetched anew)."""
        return bool(
            self.state == self.State.VALID
            and self.expires_at
            and self.expires_at > timezone.now()
            and isinstance(self.access_token, str)
        )

    @property
    def granted_not_in_token(self) -> list[str]:
        """Granted to the app but missing from this token: a re-fetch would add them."""
        return sorted(set(self.granted or ()) - set(self.permissions or ())) if self.kind == "app" else []

    @property
    def in_token_not_granted(self) -> list[str]:
        """In this token but no longer granted (revoked): they vanish at the next fetch."""
        if self.granted is None or self.kind != "app":
            return []
        return sorted(set(self.permissions or ()) - set(self.granted))

    def valid_for(self, seconds: float) -> bool:
        """True when the token is valid and stays so for at least ``seconds`` more."""
        return (
            self.is_valid
            and self.expires_at is not None
            and (self.expires_at - timezone.now()).total_seconds() >= seconds
        )


class TokenFetch(models.Model):
    """One attempt to get a token: who/why, the outcome, and what the permissions became."""

    class Reason(models.TextChoices):
        FETCH = "fetch", "Get access token"
        REFETCH = "refetch", "Re-fetch token"
        REFRESH = "refresh", "Automatic refresh"
        TEST = "test", "Test connection"
        SIGN_IN = "sign_in", "Sign in"
        EXPIRED = "expired", "Graph said the token expired"

    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="token_fetches")
    job = models.ForeignKey("connections.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    permissions = models.JSONField(default=list, blank=True)
    gained = models.JSONField(default=list, blank=True)
    lost = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    diagnosis = models.JSONField(default=dict, blank=True)

    objects = TokenQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["connection", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.reason} {'ok' if self.ok else 'failed'} at {self.started_at:%Y-%m-%d %H:%M:%S}"
