"""Cancel: an operator stops a sync run; nothing of it stays visible.

A queued run, or a running one whose worker stopped reporting, is cancelled at once. A running
run is asked to stop: its worker checks between pages, drops what it staged and marks the run
cancelled (``finish_cancel``); if the request arrives while the run is being published, the
publishing transaction sees it and keeps nothing.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from connections.library import audit
from connections.models import SyncRun
from connections.syncs import store as syncstore
from connections.syncs.store import STALE_AFTER

CANCELLED_MESSAGE = "Cancelled; nothing this run read was kept."


def cancel(run: SyncRun, user: Any) -> str:
    """Cancel ``run`` for ``user`` (an operator); returns what the page should say."""
    run.refresh_from_db()
    if run.status not in SyncRun.ACTIVE:
        return f"This run already ended ({run.get_status_display().lower()})."
    name = getattr(user, "username", "") or "someone"
    stale = run.status == SyncRun.Status.RUNNING and (
        run.heartbeat_at is None or run.heartbeat_at < timezone.now() - STALE_AFTER
    )
    if run.status == SyncRun.Status.QUEUED or stale:
        if not syncstore.end_run(
            run, SyncRun.Status.CANCELLED, f"Cancelled by {name}; nothing this run read was kept.", job_id=run.job_id
        ):
            return "This run already ended."
        audit.record(user, run.connection, audit.Action.SYNCED, detail=f"{run.entity}: cancelled by {name}")
        return "Sync cancelled."
    updated = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
        cancel_requested=True, message=f"Cancelling (asked by {name})…"
    )
    if not updated:
        return "This run already ended."
    audit.record(user, run.connection, audit.Action.SYNCED, detail=f"{run.entity}: cancel asked by {name}")
    return "Cancelling: the worker stops at the next page."


def finish_cancel(run: SyncRun) -> None:
    """Called by the worker that saw the cancel request: mark the run cancelled, keep nothing."""
    if syncstore.end_run(run, SyncRun.Status.CANCELLED, CANCELLED_MESSAGE, job_id=run.job_id):
        audit.record(
            None, run.connection, audit.Action.SYNCED, detail=f"{run.entity}: cancelled after {run.pages} pages"
        )
