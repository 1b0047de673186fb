"""Live fragments poll every second: an unchanged one answers 304 (nothing rendered), a changed one
the new state; another team's run or job gets no tag and stays unknown. The cached runs table and
history chart follow every change of the runs they show."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Job, SyncRun
from tests.factories import make_run

pytestmark = pytest.mark.django_db


def test_an_unchanged_run_poll_answers_304_and_a_changed_one_the_new_state(login, operator_a, connection_a):
    client = login(operator_a)
    run = make_run(connection_a, status="running", rows=10, pages=1, started_at=timezone.now())
    url = reverse("connections:sync_progress", args=[connection_a.pk, run.pk])
    client.get(reverse("connections:detail", args=[connection_a.pk]))  # the page around it, as a browser
    first = client.get(url, headers={"HX-Request": "true"})
    assert first.status_code == 200 and first["ETag"] and "no-cache" in first["Cache-Control"]

    again = client.get(url, headers={"HX-Request": "true", "If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b""

    SyncRun.objects.filter(pk=run.pk).update(rows=20, pages=2)
    moved = client.get(url, headers={"HX-Request": "true", "If-None-Match": first["ETag"]})
    assert moved.status_code == 200 and moved["ETag"] != first["ETag"]


def test_another_teams_run_and_job_get_no_tag(login, outsider, connection_a):
    run = make_run(connection_a, status="running")
    job = Job.objects.create(kind="test", connection=connection_a)
    client = login(outsider)
    for url in (
        reverse("connections:sync_progress", args=[connection_a.pk, run.pk]),
        reverse("connections:job_status", args=[connection_a.pk, job.pk]),
    ):
        response = client.get(url, headers={"If-None-Match": "*"})
        assert response.status_code == 404 and not response.has_header("ETag")


def test_an_unchanged_job_poll_answers_304(login, viewer_a, connection_a):
    job = Job.objects.create(kind="test", connection=connection_a, state="running", progress=10)
    client = login(viewer_a)
    url = reverse("connections:job_status", args=[connection_a.pk, job.pk])
    first = client.get(url)
    assert client.get(url, headers={"If-None-Match": first["ETag"]}).status_code == 304
    Job.objects.filter(pk=job.pk).update(progress=50, message="Half way")
    assert "Half way" in client.get(url, headers={"If-None-Match": first["ETag"]}).content.decode()


def test_the_cached_runs_table_and_chart_show_a_run_that_ended(login, viewer_a, connection_a):
    client = login(viewer_a)
    make_run(connection_a, status="succeeded", rows=5)
    running = make_run(connection_a, status="running", rows=7)
    url = reverse("connections:detail", args=[connection_a.pk])
    assert "Running" in client.get(url).content.decode()
    SyncRun.objects.filter(pk=running.pk).update(status="failed", error={"title": "Graph had a problem"})
    page = client.get(url).content.decode()
    table = page.split('class="striped sync-runs"', 1)[1]
    assert "Graph had a problem" in table and "Running" not in table
    assert "1 succeeded, 1 did not" in page  # the chart's text alternative
