"""Who did what to which connection. Never holds a secret's value."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .profiles import Connection
from .teams import Team, TeamScopedQuerySet


class AuditEntry(models.Model):
    """One action. The connection's name is copied so entries stay readable after a delete."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        EDITED = "edited", "Edited"
        DELETED = "deleted", "Deleted"
        SECRET_REPLACED = "secret_replaced", "Replaced the client secret"
        TOKEN_FETCHED = "token_fetched", "Fetched a token"
        TOKEN_REFETCHED = "token_refetched", "Re-fetched the token"
        TESTED = "tested", "Tested the connection"
        SYNCED = "synced", "Ran a sync"
        SIGNED_IN = "signed_in", "Signed in (authorization code)"
        SIGNED_OUT = "signed_out", "Removed the sign-in"
        CERTIFICATE_UPLOADED = "certificate_uploaded", "Uploaded a certificate"
        CREDENTIAL_CHANGED = "credential_changed", "Switched the credential to the client secret"
        API_TOKEN_CREATED = "api_token_created", "Created a personal API token"
        API_TOKEN_REVOKED = "api_token_revoked", "Revoked a personal API token"
        API_AUTH_FAILED = "api_auth_failed", "Failed API authentication"

    connection = models.ForeignKey(
        Connection, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    connection_name = models.CharField(max_length=100, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30, choices=Action.choices)
    fields = models.JSONField("changed fields", default=list, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="old → new of non-secret fields")
    detail = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or 'system'} {self.action} {self.connection_name}"
