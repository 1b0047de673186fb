"""A fleet of schedules: several scheduled connections on two tenants, real ``celery beat`` and two
real workers. A worker killed in the middle of the big tenant's long sync costs nothing but that
run: beat keeps firing, the other worker runs every schedule (the big sync again too), the small
tenant's syncs keep finishing beside the big one (no task waits behind a long sync while a slot is
free), and no connection ever has two runs at once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings

from connections import syncs
from connections.models import Job, SyncRun, WorkerHeartbeat
from tests import worker
from tests.factories import make_sandbox_connection, make_schedule, press_sync, wait_until
from tests.worker import WorkerProcess

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

QUICK_REAPER = {"SYNC_STALE_AFTER_SECONDS": "3", "WORKER_STALE_AFTER_SECONDS": "3", "REAPER_SECONDS": "2"}


@pytest.fixture
def fleet(
    request, sandbox, big_sandbox, broker_env, tmp_path, monkeypatch
) -> Iterator[tuple[list[WorkerProcess], object]]:
    """Two workers (two slots each, or ``request.param``) and beat, on a queue of this test's own,
    reading both sandboxes 25 users a page, with the settings the project runs them with."""
    from graphconn.celery import app

    slots = getattr(request, "param", 2)
    queue = f"fleet-{os.getpid()}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        **broker_env,
        **QUICK_REAPER,
        "CELERY_QUEUE": queue,
        "DATABASE_URL": worker.test_database_url(),
        "GRAPH_SANDBOX_URL": sandbox.base_url,
        "GRAPH_CA_BUNDLE": str(Path(sandbox.ca_path)),  # the big sandbox's certificate has the same CA
        "GRAPH_ALLOWED_HOSTS": ",".join(settings.GRAPH_ALLOWED_HOSTS),  # both sandboxes
        "APP_PERMISSIONS_URL_TEMPLATE": sandbox.portal_url,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
        "SYNC_PAGE_SIZE": "25",
    }
    session_queue = app.conf.task_default_queue
    monkeypatch.setattr(settings, "CELERY_TASK_DEFAULT_QUEUE", queue)
    app.conf.task_default_queue = queue
    names = [f"fleet-{i}-{os.getpid()}" for i in range(2)]
    workers = [WorkerProcess(env, tmp_path / f"{name}.log", concurrency=slots, name=name) for name in names]
    beat_log = open(tmp_path / "beat.log", "ab")
    beat = None
    try:
        for process in workers:  # one after another: the first declares the queue
            process.start()
            process.wait_ready()
        beat = worker.start_beat(env, beat_log, tmp_path)
        yield workers, beat
    finally:
        if beat is not None:
            beat.terminate()
            beat.wait(15)
        beat_log.close()
        app.conf.task_default_queue = session_queue
        for process in workers:
            process.stop()
        WorkerHeartbeat.objects.filter(hostname__startswith="fleet-").delete()


def runs_of(connection) -> list[SyncRun]:
    return list(SyncRun.objects.filter(connection=connection).select_related("job").order_by("created_at"))


def worker_of(run: SyncRun) -> str:
    return (Job.objects.get(pk=run.job_id).worker or "").split("@")[0]


def during(inner: SyncRun, outer: SyncRun) -> bool:
    return bool(
        inner.started_at
        and inner.finished_at
        and outer.started_at
        and outer.started_at <= inner.started_at
        and inner.finished_at <= (outer.finished_at or datetime.max.replace(tzinfo=inner.finished_at.tzinfo))
    )


def test_schedules_keep_running_on_the_other_worker_none_starved_and_never_two_runs_at_once(
    clean_sandbox, big, team_a, operator_a, fleet, tmp_path
):
    workers, beat = fleet
    # The big tenant: 2,500 users, each page held 0.15 s, 100 pages: a sync of some 15 s.
    big.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": None, "delay_ms": 150, "count": 100_000})
    whale = make_sandbox_connection(big, team_a, name="big tenant")
    small = [make_sandbox_connection(clean_sandbox, team_a, name=f"small tenant {i}") for i in range(3)]
    for connection in [whale, *small]:
        make_schedule(connection, kind="interval", every=2, unit="seconds", user=operator_a)
    every = [whale, *small]

    def watch(until, what: str, timeout: float = 90) -> None:
        """Poll until ``until()``, checking all along that no connection has two active runs."""
        deadline = time.monotonic() + timeout
        while not until():
            assert beat.poll() is None, (tmp_path / "beat.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            for connection in every:
                assert SyncRun.objects.filter(connection=connection, status__in=SyncRun.ACTIVE).count() <= 1
            time.sleep(0.3)

    def big_running() -> SyncRun | None:
        return SyncRun.objects.filter(connection=whale, status=SyncRun.Status.RUNNING, rows__gte=250).first()

    watch(
        lambda: big_running() and all(SyncRun.objects.filter(connection=c, status="succeeded").exists() for c in small),
        "the big sync to be reading and every small connection to have synced",
    )
    doomed_run = big_running()
    assert doomed_run is not None
    doomed_name = worker_of(doomed_run)
    (doomed,) = [w for w in workers if w.name == doomed_name]
    (survivor,) = [w for w in workers if w is not doomed]
    doomed.kill()  # SIGKILL in the middle of the big sync
    killed_at = datetime.now().astimezone()

    def after_kill(connection) -> list[SyncRun]:
        return [r for r in runs_of(connection) if r.created_at > killed_at]

    def recovered() -> bool:
        bigs = [r for r in after_kill(whale) if r.status == "running" or r.status == "succeeded"]
        if not bigs or any(len([r for r in after_kill(c) if r.status == "succeeded"]) < 2 for c in small):
            return False
        # A small sync that started and finished while a big one was reading on the same worker.
        return any(during(s, b) for b in bigs for c in small for s in after_kill(c) if s.status == "succeeded")

    watch(recovered, "the schedules to go on, on the other worker, and small syncs to finish beside the big one")
    for connection in every:  # schedules off: nothing more starts
        make_schedule(connection, kind="interval", every=2, unit="seconds", enabled=False, user=operator_a)
    big.control.delete("/_sandbox/faults")

    doomed_run.refresh_from_db()
    assert doomed_run.status == "interrupted" and doomed_run.rows == 0 and not doomed_run.records.exists()
    for connection in every:
        runs = runs_of(connection)
        for before, later in zip(runs, runs[1:], strict=False):  # never two runs of one connection at once
            assert before.finished_at is not None and later.created_at >= before.finished_at, (connection, before)
        assert all(worker_of(r) == survivor.name for r in after_kill(connection) if r.started_at)
        assert all(r.status in ("succeeded", "running", "queued") for r in after_kill(connection))
    assert all(r.rows == 250 for c in small for r in runs_of(c) if r.status == "succeeded")


@pytest.mark.parametrize("fleet", [1], indirect=True)
def test_a_long_sync_holds_no_task_back_while_another_worker_is_free(
    clean_sandbox, big, team_a, operator_a, login, fleet
):
    """Each worker has one slot; one takes the big tenant's long sync. Celery's settings (one task
    reserved per slot, acknowledged when it ends) leave the small tenant's syncs to the other worker,
    which finishes them all while the long one still reads: none waits behind it. (On Redis, with
    Celery's default of four tasks reserved a slot, they wait behind it and this fails.)"""
    workers, _ = fleet
    big.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": None, "delay_ms": 200, "count": 100_000})
    client = login(operator_a)
    long = press_sync(client, make_sandbox_connection(big, team_a, name="big tenant"))
    wait_until(SyncRun.objects.filter(pk=long.pk, rows__gte=100).exists, timeout=60, what="the long sync to read")
    long_worker = worker_of(long)

    quick = [press_sync(client, make_sandbox_connection(clean_sandbox, team_a, name=f"small {i}")) for i in range(4)]
    wait_until(lambda: all(SyncRun.objects.get(pk=r.pk).is_finished for r in quick), timeout=60, what="the small syncs")

    long.refresh_from_db()
    assert long.status == "running", "the small syncs finished while the long one was still reading"
    for run in quick:
        run.refresh_from_db()
        assert run.status == "succeeded" and run.rows == 250, run.error
        assert worker_of(run) != long_worker
    big.control.delete("/_sandbox/faults")
    syncs.cancel(long, operator_a)  # the worker stops it at its next page
