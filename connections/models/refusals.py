"""Graph's last refusal per connection: what Test connection or a sync was refused, and why.

One row per connection (the latest refusal replaces the one before; a read that works removes it).
It is kept apart from the token row on purpose: a refusal is about what Graph answered for the
entity, and it outlives a **Re-fetch token**, which then says whether the new token carries what
was missing.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .teams import TeamScopedQuerySet


class RefusalQuerySet(TeamScopedQuerySet):
    team_field = "connection__team"


class GraphRefusal(models.Model):
    """The last failed Graph answer of a connection's read, with its diagnosis."""

    class Source(models.TextChoices):
        TEST = "test", "Test connection"
        SYNC = "sync", "Sync"

    connection = models.OneToOneField(
        "connections.Connection", on_delete=models.CASCADE, primary_key=True, related_name="last_refusal"
    )
    source = models.CharField(max_length=10, choices=Source.choices, blank=True)
    refused_at = models.DateTimeField(default=timezone.now)
    status = models.PositiveSmallIntegerField(help_text="Graph's HTTP status")
    entity = models.CharField(max_length=300, blank=True, help_text="the entity path read when Graph refused")
    body = models.JSONField(null=True, blank=True, help_text="Graph's error body (no secrets: Graph sends none)")
    headers = models.JSONField(default=dict, blank=True, help_text="request-id, client-request-id and date")
    diagnosis = models.JSONField(default=dict, blank=True, help_text="what the page shows, reassessed after a re-fetch")
    resolved = models.BooleanField(default=False, help_text="a re-fetched token now carries what was missing")
    token_kind = models.CharField(max_length=10, blank=True, help_text="app or delegated")
    token_permissions = models.JSONField(
        default=list, blank=True, help_text="the permissions of the token the diagnosis last compared"
    )
    granted = models.JSONField(
        null=True, blank=True, help_text="the app's granted permissions when diagnosed; null when unreadable"
    )

    objects = RefusalQuerySet.as_manager()

    def __str__(self) -> str:
        return f"HTTP {self.status} for {self.connection_id} at {self.refused_at:%Y-%m-%d %H:%M:%S}"
