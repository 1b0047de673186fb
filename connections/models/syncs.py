"""Sync runs and the versioned store of what they read.

A connection's items are kept as *versions* of a stream (entity + ``$select`` + ``$filter``): one row
per state of an item, valid from the sequence number of the run that first saw it until the one
that saw it change or vanish. Each
successful run gets the next sequence number of its connection when it is published, so a run's
snapshot is every version of its stream with ``valid_from <= seq < valid_to`` — one indexed query —
and a run writes only what changed. A running run's items wait in ``SyncStage`` (invisible to
every page) until the run is published in one transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from .jobs import Lifecycle
from .teams import TeamScopedQuerySet


class SyncRunQuerySet(TeamScopedQuerySet):
    team_field = "connection__team"


class SyncVersionQuerySet(TeamScopedQuerySet):
    team_field = "stream__connection__team"


def signature_of(entity: str, odata_select: str, odata_filter: str) -> str:
    """What a run read (entity, ``$select``, ``$filter``) as a short key."""
    text = "\x1f".join((entity.strip(), odata_select.strip(), odata_filter.strip()))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class SyncStream(models.Model):
    """What a connection's runs read: entity, ``$select`` and ``$filter``. Runs of one stream share
    versions and are compared with each other. Versions hang off this small integer, so every
    index over a million-item entity stays narrow."""

    id = models.BigAutoField(primary_key=True)
    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="sync_streams")
    signature = models.CharField(max_length=32, help_text="signature_of(entity, $select, $filter)")
    entity = models.CharField(max_length=300)
    odata_select = models.CharField("$select", max_length=1000, blank=True)
    odata_filter = models.CharField("$filter", max_length=1000, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "signature"], name="one_stream_per_read")]

    def __str__(self) -> str:
        return f"{self.entity} of {self.connection_id}"

    @classmethod
    def of(cls, connection_id: object, entity: str, odata_select: str, odata_filter: str) -> SyncStream:
        stream, _ = cls.objects.get_or_create(
            connection_id=connection_id,
            signature=signature_of(entity, odata_select, odata_filter),
            defaults={"entity": entity, "odata_select": odata_select, "odata_filter": odata_filter},
        )
        return stream


class SyncRun(Lifecycle, models.Model):
    """One sync of a connection's entity, as people see it in the syncs panel.

    ``status`` is the sync's state, and the one pages read; ``job`` is how the work reached a
    worker. Every transition is written by ``connections.syncs.lifecycle``: QUEUED → RUNNING →
    SUCCEEDED | FAILED, or QUEUED | RUNNING → CANCELLED | INTERRUPTED (a run ending short fails its
    job in the same transaction). ``seq`` is set when the run is published and orders its snapshot
    among the connection's versions. At most one run per connection is queued or running: a
    partial unique constraint makes a second one fail at the database, whatever races.
    ``delta_link`` is internal (it names the deltaLink's token); no page renders it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"  # by a person
        INTERRUPTED = "interrupted", "Interrupted"  # its worker died

    class Mode(models.TextChoices):
        FULL = "full", "Full read"
        DELTA = "delta", "Changes only (delta)"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "by hand"
        SCHEDULE = "schedule", "by schedule"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.INTERRUPTED)
    state_field = "status"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="sync_runs")
    job = models.OneToOneField(
        "connections.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_run"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the successful run this one is compared with",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.FULL)
    # What was read: copied from the profile when the run starts, so later edits do not blur it.
    entity = models.CharField(max_length=300, blank=True)
    odata_select = models.CharField("$select", max_length=1000, blank=True)
    odata_filter = models.CharField("$filter", max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last page written; a stale run is taken over")
    pages = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True, help_text="@odata.count, when Graph gave one")
    added = models.PositiveIntegerField(null=True, blank=True)
    changed = models.PositiveIntegerField(null=True, blank=True)
    removed = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)
    error = models.JSONField(default=dict, blank=True, help_text="the diagnosis of a failed run")
    delta_link = models.TextField(blank=True)
    stream = models.ForeignKey(SyncStream, null=True, blank=True, on_delete=models.CASCADE, related_name="runs")
    seq = models.PositiveBigIntegerField(null=True, blank=True, help_text="set when published: the snapshot's place")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.MANUAL)
    cancel_requested = models.BooleanField(default=False, help_text="the worker stops at the next page")
    # Graph's throttle budget as this run met it (x-ms-resource-unit, x-ms-throttle-limit-percentage).
    resource_units = models.PositiveIntegerField(default=0, help_text="resource units Graph charged this run")
    limit_percentage = models.FloatField(
        null=True, blank=True, help_text="highest x-ms-throttle-limit-percentage Graph reported (0.8–1.8)"
    )
    budget_wait_seconds = models.FloatField(default=0.0, help_text="seconds waited for the shared throttle budget")
    throttle_wait_seconds = models.FloatField(default=0.0, help_text="seconds waited out after Graph's 429s")

    can: Any  # not a column: library.access.Can, attached by get_for_user (declared for the type checker)

    objects = SyncRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["connection", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["connection"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_sync_per_connection",
            ),
            models.UniqueConstraint(fields=["connection", "seq"], name="one_sync_seq_per_connection"),
        ]

    def save(self, *args, **kwargs) -> None:
        if self.stream_id is None:
            self.stream = SyncStream.of(self.connection_id, self.entity, self.odata_select, self.odata_filter)
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"sync of {self.entity or self.connection_id} {self.status} ({self.pk})"

    @property
    def records(self) -> models.QuerySet[SyncVersion]:
        """The run's snapshot: every item as it was when the run was published (none before)."""
        if self.seq is None:
            return SyncVersion.objects.none()
        return SyncVersion.objects.filter(stream_id=self.stream_id, valid_from__lte=self.seq, removed=False).filter(
            models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=self.seq)
        )

    @property
    def percent(self) -> int | None:
        """Progress 0–100 when Graph told the total; None (an indeterminate bar) otherwise."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.total:
            return None
        return min(99, self.rows * 100 // self.total)

    @property
    def compared(self) -> bool:
        return self.added is not None

    @property
    def throttled(self) -> bool:
        """Graph's throttling slowed this run: it waited for the budget or for 429s, or Graph said the
        budget was nearly spent."""
        return self.budget_wait_seconds >= 1 or self.throttle_wait_seconds > 0 or (self.limit_percentage or 0) >= 0.8


class SyncVersion(models.Model):
    """One state of one item of a connection's stream, as Graph returned it (annotations dropped),
    valid for the runs with ``valid_from <= seq < valid_to`` (``valid_to`` empty: still current).
    A removal is a version too (a tombstone), so a run's change set is its versions with
    ``valid_from = seq``: one indexed query.
    ``digest`` makes comparing a run with the current snapshot a matter of short strings in SQL."""

    id = models.BigAutoField(primary_key=True)
    stream = models.ForeignKey(
        SyncStream, on_delete=models.CASCADE, related_name="+", db_index=False
    )  # every index below starts with it
    key = models.CharField(max_length=400)
    valid_from = models.PositiveBigIntegerField()
    valid_to = models.PositiveBigIntegerField(null=True, blank=True)
    digest = models.CharField(max_length=32)
    data = models.JSONField()
    removed = models.BooleanField(
        default=False, help_text="a tombstone: the item was removed at valid_from (data: as it last was)"
    )

    objects = SyncVersionQuerySet.as_manager()

    class Meta:
        constraints = [
            # A key's history, and a run's snapshot in key order (browse, export).
            models.UniqueConstraint(fields=["stream", "key", "valid_from"], name="one_version_per_key_and_seq"),
            # The current snapshot, which every full run is compared with.
            models.UniqueConstraint(
                fields=["stream", "key"], condition=models.Q(valid_to__isnull=True), name="one_current_version_per_key"
            ),
        ]
        indexes = [
            models.Index(fields=["stream", "valid_from"], name="sync_version_from"),
            # Only ended versions: inserting a current one (most writes) does not touch it.
            models.Index(
                fields=["stream", "valid_to"], name="sync_version_to", condition=models.Q(valid_to__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} [{self.valid_from}, {self.valid_to or '…'})"


class SyncStage(models.Model):
    """An item read by a run that is not published yet: seen by no page, dropped when the run
    stops. ``data`` is the item's JSON text (parsed into a version only if it changed). On
    PostgreSQL the table is UNLOGGED (it holds nothing that must survive a crash) and has no index
    (every staged row would have to update it): publishing compares it with hash joins, nested
    loops being turned off for that transaction. SQLite, which only does nested loops, has none
    while staging either: publishing builds one in its own transaction and drops it there."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=400)
    digest = models.CharField(max_length=32)
    data = models.TextField()
