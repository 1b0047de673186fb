"""/healthz reports database, broker and worker, and answers 503 when one is down."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from tests.netproxy import TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_health(client, status: int, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/healthz")
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.json()
            return response.json()
        time.sleep(0.3)


@pytest.mark.smoke
def test_it_is_healthy_with_a_live_worker(client, live_worker):
    body = _wait_health(client, 200)
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "worker", "work"}
    assert all(check["ok"] for check in body["checks"].values())


def test_it_is_public_and_not_cached(client, live_worker):
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]


def test_it_goes_503_when_the_broker_is_unreachable_and_back(client, live_worker, settings, tmp_path):
    if settings.CELERY_BROKER_URL.startswith("redis"):
        real = urlsplit(settings.CELERY_BROKER_URL)
        proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 6379)
        proxy.start()
        settings.CELERY_BROKER_URL = urlunsplit(real._replace(netloc=f"127.0.0.1:{proxy.port}"))
        cut, restore = proxy.stop, proxy.start
    else:
        folder = tmp_path / "queue"
        folder.mkdir()
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
            **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            "data_folder_out": str(folder),
        }
        cut, restore = (lambda: folder.rmdir()), (lambda: folder.mkdir())

    _wait_health(client, 200)
    cut()
    body = _wait_health(client, 503)
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    restore()
    _wait_health(client, 200)


def test_it_goes_503_without_a_worker_heartbeat(client, db, settings):
    from connections.models import WorkerHeartbeat

    WorkerHeartbeat.objects.all().delete()
    settings.WORKER_STALE_AFTER_SECONDS = 0
    body = client.get("/healthz").json()
    assert body["checks"]["worker"]["ok"] is False
    assert "worker" in body["checks"]["worker"]["detail"]


def test_liveness_and_readiness_are_public_and_ignore_the_broker(client, db, settings):
    """An orchestrator restarts on liveness and routes on readiness: neither waits on the broker."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    live, ready, report = client.get("/healthz/live"), client.get("/healthz/ready"), client.get("/healthz")
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    assert ready.status_code == 200 and ready.json()["checks"]["database"]["ok"] is True
    assert report.status_code == 503 and report.json()["checks"]["broker"]["ok"] is False
    assert "no-cache" in live["Cache-Control"] and "no-cache" in ready["Cache-Control"]
