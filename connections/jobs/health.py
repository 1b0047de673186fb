"""Health of what the dashboard depends on: database, broker, at least one live worker."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from connections.jobs import kinds
from connections.models import Alert, Job, WorkerHeartbeat

HEALTH_TIMEOUT = 1.0  # seconds per dependency: a frozen broker must not hold /healthz


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check("database", True, connection.vendor)
    except Exception as exc:
        return Check("database", False, f"{type(exc).__name__}: database not reachable")


def check_broker() -> Check:
    url = settings.CELERY_BROKER_URL
    scheme = urlsplit(url).scheme
    try:
        if scheme == "filesystem":
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"]
            if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
                return Check("broker", False, "broker folder is missing or not writable")
            return Check("broker", True, "filesystem")
        if scheme in ("redis", "rediss"):
            client = redis.Redis.from_url(
                url, socket_connect_timeout=HEALTH_TIMEOUT, socket_timeout=HEALTH_TIMEOUT, retry=Retry(NoBackoff(), 0)
            )  # one try: /healthz stays fast
            try:
                client.ping()
            finally:
                client.close()
            return Check("broker", True, "redis")
        from graphconn.celery import app

        with app.connection_for_write() as conn:
            # kombu takes seconds as a float; its stubs say int.
            conn.ensure_connection(max_retries=1, timeout=HEALTH_TIMEOUT)  # type: ignore[arg-type]
        return Check("broker", True, scheme)
    except Exception as exc:
        return Check("broker", False, f"{type(exc).__name__}: broker not reachable")


def check_workers() -> Check:
    try:
        since = timezone.now() - timedelta(seconds=settings.WORKER_STALE_AFTER_SECONDS)
        alive = WorkerHeartbeat.objects.filter(last_seen__gte=since).count()
    except Exception as exc:
        return Check("worker", False, f"{type(exc).__name__}: heartbeat unreadable")
    if alive:
        return Check("worker", True, f"{alive} worker(s) alive")
    return Check(
        "worker",
        False,
        f"no worker heartbeat in the last {settings.WORKER_STALE_AFTER_SECONDS} s — is the Celery worker running?",
    )


def check_work() -> Check:
    """Runs and jobs that should be moving but are not: a running sync without a heartbeat, work
    queued for long, or jobs and alerts still waiting for the broker."""
    try:
        now = timezone.now()
        queued_long = now - timedelta(seconds=settings.QUEUED_STUCK_AFTER_SECONDS)
        stuck_runs = sum(spec.beside.stuck(queued_long) for spec in kinds.KINDS.values() if spec.beside is not None)
        stuck_jobs = Job.objects.filter(state=Job.State.QUEUED, created_at__lt=queued_long).count()
        waiting = Job.objects.filter(state=Job.State.QUEUED, sent_at__isnull=True, send_failures__gt=0).count()
        alerts_waiting = Alert.objects.filter(sent_at__isnull=True, send_failures__gt=0).count()
    except Exception as exc:
        return Check("work", False, f"{type(exc).__name__}: runs and jobs unreadable")
    problems = [
        text
        for count, text in (
            (stuck_runs, f"{stuck_runs} sync run(s) stuck"),
            (stuck_jobs, f"{stuck_jobs} job(s) queued for long"),
            (waiting, f"{waiting} job(s) waiting for the broker"),
            (alerts_waiting, f"{alerts_waiting} alert(s) waiting for the broker"),
        )
        if count
    ]
    return Check("work", not problems, "; ".join(problems) or "nothing stuck")


def run_checks() -> list[Check]:
    return [check_database(), check_broker(), check_workers(), check_work()]


def overall(checks: list[Check]) -> str:
    """ok; degraded (pages work, background work does not); unhealthy (no database: nothing works)."""
    if all(check.ok for check in checks):
        return "ok"
    return "unhealthy" if not next(c for c in checks if c.name == "database").ok else "degraded"
