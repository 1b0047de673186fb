"""What the API asks of the rest of graphconn: starting work, cancelling, reading a run's items and
changes, exporting. One adapter, so the routes name no engine, store or queue module themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db import models

from connections import jobs, syncs
from connections.models import Connection, Job, SyncRun, SyncVersion
from connections.syncs import export, results

EXPORT_CHUNK = 2000
CHANGE_KINDS = ("added", "changed", "removed")

# What the API's action names start: the same job kinds the pages' buttons start.
ACTIONS: dict[str, Job.Kind] = {
    "token": Job.Kind.TOKEN_FETCH,
    "token-refetch": Job.Kind.TOKEN_REFETCH,
    "test": Job.Kind.TEST,
    "sync": Job.Kind.SYNC,
}


def start(connection: Connection, action: str, user: Any) -> Job:
    """Queue the work (or return the same job already queued or running)."""
    kind = ACTIONS[action]
    if kind == Job.Kind.SYNC:
        run = syncs.start(connection, user)
        assert run.job is not None  # a run started from a request always has its job
        return run.job
    return jobs.start(connection, kind, user)


def cancel(run: SyncRun, user: Any) -> str:
    """Cancel a run; returns what the pages would say."""
    said = syncs.cancel(run, user)
    run.refresh_from_db()
    return said


def next_run(connection: Connection) -> Any:
    """When the connection's schedule runs next (None: not scheduled)."""
    schedule = getattr(connection, "sync_schedule", None)
    return schedule.next_run() if schedule is not None else None


def records(run: SyncRun, query: str = "") -> models.QuerySet[SyncVersion]:
    """The run's items in key order, those whose JSON text contains ``query`` when given."""
    return results.search(results.snapshot(run), query).order_by("key")


def change_count(run: SyncRun, kind: str) -> int:
    return int(getattr(run, kind) or 0)


def changes(run: SyncRun, kind: str, offset: int, limit: int) -> list[results.Change]:
    return results.changes(run, kind, offset, limit)


def as_text(value: Any) -> str:
    return results.as_text(value)


def columns_for(run: SyncRun) -> list[str]:
    return results.columns_for(run)


def export_lines(run: SyncRun, fmt: str) -> Iterator[str]:
    """The run's items as CSV or JSON Lines, read from the database in chunks."""
    data = results.snapshot(run).order_by("key").values_list("data", flat=True).iterator(chunk_size=EXPORT_CHUNK)
    if fmt == "jsonl":
        return (json.dumps(d, ensure_ascii=False) + "\n" for d in data)
    return export.csv_lines(columns_for(run), data)
