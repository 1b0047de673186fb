"""Journeys 2 and 4 in a real browser: Test connection shows its result and the token in-page, and a
refused groups read is diagnosed, granted, re-fetched from the diagnosis and then read."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.pages import (
    assert_not_reloaded,
    assert_polling_stopped,
    button,
    mark_page,
    press_job_button,
    token_panel,
    wait_for_job,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_test_connection_shows_the_read_and_the_token_without_a_reload(
    sandbox_connection, team_a, operator_a, browser_as, live_worker
):
    connection = sandbox_connection(team_a)
    page = browser_as(operator_a)
    page.goto(reverse("connections:detail", args=[connection.pk]))
    expect(token_panel(page)).to_contain_text("No token yet")
    url = page.url
    mark_page(page)

    job_id = press_job_button(page, button(page.locator(".token-panel .actions"), "Test connection"), "/test/")
    job = wait_for_job(page, job_id)

    expect(job.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(job).to_contain_text("Read users: HTTP 200")
    state = token_panel(page).locator(".token-inspector")
    expect(state).to_contain_text("valid until")
    expect(state.locator(".badge.ok")).to_have_text("valid")
    expect(state.locator(".permissions")).to_contain_text("User.Read.All")
    expect(page.locator(".diagnostics-panel")).to_contain_text("No problems recorded")
    assert_not_reloaded(page, url)
    assert_polling_stopped(page, "/jobs/")


@pytest.fixture
def groups_app(sandbox_app):
    """Like the demo app: User.Read.All granted; the group permissions requested but not granted."""
    return sandbox_app(roles=["User.Read.All"], requested_roles=["Group.Read.All", "GroupMember.Read.All"])


def test_missing_group_permission_is_diagnosed_granted_refetched_and_read(
    clean_sandbox, sandbox_connection, groups_app, team_a, operator_a, browser_as, live_worker
):
    connection = sandbox_connection(team_a, groups_app, name="groups", entity="groups")
    page = browser_as(operator_a)
    page.goto(reverse("connections:detail", args=[connection.pk]))
    url = page.url
    mark_page(page)
    test_button = button(page.locator(".token-panel .actions"), "Test connection")

    refused = wait_for_job(page, press_job_button(page, test_button, "/test/"))
    expect(refused.locator(".badge[data-state]")).to_have_text("Failed")
    diagnosis = page.locator('[data-diagnosis="graph.permission_missing"]')
    expect(diagnosis).to_be_visible()
    expect(diagnosis).to_contain_text("GroupMember.Read.All")
    refetch = button(diagnosis, "Re-fetch token")
    expect(refetch).to_be_visible()

    clean_sandbox.control.post(f"/_sandbox/apps/{groups_app['client_id']}/grants", {"roles": ["Group.Read.All"]})
    refetched = wait_for_job(page, press_job_button(page, refetch, "/token/refetch/"))

    expect(refetched.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(refetched).to_contain_text("Gained Group.Read.All")
    expect(token_panel(page)).to_contain_text("gained Group.Read.All")
    expect(token_panel(page).locator(".permissions")).to_contain_text("Group.Read.All")
    expect(page.locator('[data-diagnosis="graph.permission_missing"]')).to_have_count(0)

    passed = wait_for_job(page, press_job_button(page, test_button, "/test/"))
    expect(passed.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(passed).to_contain_text("Read groups: HTTP 200")
    expect(page.locator(".diagnostics-panel")).to_contain_text("No problems recorded")
    assert_not_reloaded(page, url)
