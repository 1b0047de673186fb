"""Sync fixtures: a second sandbox of 2,500 users, and a worker of a test's own (one it may kill).

The sandbox apps and connections, the sandbox's own listing and the two ways to run a sync
(``sync_inline`` in the test process, ``press_sync`` + ``wait_for_run`` on the real worker) are the
shared ones (tests/factories.py). ``make_sandbox_connection(big, team)`` points a connection at
the 2,500-user sandbox.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings


@pytest.fixture(scope="session")
def big_sandbox(sandbox, tmp_path_factory) -> Any:
    """A second sandbox of 2,500 users, trusted through the same CA as the session's one."""
    from graphsandbox.testing import start_sandbox

    state = tmp_path_factory.mktemp("big-sandbox")
    for name in ("ca.pem", "ca-key.pem"):
        shutil.copy(Path(sandbox.ca_path).parent / name, state / name)
    running = start_sandbox(users=2500, groups=3, seed=7, state_dir=state)
    host = urlsplit(running.base_url)
    allowed = settings.GRAPH_ALLOWED_HOSTS
    settings.GRAPH_ALLOWED_HOSTS = [*allowed, f"{host.hostname}:{host.port}"]
    yield running
    settings.GRAPH_ALLOWED_HOSTS = allowed
    running.stop()


@pytest.fixture
def big(big_sandbox) -> Any:
    """The 2,500-user sandbox back in its start state."""
    big_sandbox.control.post("/_sandbox/reset", {})
    return big_sandbox


@pytest.fixture
def own_worker_env() -> dict[str, str]:
    """Settings of the own worker beyond the tests' (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def own_worker(big_sandbox, broker_env, tmp_path, monkeypatch, own_worker_env):
    """A real worker of this test's own, on a queue of its own (so it may be killed), reading the
    2,500-user sandbox (with ``own_worker_env``). Tasks queued during the test go to it; afterwards
    they go to the session's."""
    from connections.models import WorkerHeartbeat
    from graphconn.celery import app
    from tests.worker import WorkerProcess, test_database_url

    queue = f"own-{os.getpid()}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        **broker_env,
        "CELERY_QUEUE": queue,
        "DATABASE_URL": test_database_url(),
        "GRAPH_SANDBOX_URL": big_sandbox.base_url,
        "GRAPH_CA_BUNDLE": str(Path(big_sandbox.ca_path)),
        "APP_PERMISSIONS_URL_TEMPLATE": big_sandbox.portal_url,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
        **own_worker_env,
    }
    worker = WorkerProcess(env, tmp_path / "own-worker.log", concurrency=1, name="own-worker")
    session_queue = app.conf.task_default_queue
    monkeypatch.setattr(settings, "CELERY_TASK_DEFAULT_QUEUE", queue)
    app.conf.task_default_queue = queue
    try:
        worker.start()
        deadline = time.monotonic() + 60
        while not WorkerHeartbeat.objects.filter(hostname__startswith="own-worker@").exists():
            assert worker.proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "own-worker.log"
            ).read_text()[-3000:]
            time.sleep(0.2)
        yield worker
    finally:
        app.conf.task_default_queue = session_queue
        worker.stop()
        WorkerHeartbeat.objects.filter(hostname__startswith="own-worker@").delete()  # a killed worker leaves its row
