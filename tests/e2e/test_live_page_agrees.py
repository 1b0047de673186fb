"""The connection page tells one story while a sync runs and after it finishes, without a reload:
the first run replaces the "not synced yet" note, and a successful sync clears the problems banner
as it clears Diagnostics."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from connections import tokens
from tests.e2e.pages import assert_not_reloaded, button, mark_page
from tests.factories import press_sync

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_first_sync_replaces_the_not_synced_yet_note(
    clean_sandbox, sandbox_connection, team_a, operator_a, browser_as, live_worker
):
    connection = sandbox_connection(team_a)
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": None, "count": 2, "delay_ms": 1500}
    )
    page = browser_as(operator_a)
    page.goto(reverse("connections:detail", args=[connection.pk]))
    panel = page.locator("#sync-panel")
    expect(panel).to_contain_text("has not been synced yet")

    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")):
        button(panel, "Sync now").click()
    expect(panel.locator(".badge[data-state]")).to_have_attribute("data-state", "running", timeout=15_000)
    assert "has not been synced yet" not in panel.inner_text(), "the note contradicts the moving bar"
    expect(panel.locator(".badge[data-state]")).to_have_attribute("data-state", "succeeded", timeout=30_000)
    expect(panel).not_to_contain_text("has not been synced yet")


def test_a_successful_sync_clears_the_problems_banner_without_a_reload(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, browser_as, live_worker, wait_for_run
):
    app = sandbox_app(roles=["User.Read.All"], requested_roles=["GroupMember.Read.All"])
    groups = sandbox_connection(team_a, app, name="Directory groups", entity="groups")
    failed = wait_for_run(press_sync(login(operator_a), groups))
    assert failed.status == "failed"

    page = browser_as(operator_a)
    page.goto(reverse("connections:detail", args=[groups.pk]))
    banner = page.locator("#problems-banner")
    expect(banner).to_contain_text("The last sync failed.")
    expect(banner).to_contain_text("Graph refused the last read")
    url = page.url
    mark_page(page)

    # An administrator grants the permission in Entra; the next token carries it.
    clean_sandbox.control.post(f"apps/{app['client_id']}/grants", {"roles": ["GroupMember.Read.All"]})
    tokens.discard_saved_token(groups)
    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")):
        button(page.locator("#sync-panel"), "Sync now").click()
    state = page.locator("#sync-activity .badge[data-state]")
    expect(state).to_have_attribute("data-state", "succeeded", timeout=30_000)

    expect(banner.locator("li")).to_have_count(0)
    expect(page.locator("#diagnostics")).to_contain_text("No problems recorded")
    assert_not_reloaded(page, url)
