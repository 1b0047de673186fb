"""Sync schedules: operators set them on the detail page (interval or cron in a time zone, next run
shown); the real ``celery beat`` with django-celery-beat's database scheduler and the real worker
run them, say "by schedule", and never start a second run while one is active."""

from __future__ import annotations

import os
import time
import zoneinfo
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
import yaml
from django.conf import settings
from django.urls import reverse

from connections.models import AuditEntry, SyncRun, SyncSchedule
from connections.syncs import schedules
from tests import worker
from tests.factories import make_schedule
from tests.processes import stop_process
from tests.worker import ROOT

SAVE = "connections:schedule_save"


def post(client, connection, **data):
    return client.post(reverse(SAVE, args=[connection.pk]), data, follow=True)


@pytest.mark.django_db
def test_an_operator_sets_an_interval_and_the_page_shows_it_with_its_next_run(login, operator_a, connection_a):
    client = login(operator_a)

    page = post(client, connection_a, mode="interval", every="15", unit="minutes", time_zone="Europe/Berlin")

    html = page.content.decode()
    assert "Sync schedule saved: every 15 minutes." in html and "every 15 minutes" in html
    assert "data-next-run" in html and "(Europe/Berlin)" in html
    schedule = SyncSchedule.objects.get(connection=connection_a)
    task = schedule.periodic_task
    assert task.task == "connections.scheduled_sync" and task.args == f'["{connection_a.pk}"]'
    assert (task.interval.every, task.interval.period, task.enabled) == (15, "minutes", True)
    upcoming = schedule.next_run()
    assert 14 * 60 <= (upcoming - task.date_changed).total_seconds() <= 15 * 60 + 5
    entry = AuditEntry.objects.filter(connection=connection_a, action="edited").first()
    assert entry.username == "operator_a" and "sync schedule on: every 15 minutes" in entry.detail


@pytest.mark.django_db
def test_a_cron_schedule_runs_in_the_connections_time_zone(login, operator_a, connection_a):
    post(login(operator_a), connection_a, mode="cron", cron="30 6 * * 1-5", time_zone="America/New_York")

    schedule = SyncSchedule.objects.get(connection=connection_a)
    crontab = schedule.periodic_task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, str(crontab.timezone)) == (
        "30",
        "6",
        "1-5",
        "America/New_York",
    )
    local = schedule.next_run().astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (6, 30) and local.isoweekday() <= 5


@pytest.mark.django_db
def test_bad_schedules_are_explained_and_change_nothing(login, operator_a, connection_a):
    client = login(operator_a)
    post(client, connection_a, mode="interval", every="2", unit="hours", time_zone="UTC")

    for data, message in [
        ({"mode": "cron", "cron": "61 * * * *", "time_zone": "UTC"}, "The minute field “61” is not valid."),
        ({"mode": "cron", "cron": "every day", "time_zone": "UTC"}, "A cron expression has five fields"),
        ({"mode": "interval", "every": "0", "unit": "minutes", "time_zone": "UTC"}, "greater than or equal to 1"),
        (
            {"mode": "interval", "every": "5", "unit": "minutes", "time_zone": "Mars/Olympus"},
            "not one of the available",
        ),
    ]:
        page = post(client, connection_a, **data)
        assert page.status_code == 200 and message in page.content.decode(), data

    task = SyncSchedule.objects.get(connection=connection_a).periodic_task
    assert (task.interval.every, task.interval.period) == (2, "hours")


@pytest.mark.django_db
def test_off_pauses_the_schedule(login, operator_a, connection_a):
    client = login(operator_a)
    post(client, connection_a, mode="interval", every="5", unit="minutes", time_zone="UTC")

    html = post(client, connection_a, mode="off").content.decode()

    assert "Sync schedule off" in html and 'data-schedule="off"' in html
    assert not SyncSchedule.objects.get(connection=connection_a).periodic_task.enabled


