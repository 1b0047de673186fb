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

from .models import WorkerHeartbeat


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
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
            return Check("broker", True, "redis")
        from graphconn.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
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
    return Check("worker", False, "no worker heartbeat in the last "
                 f"{settings.WORKER_STALE_AFTER_SECONDS} s — is the Celery worker running?")


def run_checks() -> list[Check]:
    return [check_database(), check_broker(), check_workers()]
