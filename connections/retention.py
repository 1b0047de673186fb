"""Keeping the database from growing without end: old sync runs and their records go.

Per connection the newest ``SYNC_RUNS_KEPT`` finished runs stay, and so does each entity's newest
successful run whatever its age (the next delta run and the comparison start from it). Queued or
running runs are never touched. Records are deleted in batches so a large run does not hold one
long transaction.
"""
from __future__ import annotations

from django.conf import settings
from django.db.models import Max

from .models import SyncRecord, SyncRun

BATCH = 5000


def runs_to_prune(keep: int) -> list[SyncRun]:
    finished = SyncRun.objects.exclude(status__in=SyncRun.ACTIVE)
    bases = set(
        finished.filter(status=SyncRun.Status.SUCCEEDED).order_by().values("connection_id", "entity")
        .annotate(newest=Max("created_at")).values_list("connection_id", "entity", "newest")
    )
    doomed: list[SyncRun] = []
    for connection_id in finished.order_by().values_list("connection_id", flat=True).distinct():
        runs = finished.filter(connection_id=connection_id).order_by("-created_at")
        for run in runs[keep:]:
            if (run.connection_id, run.entity, run.created_at) not in bases:
                doomed.append(run)
    return doomed


def prune_sync_runs(keep: int | None = None) -> dict[str, int]:
    """Delete the runs ``runs_to_prune`` names, records first in batches; returns counts."""
    keep = settings.SYNC_RUNS_KEPT if keep is None else keep
    runs = records = 0
    for run in runs_to_prune(keep):
        while True:
            ids = list(SyncRecord.objects.filter(run=run).values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            records += SyncRecord.objects.filter(pk__in=ids).delete()[0]
        SyncRun.objects.filter(pk=run.pk).delete()
        runs += 1
    return {"runs": runs, "records": records}
