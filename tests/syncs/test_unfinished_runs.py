"""Runs that cannot finish: nothing partial stays (records or their count), Sync now is never held by
a run whose worker is gone, and /healthz names stuck work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections import syncs
from connections.jobs import reaper
from connections.models import Job, SyncRun, SyncStage
from connections.syncs import reader, runner

pytestmark = pytest.mark.django_db


def test_a_run_failing_on_page_three_keeps_no_records_and_no_row_count(
    clean_sandbox, sandbox_connection, team_a, operator_a, sync_inline, settings, monkeypatch
):
    settings.SYNC_PAGE_RETRY_SECONDS, settings.SYNC_PAGE_BACKOFF_BASE = 0.3, 0.05
    connection = sandbox_connection(team_a, odata_filter="accountEnabled eq true")
    progress = runner._progress

    def fail_from_page_three(job_id, run):
        progress(job_id, run)
        if run.pages == 2:
            clean_sandbox.control.post("/_sandbox/faults", {"path": "/v1.0/users", "status": 503, "count": 100})

    monkeypatch.setattr(runner, "_progress", fail_from_page_three)
    monkeypatch.setattr(runner, "PROGRESS_EVERY", 0.0)  # progress after every page, so the fault lands on page 3
    monkeypatch.setattr(reader.PageReader, "prefetch", lambda self, url, headers: None)  # read page 3 after the fault
    run = sync_inline(connection, operator_a, page_size=20)

    assert run.status == "failed" and run.pages == 2
    assert run.rows == 0 and not run.records.exists() and not SyncStage.objects.filter(run=run).exists()


def test_sync_now_interrupts_a_run_whose_heartbeat_is_stale_and_starts_a_new_one(
    clean_sandbox, sandbox_connection, team_a, operator_a, settings
):
    settings.SYNC_STALE_AFTER_SECONDS = 120
    connection = sandbox_connection(team_a)
    job = syncs.start(connection, operator_a).job
    dead = SyncRun.objects.get(job=job)
    SyncRun.objects.filter(pk=dead.pk).update(
        status="running", rows=40, heartbeat_at=timezone.now() - timedelta(seconds=121)
    )
    SyncStage.objects.create(run=dead, key="k", data="{}", digest="d")

    again = syncs.start(connection, operator_a).job

    assert again.pk != job.pk
    dead.refresh_from_db()
    assert dead.status == "interrupted" and dead.error["key"] == "sync.interrupted"
    assert "stopped reporting progress" in dead.message
    assert dead.rows == 0 and not SyncStage.objects.filter(run=dead).exists() and not dead.records.exists()
    assert Job.objects.get(pk=job.pk).state == "failed"


def test_a_fresh_heartbeat_is_left_alone(clean_sandbox, sandbox_connection, team_a, operator_a):
    connection = sandbox_connection(team_a)
    job = syncs.start(connection, operator_a).job
    SyncRun.objects.filter(job=job).update(status="running", heartbeat_at=timezone.now())
    assert reaper.reap() == {"runs": 0, "jobs": 0}
    assert syncs.start(connection, operator_a).job.pk == job.pk


def test_healthz_names_stuck_runs_and_jobs(client, clean_sandbox, sandbox_connection, team_a, operator_a, settings):
    connection = sandbox_connection(team_a)
    job = syncs.start(connection, operator_a).job
    SyncRun.objects.filter(job=job).update(status="running", heartbeat_at=timezone.now() - timedelta(hours=1))
    Job.objects.create(kind="test", connection=connection, created_at=timezone.now() - timedelta(hours=1))

    body = client.get("/healthz").json()

    assert body["status"] in ("degraded", "unhealthy") and body["checks"]["work"]["ok"] is False
    assert "1 sync run(s) stuck" in body["checks"]["work"]["detail"]
    assert "job(s) queued for long" in body["checks"]["work"]["detail"]


def test_a_running_job_of_a_worker_without_heartbeat_is_ended_with_its_run(
    clean_sandbox, sandbox_connection, team_a, operator_a, settings
):
    from connections.models import WorkerHeartbeat

    settings.WORKER_STALE_AFTER_SECONDS = 45
    connection = sandbox_connection(team_a)
    job = syncs.start(connection, operator_a).job
    long_ago = timezone.now() - timedelta(minutes=5)
    WorkerHeartbeat.objects.create(hostname="gone@host", last_seen=long_ago)
    Job.objects.filter(pk=job.pk).update(state="running", worker="gone@host", started_at=long_ago)
    SyncRun.objects.filter(job=job).update(status="running", heartbeat_at=timezone.now())  # its own beat is fresh

    assert reaper.reap() == {"runs": 0, "jobs": 1}
    assert Job.objects.get(pk=job.pk).state == "failed"
    run = SyncRun.objects.get(job=job)
    assert run.status == "interrupted" and "sync stopped (it was killed or restarted)" in run.error["explanation"]
