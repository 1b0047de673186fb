"""One job contract: each job kind has one registry entry whose task a worker runs, and a sync
job's failure ends its run and its job together."""

from __future__ import annotations

import pytest
from celery.signals import task_failure
from django.core.management import call_command
from django.urls import reverse

from connections.jobs import kinds
from connections.models import Job, SyncRun


def test_every_kind_has_one_entry_whose_task_a_worker_registers() -> None:
    from connections import tasks  # noqa: F401  (registers the tasks)
    from graphconn.celery import app

    assert set(kinds.KINDS) == set(Job.Kind)
    for kind, spec in kinds.KINDS.items():
        assert spec.kind == kind and spec.label == Job.Kind(kind).label
        assert spec.task in app.tasks, f"{kind}: no task is registered as {spec.task}"
    assert kinds.label("gone_kind") == "Gone kind"  # a job of a kind no longer defined still has a name


@pytest.mark.django_db
def test_the_job_kinds_need_no_migration() -> None:
    call_command("makemigrations", "connections", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_a_crashed_sync_task_fails_its_job_by_interrupting_its_run(login, viewer_a, connection_a) -> None:
    job = Job.objects.create(kind=Job.Kind.SYNC, connection=connection_a, state=Job.State.RUNNING)
    run = SyncRun.objects.create(connection=connection_a, job=job, entity="users", status=SyncRun.Status.RUNNING)

    task_failure.send(sender=None, task_id=str(job.pk), exception=RuntimeError("boom"))  # as Celery sends it

    run.refresh_from_db()
    job.refresh_from_db()
    assert run.status == "interrupted" and run.is_finished and run.finished_at is not None
    assert job.state == "failed" and job.is_finished
    assert job.error == run.message == "The sync stopped on an unexpected error; the worker's log has the details."
    page = login(viewer_a).get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
    assert "The sync stopped on an unexpected error" in page
