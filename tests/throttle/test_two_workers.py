"""Two real workers syncing one tenant with one app against a small budget (the sandbox's own cost
model counts every request), and a 429 Graph forces anyway: waited out, kept on the run, said."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from connections.models import WorkerHeartbeat
from tests.factories import press_sync

pytestmark = pytest.mark.django_db(transaction=True)

BUDGET = 20  # resource units per ten seconds, the sandbox's and ours


def sandbox_costs(sandbox) -> dict | None:
    try:
        return sandbox.control.get("/_sandbox/costs")
    except Exception:  # noqa: BLE001  (a sandbox without the cost model answers 404)
        return None


# The partitioned pair reads a budget-bound tenant for about a minute: a fleet-scale test, run by CI.
@pytest.fixture(params=[1, pytest.param(4, marks=pytest.mark.slow)], ids=["serial", "partitioned"])
def two_workers(request, clean_sandbox, broker_env, tmp_path, monkeypatch) -> Iterator[list[object]]:
    """Two worker processes of this test's own (one pool thread each) on a queue of their own, each
    told Graph's budget is BUDGET units and reading 50 users a page, serially or in four
    partitions (``request.param``; the sandbox's 250 users are counted as large enough)."""
    from graphconn.celery import app
    from tests.worker import WorkerProcess, test_database_url

    if sandbox_costs(clean_sandbox) is None:
        pytest.skip("waits for the sandbox's cost model (POST /_sandbox/costs: resource-unit budget and headers)")
    queue = f"throttle-{os.getpid()}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        **broker_env,
        "CELERY_QUEUE": queue,
        "DATABASE_URL": test_database_url(),
        "GRAPH_SANDBOX_URL": clean_sandbox.base_url,
        "GRAPH_CA_BUNDLE": str(Path(clean_sandbox.ca_path)),
        "APP_PERMISSIONS_URL_TEMPLATE": clean_sandbox.portal_url,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
        "GRAPH_THROTTLE_UNITS": str(BUDGET),
        "SYNC_PAGE_SIZE": "50",
        "SYNC_PARTITIONS": str(request.param),
        "SYNC_PARTITIONS_FROM": "1",
        "SYNC_PARTITIONS_SLOWER_THAN_MS": "0",
    }
    names = [f"throttle-{i}-{os.getpid()}" for i in range(2)]
    workers = [WorkerProcess(env, tmp_path / f"{name}.log", concurrency=1, name=name) for name in names]
    session_queue = app.conf.task_default_queue
    monkeypatch.setattr(settings, "CELERY_TASK_DEFAULT_QUEUE", queue)
    app.conf.task_default_queue = queue
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_ready()
        yield request.param, workers
    finally:
        app.conf.task_default_queue = session_queue
        for worker in workers:
            worker.stop()
        WorkerHeartbeat.objects.filter(hostname__startswith="throttle-").delete()


def wait_finished(run, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.2)
    raise TimeoutError(f"run {run.pk} still {run.status}: {run.message}")


def test_two_workers_on_one_tenant_stay_within_its_budget(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, two_workers
):
    partitions, _ = two_workers
    clean_sandbox.control.post("/_sandbox/costs", {"budget": True, "budget_units": BUDGET})
    try:
        # Two connections, one app, one tenant: one budget. Each serial run costs 11 units (the
        # deltaLink, five pages of 50 users at 2), together more than the budget allows in
        # one window; a partitioned one far more (its plan counts 37 ranges, then reads them at once).
        connections = [sandbox_connection(team_a, name=f"reader {i}") for i in range(2)]
        client = login(operator_a)
        runs = [press_sync(client, conn) for conn in connections]
        runs = [wait_finished(run) for run in runs]
        counters = sandbox_costs(clean_sandbox)
    finally:
        clean_sandbox.control.post("/_sandbox/costs", {"budget": False, "budget_units": None})
    assert [run.status for run in runs] == ["succeeded", "succeeded"]
    (account,) = [a for key, a in counters["accounts"].items() if key.startswith(clean_sandbox.client_id)]
    assert account["throttled"] == 0, "the sandbox counted no request over its budget"
    assert sum(run.resource_units for run in runs) == account["units"], "each run shows what Graph charged it"
    assert account["units"] == 22 if partitions == 1 else account["units"] > 2 * 37
    assert all(run.rows == 250 for run in runs)
    if partitions > 1 and account["peak_limit_fraction"] > 0.8:  # Graph reports the percentage past 0.8
        assert any(run.limit_percentage for run in runs), "Graph's limit percentage is shown on the run"
    assert sum(run.budget_wait_seconds for run in runs) > 0, "the budget held one of them back"
    assert all(run.throttle_wait_seconds == 0 for run in runs)


@pytest.mark.parametrize("partitions", [1, 4])
def test_a_forced_429_is_waited_out_and_said(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, sync_inline, settings, partitions
):
    settings.SYNC_PARTITIONS, settings.SYNC_PARTITIONS_FROM = partitions, 1
    settings.SYNC_PARTITIONS_SLOWER_THAN_MS = 0
    conn = sandbox_connection(team_a)
    clean_sandbox.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": 429, "retry_after": 1, "count": 1})
    run = sync_inline(conn, operator_a, page_size=50)
    assert run.status == "succeeded" and run.rows == 250
    assert run.throttle_wait_seconds >= 1 and run.throttled
    page = login(operator_a).get(reverse("connections:sync_detail", args=[conn.pk, run.pk])).content.decode()
    assert "Graph answered “429 Too Many Requests” and the run waited 1 s as Graph asked" in page
