"""Sync fixtures: sandbox apps and connections, the sandbox's own listing, and two ways to run a sync.

``sync_inline`` runs ``sync.run_sync`` in the test process (no worker; a page size can be set),
``press_sync`` presses **Sync now** the way the page does and lets the real worker run it.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from connections import actions, sync
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
