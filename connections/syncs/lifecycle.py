"""A sync run's lifecycle: the one module that moves a run from state to state.

QUEUED → RUNNING (``claim``) → SUCCEEDED (``succeed``) | FAILED (``fail``); a queued or running run
can also end CANCELLED (``cancel``, ``finish_cancel``) or INTERRUPTED (``interrupt``: its worker
died). The run's status is the sync's state; its job is only how the work reaches a worker, and a
run that ends short fails its job in the same transaction (a run's success is its job's through
the Celery signals).

One staleness rule holds everywhere: a running run whose heartbeat is older than
SYNC_STALE_AFTER_SECONDS has lost its worker (the reaper interrupts it, Sync now and a redelivered
task take it over, Cancel ends it at once). A run ending short keeps nothing: what it staged is
dropped and its row count zeroed, so no page sees anything of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from connections import alerts
from connections.jobs import kinds, queue
from connections.jobs.kinds import Beside, Ending
from connections.library import audit
from connections.models import Connection, Job, SyncRun
from connections.syncs import store
from microsoft import diagnoses

log = logging.getLogger(__name__)

QUEUED_STALE_AFTER = timedelta(hours=2)  # a queued run no worker picked up no longer blocks Sync now

CANCELLED_MESSAGE = "Cancelled; nothing this run read was kept."
RUN_STALE = (
    "The worker running this sync stopped reporting progress (it was killed, lost its connection "
    "or was restarted). Nothing it read is kept."
)
RUN_ENDINGS = {
    Ending.WORKER_GONE: (
        "The worker running this sync stopped (it was killed or restarted) before finishing. Nothing it read is kept."
    ),
    Ending.WORKER_LOST: (
        "The worker process running this sync was killed (out of memory, or stopped by an "
        "operator). Nothing it read is kept."
    ),
    Ending.CRASHED: "The sync stopped on an unexpected error; the worker's log has the details.",
}


class NotPublished(Exception):
    """The run was cancelled or interrupted before it could be published."""


def stale_before(now: datetime | None = None) -> datetime:
    """A running run whose heartbeat is older than this has lost its worker."""
    return (now or timezone.now()) - timedelta(seconds=settings.SYNC_STALE_AFTER_SECONDS)


def active_run(connection: Connection) -> SyncRun | None:
    """The connection's queued or running run (a constraint allows at most one), with its job."""
    return SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE).select_related("job").first()


# -- starting -------------------------------------------------------------------------------------


def start(connection: Connection, person: Any, *, trigger: str = SyncRun.Trigger.MANUAL) -> SyncRun:
    """Queue a sync of ``connection`` for ``person`` — or return the run already queued or running.

    The run and its job are created together; the partial unique constraint on active runs turns a
    double click or two people pressing at once into one run.
    """
    expire_stale(connection)
    active = active_run(connection)
    if active is not None:
        return active
    run = SyncRun(
        connection=connection,
        started_by=person if getattr(person, "pk", None) else None,
        entity=connection.entity,
        odata_select=connection.odata_select,
        odata_filter=connection.odata_filter,
        trigger=trigger,
    )
    try:
        with transaction.atomic():
            run.job = queue.enqueue_kind(kinds.get(Job.Kind.SYNC), connection, str(run.pk), user=person)
            run.save(force_insert=True)
    except IntegrityError:
        active = active_run(connection)
        if active is None:
            raise
        return active
    if trigger == SyncRun.Trigger.SCHEDULE:
        audit.record(None, connection, audit.Action.SYNCED, detail=f"{run.entity}: sync started by schedule")
    return run


def expire_stale(connection: Connection) -> None:
    """End the runs of ``connection`` that no worker will finish, so they stop blocking Sync now."""
    reap(connection)
    for run in SyncRun.objects.filter(
        connection=connection, status=SyncRun.Status.QUEUED, created_at__lt=timezone.now() - QUEUED_STALE_AFTER
    ):
        fail(run, diagnoses.sync.stale(run.created_at), user=None)


# -- running --------------------------------------------------------------------------------------


def claim(run: SyncRun) -> bool:
    """QUEUED → RUNNING (or take over a running run that lost its worker) with one conditional UPDATE."""
    now = timezone.now()
    claimable = models.Q(status=SyncRun.Status.QUEUED) | models.Q(
        status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale_before(now)
    )
    claimed = (
        SyncRun.objects.filter(pk=run.pk, cancel_requested=False)
        .filter(claimable)
        .update(
            status=SyncRun.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            pages=0,
            rows=0,
            bytes=0,
            total=None,
            message="Getting a token…",
        )
    )
    if claimed:
        store.discard(run)  # a taken-over run starts again from nothing
        run.refresh_from_db()
    return bool(claimed)


