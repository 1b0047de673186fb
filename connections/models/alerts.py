"""Alerts: per-team notification channels, one state per connection and topic, and what was sent."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from connections.encryption.fields import EncryptedTextField

from .teams import Team, TeamScopedQuerySet


class NotificationChannel(models.Model):
    """Where a team's alerts go. A webhook URL is a secret (it alone lets anyone post): encrypted,
    write-only; pages show its host only."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        TEAMS = "teams", "Microsoft Teams incoming webhook"
        SLACK = "slack", "Slack incoming webhook"
        WEBHOOK = "webhook", "Generic JSON webhook"

    class Status(models.TextChoices):
        NEVER = "", "Not used yet"
        OK = "ok", "Working"
        FAILING = "failing", "Failing"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = EncryptedTextField("webhook URL", blank=True)
    host = models.CharField(max_length=300, blank=True, help_text="the webhook's host, shown instead of its URL")
    emails = models.CharField("email addresses", max_length=1000, blank=True)
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, blank=True, default=Status.NEVER)
    last_error = models.CharField(max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="channel_name_unique_per_team")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def target(self) -> str:
        """What pages show: the addresses, or the webhook's host (never its URL)."""
        return self.emails if self.kind == self.Kind.EMAIL else self.host


class AlertState(models.Model):
    """The last known state of one topic (sync, token, credential) of a connection.

    An alert is sent only when this changes, so a connection failing every five minutes sends one.
    """

    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="alert_states")
    topic = models.CharField(max_length=20)
    state = models.CharField(max_length=20)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "topic"], name="one_alert_state_per_topic")]


class Alert(models.Model):
    """One state change worth telling people about (the text holds no secret or token)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="alerts")
    connection = models.ForeignKey(
        "connections.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    event = models.CharField(max_length=30)
    title = models.CharField(max_length=300)
    text = models.TextField()
    link = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Handing the alert to a worker: recorded first, so an alert the broker never took is sent again.
    sent_at = models.DateTimeField(null=True, blank=True, help_text="when the broker took it; empty: not yet")
    send_failures = models.PositiveIntegerField(default=0)

    objects = TeamScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["sent_at"], name="alert_unsent_idx")]

    def __str__(self) -> str:
        return self.title


class AlertDelivery(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(NotificationChannel, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at"]
