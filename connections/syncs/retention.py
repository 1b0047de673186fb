"""Keeping the database from growing without end: old sync runs go, and the versions no kept run sees.

Per connection the newest ``SYNC_RUNS_KEPT`` finished runs stay, and so does each stream's newest
successful run whatever its age (the next delta run and the comparison start from it). Queued or
running runs are never touched. Then every version that no remaining published run needs —
neither in its snapshot (``valid_from <= seq < valid_to``) nor as the "before" of an item its run
changed — is deleted, with what pruned runs had staged.
Rows are deleted in batches so a large stream does not hold one long transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Max

from connections.models import SyncRun, SyncStage, SyncVersion

BATCH = 5000


def runs_to_prune(keep: int) -> list[SyncRun]:
    finished = SyncRun.objects.exclude(status__in=SyncRun.ACTIVE)
    bases = set(
        finished.filter(status=SyncRun.Status.SUCCEEDED)
        .order_by()
        .values("connection_id", "stream_id")
        .annotate(newest=Max("created_at"))
        .values_list("connection_id", "stream_id", "newest")
    )
    doomed: list[SyncRun] = []
    for connection_id in finished.order_by().values_list("connection_id", flat=True).distinct():
        runs = finished.filter(connection_id=connection_id).order_by("-created_at")
        for run in runs[keep:]:
            if (run.connection_id, run.stream_id, run.created_at) not in bases:
                doomed.append(run)
    return doomed


def unseen_versions(stream_id: int) -> models.QuerySet[SyncVersion]:
    """Versions of a stream that no published run of it can see any more."""
    published = SyncRun.objects.filter(stream_id=stream_id, seq__isnull=False, seq__gte=models.OuterRef("valid_from"))
    versions = SyncVersion.objects.filter(stream_id=stream_id)
    # A version that was replaced (not removed: a tombstone holds those) is also kept for the run that
    # replaced it: that run's change set shows it as "before".
    successor = SyncVersion.objects.filter(
        stream_id=stream_id, key=models.OuterRef("key"), valid_from=models.OuterRef("valid_to"), removed=False
    )
    ended = (
        versions.filter(valid_to__isnull=False)
        .exclude(models.Exists(published.filter(seq__lt=models.OuterRef("valid_to"))))
        .exclude(models.Exists(published.filter(seq=models.OuterRef("valid_to"))) & models.Exists(successor))
    )
    current = versions.filter(valid_to__isnull=True).exclude(models.Exists(published))
    return ended | current


def _delete_in_batches(queryset: models.QuerySet) -> int:
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:BATCH])
        if not ids:
            return deleted
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


def prune_sync_runs(keep: int | None = None) -> dict[str, int]:
    """Delete the runs ``runs_to_prune`` names and the versions only they could see; returns counts
    (``records``: versions and staged rows deleted)."""
    keep = settings.SYNC_RUNS_KEPT if keep is None else keep
    runs = records = 0
    streams: set[int] = set()
    for run in runs_to_prune(keep):
        records += _delete_in_batches(SyncStage.objects.filter(run_id=run.pk))
        SyncRun.objects.filter(pk=run.pk).delete()
        if run.stream_id is not None:
            streams.add(run.stream_id)
        runs += 1
    for stream_id in streams:
        records += _delete_in_batches(unseen_versions(stream_id))
    return {"runs": runs, "records": records}
