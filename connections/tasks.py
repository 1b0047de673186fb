"""Celery tasks: thin wrappers that load by id and call a domain function.

Each task a button starts declares its job kinds here, with ``@job_kind`` above ``@shared_task``.
Each takes its job id first (the job id is the task id, see ``jobs.queue.enqueue``). Tasks are
idempotent — a re-delivered token task joins or repeats a fetch, a re-delivered sync finds its run
claimed or finished — so they run with ``acks_late``.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from connections import alerts, jobs, syncs, tokens
from connections.alerts import channels
from connections.jobs import kinds, reaper
from connections.jobs.kinds import job_kind
from connections.models import Alert, Connection, Job, SyncRun, TokenFetch
from connections.syncs import lifecycle, retention, schedules
from connections.tokens import appinfo, probe

log = logging.getLogger(__name__)

SYNC_FRAGMENT = "connections/syncs/_progress.html"  # a sync's button answers with its run's progress


@job_kind(Job.Kind.PING)
@shared_task(bind=True, name="connections.ping")
def ping(self, job_id: str) -> dict:
    """Proves a worker process is consuming the queue (used by tests and the health page)."""
    return {"hostname": socket.gethostname(), "pid": os.getpid(), "job_id": job_id}


def _connection(job_id: str, connection_id: str) -> Connection | None:
    connection = Connection.objects.filter(pk=connection_id).select_related("team").first()
    if connection is None:
        jobs.mark_failed(job_id, "The connection was deleted before the job ran.")
    return connection


def _unless_deleted(connection_id: str, error: Exception) -> dict:
    """A job whose connection was deleted mid-way ends quietly; any other error propagates."""
    if Connection.objects.filter(pk=connection_id).exists():
        raise error
    log.info("job for connection %s stopped: the connection was deleted", connection_id)
    return {"ok": False, "deleted": True}


def _user(job_id: str):
    job = Job.objects.filter(pk=job_id).select_related("requested_by").first()
    return job.requested_by if job else None


@job_kind(Job.Kind.TOKEN_REFRESH, args=(False, TokenFetch.Reason.REFRESH), token=True, panel=True)
@job_kind(
    Job.Kind.TOKEN_REFETCH,
    args=(True, TokenFetch.Reason.REFETCH),
    started="Re-fetching the token (ignoring the saved one)…",
    token=True,
    panel=True,
)
@job_kind(
    Job.Kind.TOKEN_FETCH,
    args=(False, TokenFetch.Reason.FETCH),
    started="Getting an access token…",
    token=True,
    panel=True,
)
@shared_task(bind=True, acks_late=True, name="connections.fetch_token")
def fetch_token(
    self, job_id: str, connection_id: str, force: bool = False, reason: str = TokenFetch.Reason.FETCH
) -> dict:
    connection = _connection(job_id, connection_id)
    if connection is None:
        return {"ok": False}
    jobs.report_progress(job_id, 10, "Requesting a token from Entra ID…")
    if reason == TokenFetch.Reason.FETCH and not force and tokens.refused_since_fetched(connection):
        force, reason = True, TokenFetch.Reason.REFETCH  # Graph refused the saved token: get one that carries the grant
    try:
        outcome = tokens.fetch_token(connection, force=force, reason=reason, job_id=job_id, user=_user(job_id))
        result = outcome.as_result()
        if outcome.ok and not outcome.joined:  # a cached token too: the grants may have changed since
            jobs.report_progress(job_id, 70, "Checking which permissions are granted to the app…")
            appinfo.refresh_app_facts(connection, outcome.token)
            if reason == TokenFetch.Reason.REFETCH:
                after = tokens.reassess_after_refetch(connection, outcome.token)
                if after is not None:
                    result["reassessed"] = after.to_dict()
    except DatabaseError as error:
        return _unless_deleted(connection_id, error)
    if not outcome.ok:
        jobs.mark_failed(job_id, outcome.diagnosis.title if outcome.diagnosis else "Token fetch failed", result=result)
    return result


@job_kind(Job.Kind.TEST, started="Testing the connection: token, then one item…", panel=True, reads_item=True)
@shared_task(bind=True, acks_late=True, name="connections.test_connection")
def test_connection(self, job_id: str, connection_id: str) -> dict:
    connection = _connection(job_id, connection_id)
    if connection is None:
        return {"ok": False}
    jobs.report_progress(job_id, 10, "Getting a token, then reading one item…")
    try:
        result = probe.test_connection(connection, job_id=job_id, user=_user(job_id))
    except DatabaseError as error:
        return _unless_deleted(connection_id, error)
    if not result["ok"]:
        title = result.get("diagnosis", {}).get("title", "Test failed")
        jobs.mark_failed(job_id, title, result=result)
    return result


@shared_task(name="connections.refresh_due_tokens")
def refresh_due_tokens() -> dict:
    """Beat, every minute: queue a refresh for each token expiring within 5 minutes."""
    busy = Job.objects.filter(
        kind__in=kinds.kinds_where(token=True),
        state__in=[Job.State.QUEUED, Job.State.RUNNING],
        created_at__gte=timezone.now() - timedelta(minutes=10),
    ).values("connection_id")
    refresh = kinds.get(Job.Kind.TOKEN_REFRESH)
    queued = 0
    for row in tokens.due_for_refresh().exclude(connection_id__in=busy):
        jobs.enqueue_kind(refresh, row.connection)
        queued += 1
    return {"queued": queued}


@job_kind(
    Job.Kind.SYNC,
    started="Sync of {entity} started.",
    fragment=SYNC_FRAGMENT,
    beside=lifecycle.RUNS_BESIDE_JOBS,
)
@shared_task(bind=True, acks_late=True, name="connections.sync_entity")
def sync_entity(self, job_id: str, connection_id: str, run_id: str) -> dict:
    """Idempotent: a re-delivered task finds its run finished (or running) and returns."""
    run = (
        SyncRun.objects.filter(pk=run_id, connection_id=connection_id)
        .select_related("connection__team", "started_by")
        .first()
    )
    if run is None:
        jobs.mark_failed(job_id, "The connection or the sync run was deleted before the job ran.")
        return {"ok": False}
    return syncs.run_sync(run.connection, run, job_id)


@shared_task(name="connections.prune_sync_runs")
def prune_sync_runs() -> dict:
    """Beat, every six hours: drop sync runs beyond SYNC_RUNS_KEPT per connection."""
    return retention.prune_sync_runs()


@shared_task(name=alerts.DELIVER_TASK, acks_late=True)
def deliver_alert(alert_id: int) -> dict:
    """Send one alert to its team's channels (a failing channel is marked, never raised)."""
    alert = Alert.objects.filter(pk=alert_id).select_related("team", "connection").first()
    return channels.deliver(alert) if alert is not None else {"sent": 0, "failed": 0}


