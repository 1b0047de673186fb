"""A task that crashes shows a sentence on the job fragment, never the exception's own text."""

from __future__ import annotations

import pytest
from celery.signals import task_failure
from django.urls import reverse

from connections.models import Job

pytestmark = pytest.mark.django_db


def test_a_crashed_job_says_so_in_words_without_the_exception_text(login, viewer_a, connection_a):
    job = Job.objects.create(kind="test", connection=connection_a, state=Job.State.RUNNING)
    crash = RuntimeError('relation "connections_token" at /srv/app/db.py:12')
    task_failure.send(sender=None, task_id=str(job.pk), exception=crash)  # as Celery sends it

    page = login(viewer_a).get(reverse("connections:job_status", args=[connection_a.pk, job.pk])).content.decode()

    assert "The job stopped on an unexpected error (RuntimeError); the worker&#x27;s log has the details." in page
    assert "connections_token" not in page and "/srv/app" not in page
