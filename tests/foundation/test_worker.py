"""Background work runs in a real worker process and its state shows in our Job model."""

from __future__ import annotations

import os

import pytest

from connections.jobs.queue import enqueue
from connections.models import Job
from connections.tasks import ping

pytestmark = [pytest.mark.smoke, pytest.mark.django_db(transaction=True)]


def test_it_runs_a_task_in_a_real_worker_process(live_worker, wait_for_job):
    job = enqueue(ping.name, "ping")
    assert job.state == Job.State.QUEUED

    job = wait_for_job(job.pk)

    assert job.state == Job.State.SUCCEEDED
    assert job.result["pid"] != os.getpid()
    assert job.result["job_id"] == str(job.pk)
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at
    assert job.worker  # the worker that ran it
    assert job.progress == 100


def test_it_runs_many_tasks_and_tracks_each(live_worker, wait_for_job):
    jobs = [enqueue(ping.name, "ping") for _ in range(10)]
    finished = [wait_for_job(job.pk) for job in jobs]
    assert {job.state for job in finished} == {Job.State.SUCCEEDED}
    assert len({job.result["job_id"] for job in finished}) == 10
