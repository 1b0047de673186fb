"""Journey 3 in a real browser: Sync now shows a live progress bar, the runs list has the finished run
with every user, Browse opens the table and the CSV export downloads every user."""

from __future__ import annotations

import csv
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.pages import assert_not_reloaded, assert_polling_stopped, button, mark_page
from tests.factories import sandbox_listing

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_now_shows_progress_lists_the_run_browses_and_exports_every_user(
    clean_sandbox, sandbox_connection, team_a, operator_a, browser_as, live_worker
):
    connection = sandbox_connection(team_a)
    users = {u["id"] for u in sandbox_listing(clean_sandbox)}
    # Slow answers from /v1.0/users, so the running state lasts long enough to be seen.
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": None, "count": 2, "delay_ms": 1500}
    )
    page = browser_as(operator_a)
    page.goto(reverse("connections:detail", args=[connection.pk]))
    url = page.url
    mark_page(page)

    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")) as started:
        button(page.locator("#sync-panel"), "Sync now").click()
    run_id = re.search(r'data-run="([0-9a-f-]{36})"', started.value.text()).group(1)
    run = page.locator(f"#sync-run-{run_id}")
    expect(run.locator(".badge[data-state]")).to_have_attribute("data-state", "running", timeout=15_000)
    expect(run.locator("progress")).to_be_visible()

    expect(run.locator(".badge[data-state]")).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(run.locator("progress")).to_have_count(0)
    expect(run).to_contain_text(f"Read {len(users)} rows")
    assert_not_reloaded(page, url)
    assert_polling_stopped(page, "/progress/")

    page.locator("#sync-panel summary", has_text="Last runs").click()
    page.get_by_role("link", name="All runs").click()
    row = page.locator(f'tr[data-run="{run_id}"]')
    expect(row.locator("td").nth(0)).to_contain_text("Succeeded")
    expect(row.locator("td").nth(5)).to_have_text(str(len(users)))

    row.get_by_role("link", name="Browse").click()
    expect(page.locator("table.records tbody tr").first).to_be_visible()
    expect(page.get_by_text(f"{len(users)} records.")).to_be_visible()
    expect(page.locator("table.records thead")).to_contain_text("displayName")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    with open(download.value.path(), encoding="utf-8-sig", newline="") as exported:
        rows = list(csv.DictReader(exported))
    assert download.value.suggested_filename.endswith(".csv")
    assert {"id", "displayName", "userPrincipalName"} <= set(rows[0])
    assert len(rows) == len(users) and {r["id"] for r in rows} == users
