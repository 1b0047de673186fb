"""A scheduled connection whose changes-only (delta) sync nears Microsoft Graph's 7-day limit is
alerted once by the daily check, shown as a problem on the list, and "kept" once a newer run works."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from connections import alerts, tokens
from connections.models import Alert, SyncRun
from tests.factories import add_channels, mails, make_run, make_schedule, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "SECRETdeltaTOKEN0123456789"


def delta_run(conn, days_ago: float) -> SyncRun:
    at = timezone.now() - dt.timedelta(days=days_ago)
    return make_run(
        conn,
        entity="users",
        status=SyncRun.Status.SUCCEEDED,
        rows=3,
        created_at=at,
        started_at=at,
        finished_at=at,
        delta_link=f"https://graph.microsoft.com/v1.0/users/delta?$deltatoken={TOKEN}",
    )


def test_a_scheduled_users_sync_with_a_6_and_a_half_day_old_delta_is_alerted_once_and_listed(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, live_worker, receiver, worker_mail_dir
):
    client = login(admin_a)
    add_channels(client, team_a, receiver)
    conn = sandbox_connection(team_a, sandbox_app(roles=["User.Read.All"]), name="weekly users")
    make_schedule(conn, kind="interval", every=1, unit="hours")
    delta_run(conn, 6.5)

    tokens.check_credentials()  # the daily check, twice
    tokens.check_credentials(timezone.localdate() + dt.timedelta(days=1))

    # Both checks ran here to their end: the one alert they recorded is all a channel is sent.
    assert list(Alert.objects.filter(connection=conn).values_list("event", flat=True)) == ["delta_ageing"]
    hooks = receiver.wait_for(1)
    wait_until(lambda: len(mails(worker_mail_dir)) == 1)
    assert len(receiver.received) == 1 and len(mails(worker_mail_dir)) == 1
    card = hooks[0]["json"]["attachments"][0]["content"]
    text = " ".join(block["text"] for block in card["body"])
    assert "next scheduled run will do a full read" in text and "at least weekly" in text
    assert TOKEN not in str(hooks[0]) and TOKEN not in mails(worker_mail_dir)[0] and "deltatoken" not in text

    listing = client.get(reverse("connections:list")).content.decode()
    assert "the next scheduled run will do a full read" in listing and TOKEN not in listing

    delta_run(conn, 0)  # a newer successful run holds a fresh deltaLink
    tokens.check_credentials()
    wait_until(lambda: len(receiver.received) == 2)
    assert Alert.objects.filter(connection=conn).latest("pk").event == "delta_recovered"
    assert "will do a full read" not in client.get(reverse("connections:list")).content.decode()


@pytest.mark.parametrize(("days_ago", "scheduled"), [(2, True), (6.5, False)])
def test_a_recent_delta_or_an_unscheduled_connection_is_not_alerted(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, days_ago, scheduled
):
    conn = sandbox_connection(team_a, sandbox_app(roles=["User.Read.All"]), name="users")
    if scheduled:
        make_schedule(conn, kind="interval", every=1, unit="hours")
    delta_run(conn, days_ago)

    tokens.check_credentials()
    tokens.check_credentials()

    assert not Alert.objects.filter(connection=conn, event__startswith="delta").exists()
    listing = login(admin_a).get(reverse("connections:list")).content.decode()
    assert "will do a full read" not in listing
    assert ("not scheduled" in listing) is not scheduled
