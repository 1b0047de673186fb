"""Fault-suite fixtures: a way to the broker the tests can cut, freeze and restore, and workers of
the test's own that it may kill."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings

from tests.netproxy import TcpProxy
from tests.worker import WorkerProcess, test_database_url


def reset_producer_pool() -> None:
    """The web process's Celery producer connects anew with the current broker settings."""
    from kombu import pools

    from graphconn.celery import app

    pools.reset()  # kombu keeps one pool per broker URL, process-wide
    app._pool = None
    app.amqp._producer_pool = None


@dataclass
class BrokerLink:
    """The web's way to the broker (the worker keeps its own)."""

    cut: Callable[[], None]
    restore: Callable[[], None]
    freeze: Callable[[], None] | None = None
    thaw: Callable[[], None] | None = None


@pytest.fixture
def broker_link(settings, broker_env, tmp_path) -> Iterator[BrokerLink]:
    """Redis: a TCP proxy in front of it. Filesystem broker: the producer writes through a symlink
    to the queue folder, which the test removes and puts back."""
    from graphconn.celery import app

    saved = app.conf.broker_write_url, app.conf.broker_transport_options
    if settings.CELERY_BROKER_URL.startswith("redis"):
        real = urlsplit(settings.CELERY_BROKER_URL)
        proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 6379)
        proxy.start()
        url = urlunsplit(real._replace(netloc=f"127.0.0.1:{proxy.port}"))
        settings.CELERY_BROKER_URL = url
        app.conf.broker_write_url = url  # what the producer connects to
        link = BrokerLink(proxy.stop, proxy.start, proxy.freeze, proxy.thaw)
        stop = proxy.stop
    else:
        queue = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        door = tmp_path / "queue-door"
        door.symlink_to(queue, target_is_directory=True)
        options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "data_folder_out": str(door)}
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
        app.conf.broker_transport_options = options
        link = BrokerLink(door.unlink, lambda: door.symlink_to(queue, target_is_directory=True))
        stop = lambda: None  # noqa: E731
    reset_producer_pool()
    yield link
    if link.thaw:
        link.thaw()
    stop()
    app.conf.broker_write_url, app.conf.broker_transport_options = saved
    reset_producer_pool()


@pytest.fixture
def own_worker(django_db_blocker, sandbox, broker_env, tmp_path, settings) -> Iterator[Callable[..., WorkerProcess]]:
    """``own_worker(**env)``: a real worker on a queue of this test only (the session's worker never
    takes its tasks), so the test may kill it. Every worker started is stopped at the end."""
    from graphconn.celery import app

    queue = f"faults-{uuid.uuid4().hex[:8]}"
    saved = app.conf.task_default_queue
    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE = queue
    started: list[WorkerProcess] = []

    def start(**extra: str) -> WorkerProcess:
        env = {
            **os.environ,
            **broker_env,
            "CELERY_QUEUE": queue,
            "DATABASE_URL": test_database_url(),
            "GRAPH_SANDBOX_URL": sandbox.base_url,
            "GRAPH_CA_BUNDLE": sandbox.ca_path,
            "APP_PERMISSIONS_URL_TEMPLATE": sandbox.portal_url,
            "WORKER_HEARTBEAT_SECONDS": "1",
            "FIELD_ENCRYPTION_KEYS": ",".join(django_settings.FIELD_ENCRYPTION_KEYS),
            "SECRET_KEY": django_settings.SECRET_KEY,
            **extra,
        }
        worker = WorkerProcess(
            env, tmp_path / f"worker-{len(started)}.log", concurrency=2, name=f"{queue}-{len(started)}"
        )
        worker.start()
        started.append(worker)
        with django_db_blocker.unblock():
            worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()
    app.conf.task_default_queue = saved
