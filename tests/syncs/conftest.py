"""Sync fixtures: sandbox apps and connections, the sandbox's own listing, two ways to run a sync,
a second sandbox of 2,500 users, and a worker of a test's own (one it may kill).

``sync_inline`` runs ``sync.run_sync`` in the test process (no worker; a page size can be set),
``press_sync`` presses **Sync now** the way the page does and lets the real worker run it.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from connections.jobs import actions
from connections.syncs import engine as sync
from connections.models import SyncRun
from tests.cast import make_connection

GRAPH = "https://graph.microsoft.com"
RUN_ID = re.compile(r'data-run="([0-9a-f-]{36})"')


@pytest.fixture
def sandbox_app(clean_sandbox) -> Callable[..., dict[str, Any]]:
    """``sandbox_app(roles=[...], requested_roles=[...])``: a new app in the sandbox tenant."""

    def create(**fields: Any) -> dict[str, Any]:
        return clean_sandbox.control.post("/_sandbox/apps", {"display_name": "syncs test app", **fields})

    return create


@pytest.fixture
def sandbox_connection(clean_sandbox) -> Callable[..., Any]:
    """``sandbox_connection(team, app=None, name=..., **fields)``: a client-credentials profile on the
    sandbox tenant for ``app`` (a ``sandbox_app`` answer; None: the demo app, User.Read.All)."""
    sandbox = clean_sandbox

    def create(team: Any, app: dict[str, Any] | None = None, *, name: str = "sandbox users", **fields: Any) -> Any:
        values: dict[str, Any] = {
            "tenant": sandbox.tenant_id,
            "client_id": app["client_id"] if app else sandbox.client_id,
            "service_url": sandbox.graph_url,
            "token_url": f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/token",
            "scope": f"{GRAPH}/.default",
            "entity": "users",
            **fields,
        }
        return make_connection(team, name, secret=app["client_secret"] if app else sandbox.client_secret, **values)

    return create


def sandbox_listing(sandbox: Any, entity: str = "users", **params: str) -> list[dict[str, Any]]:
    """Every item of ``entity`` as the sandbox itself lists it (demo token with every directory role)."""
    app = sandbox.control.post("/_sandbox/apps", {"display_name": "lister", "roles": ["Directory.Read.All"]})
    session = sandbox.session()
    session.headers["Authorization"] = f"Bearer {sandbox.token(app['client_id'], app['client_secret'])}"
    items: list[dict[str, Any]] = []
    url: str | None = f"{sandbox.graph_url}/{entity}"
    query: dict[str, str] | None = {"$top": "999", **params}
    while url:
        body = session.get(url, params=query, timeout=10).json()
        items += body["value"]
        url, query = body.get("@odata.nextLink"), None
    return items


@pytest.fixture
def sync_inline(db) -> Callable[..., SyncRun]:
    """``sync_inline(connection, user, page_size=None)``: start a run and run it here, to the end."""

    def run(connection: Any, user: Any, page_size: int | None = None) -> SyncRun:
        job = actions.start(connection, "sync", user)
        sync_run = SyncRun.objects.get(job=job)
        sync.run_sync(connection, sync_run, str(job.pk), page_size=page_size)
        sync_run.refresh_from_db()
        return sync_run

    return run


def press_sync(client: Client, connection: Any) -> SyncRun:
    """Press Sync now as the page does (htmx POST); the run it started."""
    response = client.post(reverse("connections:sync_start", args=[connection.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content[:500]
    found = RUN_ID.search(response.content.decode())
    assert found, response.content[:500]
    return SyncRun.objects.get(pk=found.group(1))


@pytest.fixture
def wait_for_run(live_worker) -> Callable[..., SyncRun]:
    def wait(run: SyncRun, timeout: float = 30) -> SyncRun:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.is_finished:
                return run
            time.sleep(0.1)
        raise TimeoutError(f"run {run.pk} still {run.status} after {timeout} s: {run.message}")

    return wait


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
def own_worker(big_sandbox, broker_env, tmp_path, monkeypatch):
    """A real worker of this test's own, on a queue of its own (so it may be killed), reading the
    2,500-user sandbox. Tasks queued during the test go to it; afterwards they go to the session's."""
    from connections.models import WorkerHeartbeat
    from graphconn.celery import app
    from tests.worker import WorkerProcess, test_database_url

    queue = f"own-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, **broker_env, "CELERY_QUEUE": queue, "DATABASE_URL": test_database_url(),
           "GRAPH_SANDBOX_URL": big_sandbox.base_url, "GRAPH_CA_BUNDLE": str(Path(big_sandbox.ca_path)),
           "APP_PERMISSIONS_URL_TEMPLATE": big_sandbox.portal_url,
           "WORKER_HEARTBEAT_SECONDS": "1", "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
           "SECRET_KEY": settings.SECRET_KEY}
    worker = WorkerProcess(env, tmp_path / "own-worker.log", concurrency=1, name="own-worker")
    session_queue = app.conf.task_default_queue
    monkeypatch.setattr(settings, "CELERY_TASK_DEFAULT_QUEUE", queue)
    app.conf.task_default_queue = queue
    try:
        worker.start()
        deadline = time.monotonic() + 60
        while not WorkerHeartbeat.objects.filter(hostname__startswith="own-worker@").exists():
            assert worker.proc.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "own-worker.log").read_text()[-3000:])
            time.sleep(0.2)
        yield worker
    finally:
        app.conf.task_default_queue = session_queue
        worker.stop()
        WorkerHeartbeat.objects.filter(hostname__startswith="own-worker@").delete()  # a killed worker leaves its row


def connection_to(sandbox: Any, team: Any, **fields: Any) -> Any:
    """A client-credentials profile on ``sandbox`` (its demo app)."""
    return make_connection(team, fields.pop("name", "big users"), secret=sandbox.client_secret, **{
        "tenant": sandbox.tenant_id, "client_id": sandbox.client_id, "service_url": sandbox.graph_url,
        "token_url": f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/token", "scope": f"{GRAPH}/.default",
        "entity": "users", **fields})