def update(run: SyncRun, **fields: Any) -> None:
    """Write ``fields`` on the run (and the object in hand)."""
    for name, value in fields.items():
        setattr(run, name, value)
    SyncRun.objects.filter(pk=run.pk).update(**fields)


def heartbeat(run: SyncRun, job_id: str | None, message: str | None = None, **fields: Any) -> None:
    """The run is alive: its heartbeat (and ``message``, ``fields``) written, its job's progress told."""
    if message is not None:
        fields["message"] = message[:300]
    update(run, heartbeat_at=timezone.now(), **fields)
    if job_id and message is not None:
        queue.report_progress(job_id, run.percent or 0, message)


def should_stop(run: SyncRun) -> bool:
    """Between pages: someone pressed Cancel, the run was interrupted, or it is gone."""
    state = SyncRun.objects.filter(pk=run.pk).values_list("status", "cancel_requested").first()
    return state is None or state[0] != SyncRun.Status.RUNNING or state[1]


# -- finishing ------------------------------------------------------------------------------------


def succeed(run: SyncRun, publish: Callable[[int], store.Counts], user: Any, **fields: Any) -> store.Counts:
    """RUNNING → SUCCEEDED in one transaction: the run must still be running and not cancelled,
    ``publish`` writes its versions under the connection's next sequence number, and the run is
    marked succeeded with the counts and ``fields``. Raises ``NotPublished`` (keeping nothing) when
    the run was cancelled or interrupted meanwhile."""
    with transaction.atomic():
        Connection.objects.select_for_update().filter(pk=run.connection_id).values_list("pk", flat=True).first()
        state = SyncRun.objects.select_for_update().filter(pk=run.pk).values_list("status", "cancel_requested").first()
        if state is None or state[0] != SyncRun.Status.RUNNING or state[1]:
            raise NotPublished()
        seq = (SyncRun.objects.filter(connection_id=run.connection_id).aggregate(m=models.Max("seq"))["m"] or 0) + 1
        counts = publish(seq)
        now = timezone.now()
        pages = f"{run.pages} page{'s' if run.pages != 1 else ''}"
        values = {
            "status": SyncRun.Status.SUCCEEDED,
            "message": f"Read {counts.rows} rows in {pages}.",
            "seq": seq,
            "finished_at": now,
            "heartbeat_at": now,
            "rows": counts.rows,
            "error": {},
            **fields,
        }
        if run.previous_id is not None:
            values.update(added=counts.added, changed=counts.changed, removed=counts.removed)
        update(run, **values)
    compared = f"; +{counts.added} ~{counts.changed} −{counts.removed}" if run.previous_id is not None else ""
    audit.record(
        user,
        run.connection,
        audit.Action.SYNCED,
        detail=f"{run.entity}: succeeded, {counts.rows} rows ({run.get_mode_display().lower()}){compared}{_by(run)}",
    )
    alerts.observe(run.connection, alerts.SYNC, ok=True)
    return counts


def fail(run: SyncRun, diagnosis: diagnoses.Diagnosis, user: Any, kept: bool = False) -> dict[str, Any]:
    """→ FAILED with ``diagnosis``, its job failed with it; a failed run keeps no records. ``kept``:
    the diagnosis is kept elsewhere too (the token's error, the Graph refusal)."""
    error = {**diagnosis.to_dict(), "kept": kept}
    result = {"ok": False, "run_id": str(run.pk), "rows": run.rows, "pages": run.pages, "diagnosis": error}
    # The worker that ran it has the last word: failed, whatever the run's status says by now.
    _end(run, SyncRun.Status.FAILED, diagnosis.title, error=error, job_result=result, only_active=False)
    audit.record(
        user,
        run.connection,
        audit.Action.SYNCED,
        detail=f"{run.entity}: failed after {run.pages} pages{_by(run)}: {diagnosis.title}",
    )
    alerts.observe(run.connection, alerts.SYNC, ok=False, detail=diagnosis.title)
    return result


def stopped(run: SyncRun) -> dict[str, Any]:
    """The worker saw the run cancelled or interrupted under it (or deleted): drop what it staged,
    and finish a cancel that was requested while it ran."""
    if not SyncRun.objects.filter(pk=run.pk).exists():
        log.info("sync run %s stopped: it was deleted with its connection", run.pk)
        return {"ok": False, "run_id": str(run.pk), "deleted": True}
    store.discard(run)
    run.refresh_from_db()
    if run.cancel_requested and run.status in SyncRun.ACTIVE:
        finish_cancel(run)
        run.refresh_from_db()
    return {"ok": False, "run_id": str(run.pk), "stopped": True, "status": run.status}