@shared_task(name=alerts.RESEND_TASK)
def resend_waiting_alerts() -> dict:
    """Beat, every 30 s (and each worker on start-up): send the alerts the broker never took."""
    return alerts.resend_waiting()


@shared_task(name="connections.check_credentials")
def check_credentials(today: str | None = None) -> dict:
    """Beat, daily: read every app's credentials from Entra and alert on expiry.

    ``today`` (ISO date) evaluates the levels for another day, e.g. a catch-up after downtime.
    """
    import datetime

    return tokens.check_credentials(datetime.date.fromisoformat(today) if today else None)


@shared_task(name="connections.resend_waiting_jobs")
def resend_waiting_jobs() -> dict:
    """Beat, every 30 s (and each worker on start-up): send the jobs the broker never took."""
    return jobs.resend_waiting()


@shared_task(name="connections.reap_stale_work")
def reap_stale_work() -> dict:
    """Beat, every REAPER_SECONDS (and each worker on start-up): end what dead workers left running."""
    return reaper.reap()


@shared_task(name=schedules.TASK)
def scheduled_sync(connection_id: str) -> dict:
    """Beat, on the connection's schedule: start a sync unless one is already queued or running."""
    connection = Connection.objects.filter(pk=connection_id).select_related("team").first()
    if connection is None:
        return {"ok": False, "deleted": True}
    active = syncs.active_run(connection)
    if active is not None:
        log.info("scheduled sync of %s skipped: run %s is still %s", connection_id, active.pk, active.status)
        return {"ok": True, "skipped": True, "run_id": str(active.pk)}
    run = syncs.start(connection, None, trigger=SyncRun.Trigger.SCHEDULE)
    return {"ok": True, "job_id": str(run.job_id)}
