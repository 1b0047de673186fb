"""The connection list and a connection's page cost a fixed number of queries, however many
connections, runs, tokens and audit entries there are (no query per row)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from connections import credentials
from connections.models import CredentialCheck, GraphRefusal, Job, TokenFetch
from microsoft import certificates
from tests.cast import make_connection
from tests.factories import make_run, make_schedule, make_token

pytestmark = pytest.mark.django_db


def _connections(team, count: int, prefix: str = "c") -> list:
    made = []
    now = timezone.now()
    for index in range(count):
        conn = make_connection(team, f"{prefix}{index:02d}")
        make_token(
            conn,
            state="valid" if index % 3 else "error",
            expires_at=now + timedelta(minutes=index - 5),
            error={"title": "Bad secret"},
        )
        for run in range(3):
            make_run(
                conn,
                entity="users",
                status="failed" if run == 2 else "succeeded",
                rows=run * 10,
                created_at=now - timedelta(minutes=run),
                error={"title": "Graph had a problem"} if run == 2 else {},
            )
        made.append(conn)
    return made


def _queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(db) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_the_list_costs_the_same_queries_for_2_or_20_connections(login, admin_a, team_a):
    client = login(admin_a)
    _connections(team_a, 2)
    few, _ = _queries(client, "/")
    _connections(team_a, 18, prefix="more")
    many, page = _queries(client, "/")
    assert many == few <= 5
    assert page.count("Bad secret") >= 6 and page.count(">succeeded<") == 20  # each row: token error, newest run


def test_the_detail_page_costs_the_same_queries_whatever_its_history(login, admin_a, team_a):
    client = login(admin_a)
    first = _connections(team_a, 1)[0]
    few, _ = _queries(client, reverse("connections:detail", args=[first.pk]))
    for run in range(20):
        make_run(first, entity="users", status="succeeded", rows=run)
    many, _ = _queries(client, reverse("connections:detail", args=[first.pk]))
    # user, the user's teams, connection (+ token, certificate, Entra's last check, schedule, who made
    # and last changed it); Entra's list of credentials (and from it the end of the one in use); latest
    # job; token fetches; the panel's runs (and from them the last sync); the history chart's runs, as
    # tuples, unless its fragment is cached; the session, when the cache has lost it. The audit trail and the schedule
    # form are read when their sections open.
    assert many == few <= 9


def test_the_detail_page_reads_everything_it_shows_in_its_one_query_per_panel(login, admin_a, team_a, cert_factory):
    """What the page leaves out of its queries is never read after all: with a token, a refusal, a
    certificate, Entra's check, a cron schedule, a job and runs started by a person, the same count."""
    client = login(admin_a)
    bare = make_connection(team_a, "bare")
    # An application token with roles: both pages ask which entities the app's connections read.
    make_token(bare, state="error", kind="app", permissions=["User.Read.All"])
    for _ in range(2):  # two runs: the history chart is drawn (and read) from the second on
        make_run(bare, entity="users", status="succeeded")
    few, _ = _queries(client, reverse("connections:detail", args=[bare.pk]))

    full = make_connection(team_a, "full")
    full.created_by = full.updated_by = admin_a  # the profile says who made and changed it
    full.save(update_fields=["created_by", "updated_by"])
    now = timezone.now()
    make_token(
        full,
        state="valid",
        kind="app",
        access_token="a.b.c",
        expires_at=now + timedelta(hours=1),
        fetched_at=now,
        permissions=["User.Read.All"],
        granted=["User.Read.All"],  # no more than users need: the over-privilege check reads more
        granted_checked_at=now,
    )
    GraphRefusal.objects.create(connection=full, status=403, diagnosis={"title": "The token lacks Group.Read.All"})
    cert = cert_factory("graphconn page test")
    credentials.save_certificate(
        full, certificates.load(certificate=cert.cert_pem, private_key=cert.key_pem), "PS256", admin_a
    )
    CredentialCheck.objects.create(connection=full, checked_at=now, readable=True)
    make_schedule(full, kind="cron", cron="30 6 * * 1-5", user=admin_a)
    Job.objects.create(kind="test", connection=full, requested_by=admin_a, state="succeeded", result={"ok": True})
    TokenFetch.objects.create(connection=full, reason="manual", ok=True, finished_at=now, gained=["Group.Read.All"])
    for status, message in (
        ("succeeded", ""),
        ("failed", ""),
        ("interrupted", "The worker stopped."),
        ("running", "Page 2"),
    ):
        make_run(
            full,
            entity="users",
            status=status,
            message=message,
            started_by=admin_a,
            started_at=now,
            error={"title": "Graph had a problem"} if status == "failed" else {},
        )
    many, page = _queries(client, reverse("connections:detail", args=[full.pk]))
    assert "graphconn page test" in page and "The token lacks Group.Read.All" in page and "admin_a" in page
    assert 'data-schedule="on"' in page and "by schedule" not in page and "The worker stopped." in page
    assert re.search(
        r"Created <time[^>]*>[^<]*</time>\s*by admin_a · updated <time[^>]*>[^<]*</time>\s*by admin_a<", page
    )
    assert many == few


def test_the_list_shows_each_connections_next_scheduled_run_in_the_same_queries(login, admin_a, team_a):
    client = login(admin_a)
    hourly, manual = _connections(team_a, 2, prefix="sched")
    make_schedule(hourly, kind="interval", every=1, unit="hours")
    few, page = _queries(client, "/")
    row = {name: page.split(f"<strong>{name}</strong>", 1)[1].split("</tr>", 1)[0] for name in ("sched00", "sched01")}
    # relative, with the exact time on hover
    assert re.search(
        r'next-run">next <time datetime="[^"]+" title="[^"]+ UTC">in (59\xa0minutes|1\xa0hour)<', row["sched00"]
    )
    assert "not scheduled" in row["sched01"] and "not scheduled" not in row["sched00"]

    # interval and crontab schedules (beat's task reads either), one paused
    for index, conn in enumerate(_connections(team_a, 18, prefix="more")):
        if index % 2:
            make_schedule(conn, kind="cron", cron="30 6 * * 1-5", time_zone="Europe/Berlin", enabled=index != 5)
        else:
            make_schedule(conn, kind="interval", every=30, unit="minutes")
    many, page = _queries(client, "/")
    assert many == few <= 5
    assert page.count("not scheduled") == 2 and page.count('next-run">next <time') == 18
