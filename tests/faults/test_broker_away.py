"""The broker goes away (stopped, or frozen like a SIGSTOPped Redis): pressing a button still answers
at once in words, the work waits in the database, and it runs when the broker is back."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from connections import jobs, tasks
from connections.models import Job, SyncRun
from tests.factories import press_sync, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

WAITING = "the task queue is unreachable; it will start when it is back"


@pytest.mark.smoke
def test_with_the_broker_stopped_presses_answer_in_words_and_the_work_runs_when_it_is_back(
    broker_link, live_worker, sandbox_connection, team_a, operator_a, login
):
    connection = sandbox_connection(team_a)
    client = login(operator_a)
    broker_link.cut()

    run = press_sync(client, connection)  # 200, not 500
    page = client.get(reverse("connections:sync_progress", args=[connection.pk, run.pk])).content.decode()
    token = client.post(reverse("connections:token_fetch", args=[connection.pk]), HTTP_HX_REQUEST="true")

    assert WAITING in page
    assert token.status_code == 200 and WAITING in token.content.decode()
    assert run.status == "queued" and Job.objects.get(pk=run.job_id).waiting_for_broker
    again = press_sync(client, connection)  # Sync now again: the same waiting run, no second one
    assert again.pk == run.pk
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"

    broker_link.restore()
    tasks.resend_waiting_jobs.delay()  # what beat sends every 30 s
    job = Job.objects.get(pk=run.job_id)
    wait_until(lambda: SyncRun.objects.get(pk=run.pk).status == "succeeded", every=0.2)
    assert SyncRun.objects.get(pk=run.pk).rows == 250
    wait_until(lambda: not Job.objects.filter(state__in=["queued", "running"]).exists(), every=0.2)
    assert set(Job.objects.values_list("state", flat=True)) == {"succeeded"}
    assert Job.objects.get(pk=job.pk).sent_at is not None


def test_the_first_sync_now_fragment_names_the_outage_at_once(
    broker_link, live_worker, sandbox_connection, team_a, operator_a, login
):
    connection = sandbox_connection(team_a)
    client = login(operator_a)
    broker_link.cut()

    pressed = client.post(reverse("connections:sync_start", args=[connection.pk]), HTTP_HX_REQUEST="true")

    assert pressed.status_code == 200
    assert WAITING in pressed.content.decode() and "Waiting for a worker" not in pressed.content.decode()
    broker_link.restore()
    jobs.resend_waiting()
    wait_until(lambda: not SyncRun.objects.filter(status__in=["queued", "running"]).exists(), every=0.2)


def test_a_starting_worker_sends_what_waited_for_the_broker(
    broker_link, own_worker, sandbox_connection, team_a, operator_a, login
):
    connection = sandbox_connection(team_a)
    broker_link.cut()
    run = press_sync(login(operator_a), connection)
    assert Job.objects.get(pk=run.job_id).waiting_for_broker
    broker_link.restore()

    own_worker()  # no beat: the worker's start-up sweep sends it
    wait_until(lambda: SyncRun.objects.get(pk=run.pk).status == "succeeded", every=0.2)


def test_with_the_broker_frozen_a_press_and_a_page_answer_within_three_seconds(
    broker_link, live_worker, sandbox_connection, team_a, operator_a, login
):
    if broker_link.freeze is None:
        pytest.skip("a filesystem broker cannot hang")
    connection = sandbox_connection(team_a)
    client = login(operator_a)
    assert jobs.send(jobs.enqueue(tasks.ping.name, "ping"))  # the producer is connected before the freeze
    broker_link.freeze()

    started = time.monotonic()
    run = press_sync(client, connection)
    pressed = time.monotonic() - started
    started = time.monotonic()
    listed = client.get(reverse("connections:list"))
    health = client.get("/healthz")
    looked = time.monotonic() - started

    assert pressed < 3.0 and looked < 3.0, (pressed, looked)
    assert listed.status_code == 200 and health.json()["status"] == "degraded"
    assert Job.objects.get(pk=run.job_id).waiting_for_broker

    broker_link.thaw()
    jobs.resend_waiting()
    wait_until(lambda: SyncRun.objects.get(pk=run.pk).status == "succeeded", every=0.2)


def test_an_alert_raised_while_the_broker_is_away_is_delivered_when_it_is_back(
    broker_link, live_worker, team_a, admin_a, login, receiver
):
    """Recorded first: the hand-off fails, nothing is lost, and beat's resend delivers it."""
    from connections.alerts import states
    from connections.models import Alert
    from tests.cast import make_connection
    from tests.factories import add_channels

    client = login(admin_a)
    add_channels(client, team_a, receiver, kind="webhook")
    connection = make_connection(team_a, "broker away")
    broker_link.cut()

    alert = states.observe(connection, states.TOKEN, ok=False, detail="Entra said no")

    assert alert is not None
    waiting = Alert.objects.get(pk=alert.pk)
    assert waiting.sent_at is None and waiting.send_failures == 1
    assert "1 alert(s) waiting for the broker" in client.get("/healthz").json()["checks"]["work"]["detail"]
    broker_link.restore()
    tasks.resend_waiting_alerts.delay()  # what beat sends every 30 s
    hooks = receiver.wait_for(1)
    assert [h["json"]["event"] for h in hooks] == ["token_failed"]
    assert Alert.objects.get(pk=alert.pk).sent_at is not None
