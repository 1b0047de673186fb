"""Journey 9 in a real browser: schedule a connection to sync every hour, add the team's Slack
channel; a failing sync sends one alert there and one "works again" when it recovers; a secret that
expires in 7 days is on the health board and in an alert."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from connections import alerts, tokens
from connections.models import Alert, SyncSchedule
from tests.e2e.pages import button, press_job_button, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)


def sync_now(page, expected: str) -> None:
    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")) as started:
        button(page.locator("#sync-panel"), "Sync now").click()
    run_id = re.search(r'data-run="([0-9a-f-]{36})"', started.value.text()).group(1)
    badge = page.locator(f"#sync-run-{run_id} .badge[data-state]")
    expect(badge).to_have_attribute("data-state", expected, timeout=30_000)


def test_hourly_schedule_one_alert_per_state_change_and_an_expiring_secret(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, browser_as, live_worker, webhook_receiver
):
    webhook_receiver.clear()
    app = sandbox_app(roles=["User.Read.All"], requested_roles=["GroupMember.Read.All"])
    groups = sandbox_connection(team_a, app, name="Hourly groups", entity="groups")
    expiring = sandbox_connection(
        team_a, name="Expiring users", secret_expires_on=timezone.localdate() + datetime.timedelta(days=7)
    )
    page = browser_as(admin_a)

    page.goto(reverse("connections:alerts"))
    page.get_by_label("Name").fill("Team Slack")
    page.get_by_label("Kind").select_option("slack")
    page.get_by_label("Webhook URL").fill(webhook_receiver.url("/slack"))
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("tr[data-channel]")).to_have_count(1)

    page.goto(reverse("connections:detail", args=[groups.pk]))
    panel = page.locator("#schedule-panel")
    panel.locator("summary", has_text="Change the schedule").click()
    panel.get_by_label("Every …").check()
    panel.locator('input[name="every"]').fill("1")
    panel.locator('select[name="unit"]').select_option("hours")
    button(panel, "Save schedule").click()
    expect(page.locator("#schedule-panel")).to_contain_text("Sync schedule saved: every 1 hour.")
    expect(page.locator("#schedule-panel [data-next-run]")).to_be_visible()
    assert SyncSchedule.objects.get(connection=groups).periodic_task.enabled

    # The app lacks the group permission: two failing runs, one alert.
    sync_now(page, "failed")
    sync_now(page, "failed")
    first = webhook_receiver.wait_for(1)
    assert "Hourly groups: sync failed" in first[0]["json"]["text"]

    # Granted and re-fetched: the next run works, and the channel hears it once.
    clean_sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/grants", {"roles": ["GroupMember.Read.All"]})
    wait_for_job(
        page, press_job_button(page, button(page.locator(".token-panel .actions"), "Re-fetch token"), "/token/refetch/")
    )
    sync_now(page, "succeeded")
    hooks = webhook_receiver.wait_for(2)
    assert "works again" in hooks[1]["json"]["text"]
    assert [a.event for a in Alert.objects.filter(connection=groups).order_by("created_at")] == [
        "sync_failed",
        "sync_recovered",
    ]

    # The daily credential check (beat) finds the secret ending in 7 days: on the board and in Slack.
    tokens.check_credentials()
    hooks = webhook_receiver.wait_for(3)
    assert "Expiring users" in hooks[2]["json"]["text"]
    page.goto(reverse("connections:list"))
    row = page.locator("tr", has=page.get_by_role("link", name="Expiring users", exact=True))
    expect(row.locator(".health")).to_have_text("Needs attention")
    expect(row).to_contain_text("7 days left")
    # The next day's check changes nothing: it ran here to its end and recorded no second alert, and
    # a channel is sent only recorded alerts.
    tokens.check_credentials()
    assert Alert.objects.filter(connection=expiring).count() == 1
    assert len(webhook_receiver.received) == 3
