"""In a real browser: an operator schedules a connection's syncs (the next run appears in the page),
then presses Sync now and Cancel; the run ends cancelled and nothing of it is kept."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from connections.models import SyncRun, SyncSchedule
from tests.e2e.pages import assert_not_reloaded, assert_polling_stopped, button, mark_page

pytestmark = pytest.mark.django_db(transaction=True)


def test_schedule_then_sync_now_and_cancel(
    clean_sandbox, sandbox_connection, team_a, operator_a, browser_as, live_worker
):
    connection = sandbox_connection(team_a)
    page = browser_as(operator_a)
    page.goto(reverse("connections:detail", args=[connection.pk]))
    url = page.url
    mark_page(page)

    panel = page.locator("#schedule-panel")
    expect(panel).to_contain_text("No schedule")
    panel.locator("summary", has_text="Change the schedule").click()
    panel.get_by_label("Every …").check()
    panel.locator('input[name="every"]').fill("30")
    panel.locator('select[name="time_zone"]').select_option("Europe/Berlin")
    button(panel, "Save schedule").click()
    panel = page.locator("#schedule-panel")
    expect(panel).to_contain_text("Sync schedule saved: every 30 minutes.")
    expect(panel.locator("[data-next-run]")).to_contain_text("(Europe/Berlin)")
    assert SyncSchedule.objects.get(connection=connection).periodic_task.enabled

    # Slow answers, so there is time to press Cancel before the first page arrives.
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": None, "count": 3, "delay_ms": 2500}
    )
    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")) as started:
        button(page.locator("#sync-panel"), "Sync now").click()
    run_id = re.search(r'data-run="([0-9a-f-]{36})"', started.value.text()).group(1)
    run = page.locator(f"#sync-run-{run_id}")
    expect(run.locator(".badge[data-state]")).to_have_attribute("data-state", "running", timeout=15_000)
    button(run, "Cancel").click()

    run = page.locator(f"#sync-run-{run_id}")
    expect(run.locator(".badge[data-state]")).to_have_attribute("data-state", "cancelled", timeout=30_000)
    expect(run).to_contain_text("nothing this run read was kept")
    assert_not_reloaded(page, url)
    assert_polling_stopped(page, "/progress/")
    cancelled = SyncRun.objects.get(pk=run_id)
    assert cancelled.status == "cancelled" and not cancelled.records.exists()
