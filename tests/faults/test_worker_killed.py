"""A worker killed mid-sync (SIGKILL, no warm shutdown): the system notices, interrupts the run in
words within its bound, keeps nothing partial, and the next Sync now gives the right result."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from django.urls import reverse

from connections import tasks
from connections.models import Job, SyncRun, SyncStage, WorkerHeartbeat
from tests.factories import press_sync, sandbox_listing, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FAST_REAPER = {"SYNC_STALE_AFTER_SECONDS": "3", "WORKER_STALE_AFTER_SECONDS": "3", "SYNC_PAGE_SIZE": "25"}


@pytest.fixture
def slow_pages(clean_sandbox):
    """Every users page takes 0.3 s: a 250-user read in pages of 25 lasts about 3 s."""
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": None, "delay_ms": 300, "count": 10_000}
    )
    yield
    clean_sandbox.control.delete("/_sandbox/faults")


@pytest.mark.smoke
def test_a_worker_killed_mid_sync_is_noticed_and_the_next_run_is_right(
    own_worker, sandbox_connection, team_a, operator_a, login, slow_pages, settings
):
    settings.SYNC_STALE_AFTER_SECONDS = 3
    connection = sandbox_connection(team_a)
    client = login(operator_a)
    doomed = own_worker(**FAST_REAPER)
    run = press_sync(client, connection)
    wait_until(lambda: SyncRun.objects.get(pk=run.pk).rows >= 50)
    beating = set(WorkerHeartbeat.objects.values_list("hostname", flat=True))
    assert Job.objects.get(pk=run.job_id).worker in beating  # how the reaper knows whose job it is

    doomed.kill()
    killed_at = time.monotonic()
    assert SyncStage.objects.filter(run=run).exists()  # it had staged part of the run

    own_worker(**FAST_REAPER)  # its start-up sweep reaps; then beat's reaper task, as every 30 s
    wait_until(
        lambda: SyncRun.objects.get(pk=run.pk).status == "interrupted",
        timeout=20,
        every=1,
        action=tasks.reap_stale_work.delay,
    )
    interrupted = time.monotonic() - killed_at

    run.refresh_from_db()
    assert interrupted < 3 + 3 + 5, interrupted  # bound: stale heartbeat, plus the next reaper pass
    # Whichever the reaper saw first — the run's stale heartbeat or its worker's — it says so in words.
    assert run.error["key"] == "sync.interrupted" and "Nothing it read is kept" in run.error["explanation"]
    assert (
        "stopped reporting progress" in run.error["explanation"]
        or "sync stopped (it was killed" in run.error["explanation"]
    )
    assert run.rows == 0 and not run.records.exists() and not SyncStage.objects.filter(run=run).exists()
    assert Job.objects.get(pk=run.job_id).state == "failed"
    page = client.get(reverse("connections:sync_progress", args=[connection.pk, run.pk])).content.decode()
    assert "The sync was interrupted" in page

    again = press_sync(client, connection)  # not the dead run
    assert again.pk != run.pk
    wait_until(lambda: SyncRun.objects.get(pk=again.pk).is_finished, timeout=30)
    again.refresh_from_db()
    assert again.status == "succeeded" and again.rows == again.records.count() == 250


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def test_a_killed_pool_child_ends_its_sync_run_too(
    own_worker, sandbox_connection, team_a, operator_a, login, slow_pages, settings
):
    connection = sandbox_connection(team_a)
    client = login(operator_a)
    worker = own_worker(CELERY_POOL="prefork", **FAST_REAPER)
    run = press_sync(client, connection)
    wait_until(lambda: SyncRun.objects.get(pk=run.pk).rows >= 25)

    for child in _children(worker.proc.pid):
        os.kill(child, signal.SIGKILL)  # the pool child running the task; the main process lives on

    wait_until(lambda: SyncRun.objects.get(pk=run.pk).is_finished, timeout=15)
    run.refresh_from_db()
    assert run.status == "interrupted" and "process running this sync was killed" in run.error["explanation"]
    assert run.rows == 0 and not run.records.exists() and not SyncStage.objects.filter(run=run).exists()
    assert Job.objects.get(pk=run.job_id).state == "failed"


def test_a_worker_killed_mid_partitioned_sync_keeps_nothing_and_the_next_run_is_exact(
    own_worker, sandbox_connection, team_a, operator_a, login, slow_pages, settings, clean_sandbox
):
    settings.SYNC_STALE_AFTER_SECONDS = 3
    # Pages of 5 users at 0.3 s each: four partitions take several seconds over the 250 users.
    partitioned = {
        **FAST_REAPER,
        "SYNC_PARTITIONS": "4",
        "SYNC_PARTITIONS_FROM": "1",
        "SYNC_PARTITIONS_SLOWER_THAN_MS": "0",
        "SYNC_PAGE_SIZE": "5",
    }
    connection = sandbox_connection(team_a)
    client = login(operator_a)
    doomed = own_worker(**partitioned)
    run = press_sync(client, connection)
    reading = SyncRun.objects.filter(pk=run.pk, message__contains="partitions read", rows__gte=25)
    wait_until(reading.exists, timeout=60)  # reading in partitions, some of it staged

    doomed.kill()
    own_worker(**partitioned)
    wait_until(
        lambda: SyncRun.objects.get(pk=run.pk).status == "interrupted",
        timeout=20,
        every=1,
        action=tasks.reap_stale_work.delay,
    )
    run.refresh_from_db()
    assert run.rows == 0 and not run.records.exists() and not SyncStage.objects.filter(run=run).exists()

    again = press_sync(client, connection)
    wait_until(lambda: SyncRun.objects.get(pk=again.pk).is_finished, timeout=60)
    again.refresh_from_db()
    listed = {u["id"] for u in sandbox_listing(clean_sandbox)}
    assert again.status == "succeeded", again.error
    assert again.rows == again.records.count() == len(listed) == 250
    assert set(again.records.values_list("key", flat=True)) == listed
