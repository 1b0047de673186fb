"""A polled job or sync fragment whose connection was deleted stops polling instead of 404ing every second."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connections.models import Job, SyncRun
from tests.factories import make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def polled(connection_a):
    """The two polled URLs of a running job and a running sync of ``connection_a``."""
    job = Job.objects.create(kind="test", connection=connection_a, state=Job.State.RUNNING)
    run = make_run(connection_a, status=SyncRun.Status.RUNNING, entity="users")
    return [
        reverse("connections:job_status", args=[connection_a.pk, job.pk]),
        reverse("connections:sync_progress", args=[connection_a.pk, run.pk]),
    ]


def test_a_running_fragment_keeps_polling(login, viewer_a, polled):
    client = login(viewer_a)
    for url in polled:
        response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 200 and 'hx-trigger="every 1s' in response.content.decode()


def test_after_the_connection_is_deleted_the_poll_stops_with_a_note(login, viewer_a, connection_a, polled):
    connection_a.delete()
    client = login(viewer_a)
    for url in polled:
        response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 286  # htmx stops polling on 286
        assert "no longer available" in response.content.decode()
        assert client.get(url).status_code == 404  # a plain visit still gets the 404 page


def test_another_teams_poll_learns_nothing_more_than_an_unknown_id(login, outsider, polled):
    client = login(outsider)
    for url in polled:
        response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 286 and "no longer available" in response.content.decode()