def cancel(run: SyncRun, user: Any) -> str:
    """Cancel ``run`` for ``user`` (an operator); returns what the page should say. A queued run,
    or a running one that lost its worker, is cancelled at once; a running one is asked to stop at
    its next page (and a publish in progress sees the request and keeps nothing)."""
    run.refresh_from_db()
    if run.status not in SyncRun.ACTIVE:
        return f"This run already ended ({run.get_status_display().lower()})."
    name = getattr(user, "username", "") or "someone"
    lost = run.status == SyncRun.Status.RUNNING and (run.heartbeat_at is None or run.heartbeat_at < stale_before())
    if run.status == SyncRun.Status.QUEUED or lost:
        if not _end(run, SyncRun.Status.CANCELLED, f"Cancelled by {name}; nothing this run read was kept."):
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
    if _end(run, SyncRun.Status.CANCELLED, CANCELLED_MESSAGE):
        audit.record(
            None, run.connection, audit.Action.SYNCED, detail=f"{run.entity}: cancelled after {run.pages} pages"
        )


def interrupt(run: SyncRun, message: str) -> bool:
    """→ INTERRUPTED with ``message``, for a run whose worker died; its job fails with it and
    nothing of it stays visible. Harmless on a finished run (returns False then). The next run
    starts from the last published snapshot, exactly as if this one never happened."""
    diagnosis = diagnoses.sync.interrupted(message, run.heartbeat_at or run.created_at, run.pages)
    if not _end(run, SyncRun.Status.INTERRUPTED, message, error={**diagnosis.to_dict(), "kept": False}):
        return False
    audit.record(None, run.connection, audit.Action.SYNCED, detail=f"{run.entity}: interrupted: {message}"[:500])
    return True


def _end(
    run: SyncRun,
    status: str,
    message: str,
    *,
    error: dict[str, Any] | None = None,
    job_result: dict[str, Any] | None = None,
    only_active: bool = True,
) -> bool:
    """End ``run`` without publishing it, and fail its job with the same ``message``, in one
    transaction: the one place a run stops short. Only a queued or running run is ended, unless
    ``only_active`` is False. Returns False when nothing was ended."""
    message = message[:300]
    now = timezone.now()
    with transaction.atomic():
        runs = SyncRun.objects.filter(pk=run.pk)
        if only_active:
            runs = runs.filter(status__in=SyncRun.ACTIVE)
        # rows: no partial figure that looks like data
        ended = runs.update(status=status, finished_at=now, message=message, error=error or {}, rows=0) > 0
        if ended or not only_active:
            store.discard(run)
            if run.job_id:
                queue.mark_failed(str(run.job_id), message, result=job_result)
    if not ended and only_active:
        return False
    run.status, run.finished_at, run.message, run.error, run.rows = status, now, message, error or {}, 0
    return True


def _by(run: SyncRun) -> str:
    return ", by schedule" if run.trigger == SyncRun.Trigger.SCHEDULE else ""


# -- what the job layer asks of runs (the sync kind's ``Beside``) ---------------------------------


def reap(connection: Connection | None = None) -> int:
    """Interrupt the running runs (of one connection, or everywhere) whose heartbeat is stale."""
    runs = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale_before())
    if connection is not None:
        runs = runs.filter(connection=connection)
    return sum(interrupt(run, RUN_STALE) for run in runs.select_related("connection"))


def abandon(job_id: str, ending: Ending) -> bool:
    """The job of a run ended without its task's say: interrupt its active run (which fails the job)."""
    runs = SyncRun.objects.filter(job_id=job_id, status__in=SyncRun.ACTIVE).select_related("connection")
    return sum(interrupt(run, RUN_ENDINGS[ending]) for run in runs) > 0


def stuck(queued_before: datetime) -> int:
    """Runs that should be moving but are not: running without a heartbeat, or queued for long."""
    return SyncRun.objects.filter(
        models.Q(status=SyncRun.Status.RUNNING, heartbeat_at__lt=stale_before())
        | models.Q(status=SyncRun.Status.QUEUED, created_at__lt=queued_before)
    ).count()


RUNS_BESIDE_JOBS = Beside(abandon=abandon, reap=reap, stuck=stuck)