@pytest.mark.django_db
def test_the_form_is_read_when_its_section_opens_and_is_a_page_of_its_own_without_scripts(
    login, operator_a, viewer_a, connection_a
):
    client = login(operator_a)
    post(client, connection_a, mode="cron", cron="30 6 * * 1-5", time_zone="Europe/Berlin")
    form_url = reverse("connections:schedule_form", args=[connection_a.pk])

    page = client.get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
    # The page carries the schedule in words and a link in place of the ~600 time zones.
    assert "cron 30 6 * * 1-5 (Europe/Berlin)" in page
    assert 'name="time_zone"' not in page and f'hx-get="{form_url}"' in page
    assert 'hx-trigger="toggle once from:closest details"' in page

    fragment = client.get(form_url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert '<option value="Europe/Berlin" selected>' in fragment and 'value="30 6 * * 1-5"' in fragment
    assert "Save schedule" in fragment and "csrfmiddlewaretoken" in fragment

    alone = client.get(form_url).content.decode()  # no script: the link opens a page with the form open
    assert "<html" in alone and "<details open>" in alone and '<option value="Europe/Berlin" selected>' in alone
    assert login(viewer_a).get(form_url, headers={"HX-Request": "true"}).status_code == 403


@pytest.mark.django_db
def test_viewers_see_the_schedule_but_cannot_change_it_and_other_teams_get_404(
    login, operator_a, viewer_a, outsider, connection_a
):
    post(login(operator_a), connection_a, mode="interval", every="5", unit="minutes", time_zone="UTC")
    viewer = login(viewer_a)

    page = viewer.get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
    assert "every 5 minutes" in page and "Save schedule" not in page
    assert viewer.post(reverse(SAVE, args=[connection_a.pk]), {"mode": "off"}).status_code == 403
    assert login(outsider).post(reverse(SAVE, args=[connection_a.pk]), {"mode": "off"}).status_code == 404
    assert SyncSchedule.objects.get(connection=connection_a).enabled


def test_beat_runs_the_database_scheduler_in_every_way_the_project_starts_it():
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"
    procfile = (ROOT / "Procfile").read_text()
    assert "beat --loglevel INFO --scheduler django_celery_beat.schedulers:DatabaseScheduler" in procfile
    assert "--scheduler django_celery_beat.schedulers:DatabaseScheduler" in (ROOT / "docker" / "start-beat").read_text()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["beat"]["healthcheck"]["test"][3:] == ["beat_alive", "--minutes", "10"]


@pytest.fixture
def beat(live_worker, broker_env, tmp_path):
    """``celery beat`` with the database scheduler, on the tests' database and broker."""
    env = {
        **os.environ,
        **broker_env,
        "DATABASE_URL": worker.test_database_url(),
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
    }
    log = open(tmp_path / "beat.log", "ab")
    proc = worker.start_beat(env, log, tmp_path)
    yield proc
    stop_process(proc, grace=15)
    log.close()


@pytest.mark.django_db(transaction=True)
def test_a_scheduled_connection_runs_on_its_schedule_and_never_twice_at_once(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, beat, tmp_path
):
    conn = sandbox_connection(team_a)
    make_schedule(conn, kind="interval", every=2, unit="seconds", user=operator_a)

    def scheduled() -> list[SyncRun]:
        return list(SyncRun.objects.filter(connection=conn, trigger="schedule").order_by("created_at"))

    deadline = time.monotonic() + 60
    while len([r for r in scheduled() if r.status == "succeeded"]) < 2:
        assert beat.poll() is None, (tmp_path / "beat.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "beat did not start two scheduled syncs within 60 s"
        time.sleep(0.3)
    first, second = scheduled()[:2]
    assert first.status == second.status == "succeeded" and first.started_by is None
    assert second.mode == "delta" and second.previous_id == first.pk

    # A slow run (Graph answers take 3 s) spans several beats: none of them starts a second run.
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": None, "count": 3, "delay_ms": 3000}
    )
    deadline = time.monotonic() + 60
    slow = None
    while slow is None:
        assert time.monotonic() < deadline, "no slow scheduled run"
        for run in scheduled():
            if run.status == "succeeded" and run.duration and run.duration >= 2.5:
                slow = run
        assert SyncRun.objects.filter(connection=conn, status__in=SyncRun.ACTIVE).count() <= 1
        time.sleep(0.3)
    during = SyncRun.objects.filter(connection=conn, created_at__gt=slow.created_at, created_at__lt=slow.finished_at)
    assert not during.exists(), "a run was started while another was active"
    fired = [
        datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=dt_timezone.utc)
        for line in (tmp_path / "beat.log").read_text().splitlines()
        if "Sending due task sync of connection" in line
    ]
    assert any(slow.started_at < at < slow.finished_at for at in fired), "beat did not fire during the slow run"
    make_schedule(conn, kind="interval", every=2, unit="seconds", enabled=False, user=operator_a)

    client = login(operator_a)
    runs_page = client.get(reverse("connections:sync_list", args=[conn.pk])).content.decode()
    assert 'data-trigger="schedule">by schedule' in runs_page
    details = list(AuditEntry.objects.filter(connection=conn, action="synced").values_list("detail", flat=True))
    assert "users: sync started by schedule" in details
    assert any(d.startswith("users: succeeded") and d.endswith("by schedule") for d in details)
