"""Token-layer fixtures: sandbox apps, connections pointing at the sandbox, and the buttons.

Every connection here talks to the session's sandbox over real HTTPS; jobs run on the real
worker (``live_worker``), so tests that press buttons use ``django_db(transaction=True)``.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.cast import make_connection

GRAPH = "https://graph.microsoft.com"
CALLBACK = "http://testserver/connections/oauth/callback"
JOB_ID = re.compile(r'id="job-([0-9a-f-]{36})"')


@pytest.fixture
def sandbox_app(clean_sandbox) -> Callable[..., dict[str, Any]]:
    """``sandbox_app(roles=[...], ...)`` registers an app in the sandbox; returns ids and secret."""

    def create(**fields: Any) -> dict[str, Any]:
        return clean_sandbox.control.post("/_sandbox/apps", {"display_name": "tokens test app", **fields})

    return create


@pytest.fixture
def sandbox_connection(clean_sandbox) -> Callable[..., Any]:
    """``sandbox_connection(team, app, version="v2", delegated=False, **fields)``: a saved profile
    for ``app`` (a ``sandbox_app`` answer, or None for the demo app) on the sandbox tenant."""
    sandbox = clean_sandbox

    def create(team: Any, app: dict[str, Any] | None = None, *, version: str = "v2",
               delegated: bool = False, name: str = "sandbox users", **fields: Any) -> Any:
        v2 = version == "v2"
        secret = fields.pop("secret", None) or (app["client_secret"] if app else sandbox.client_secret)
        base = f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/{'v2.0/' if v2 else ''}"
        values: dict[str, Any] = {
            "tenant": sandbox.tenant_id,
            "client_id": app["client_id"] if app else sandbox.client_id,
            "service_url": sandbox.graph_url,
            "token_version": version,
            "token_url": base + "token",
            "authorize_url": base + "authorize",
            "scope": f"{GRAPH}/.default" if v2 else "",
            "resource": "" if v2 else GRAPH,
            "grant_type": "authorization_code" if delegated else "client_credentials",
            "redirect_url": CALLBACK,
            "entity": "users",
            **fields,
        }
        return make_connection(team, name, secret=secret, **values)

    return create


def press(client: Client, connection: Any, button: str) -> str:
    """Press an operator button the way the page does (htmx POST); the queued job's id."""
    response = client.post(reverse(f"connections:{button}", args=[connection.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content[:500]
    found = JOB_ID.search(response.content.decode())
    assert found, response.content[:500]
    return found.group(1)


def detail(client: Client, connection: Any) -> str:
    response = client.get(reverse("connections:detail", args=[connection.pk]))
    assert response.status_code == 200
    return response.content.decode()


def token_requests(sandbox: Any, client_id: str) -> int:
    """How many token requests the sandbox has answered for ``client_id`` since the last reset."""
    return int(sandbox.control.get("/_sandbox/requests")["token_requests"].get(client_id, 0))


@pytest.fixture
def run_job(live_worker, wait_for_job) -> Callable[..., Any]:
    """``run_job(client, connection, button)``: press, then wait until the worker finishes it."""

    def run(client: Client, connection: Any, button: str, timeout: float = 30) -> Any:
        return wait_for_job(press(client, connection, button), timeout=timeout)

    return run
