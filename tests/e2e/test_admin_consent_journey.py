"""Journey 4 with admin consent, in a real browser: groups are refused → Grant admin consent from
the diagnosis → Accept on the sandbox's consent page → back on the connection, which says consent
was granted and re-fetches the token by itself (no click on Re-fetch) → the page says what was
gained → Sync now reads the groups."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.pages import FINISHED, button, press_job_button, token_panel, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)
CALLBACK_PATH = "/connections/oauth/callback"


def test_admin_consent_comes_home_refetches_by_itself_and_the_sync_works(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, browser_as, live_server, live_worker
):
    callback = live_server.url + CALLBACK_PATH
    app = sandbox_app(roles=["User.Read.All"], requested_roles=["GroupMember.Read.All"], redirect_uris=[callback])
    connection = sandbox_connection(team_a, app, name="Sandbox groups", entity="groups", redirect_url=callback)
    # The sandbox's consent page is served over HTTPS with the sandbox's own CA, which this
    # throwaway browser profile does not know.
    page = browser_as(operator_a, ignore_https_errors=True)
    page.goto(reverse("connections:detail", args=[connection.pk]))

    refused = wait_for_job(
        page, press_job_button(page, button(page.locator(".token-panel .actions"), "Test connection"), "/test/")
    )
    expect(refused.locator(".badge[data-state]")).to_have_text("Failed")
    diagnosis = page.locator('[data-diagnosis="graph.permission_missing"]')
    expect(diagnosis).to_contain_text("The token lacks Group.ReadBasic.All")

    button(diagnosis, "Grant admin consent").click()
    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    expect(page.locator("body")).to_contain_text("GroupMember.Read.All")
    page.get_by_role("button", name="Accept").click()

    page.wait_for_url(f"**{reverse('connections:detail', args=[connection.pk])}")
    expect(page.locator(".messages")).to_contain_text(f"Admin consent granted for {clean_sandbox.tenant_id}")
    refetch = page.locator("#activity .job").first
    expect(refetch).to_contain_text("Re-fetch token")
    expect(refetch.locator(".badge[data-state]")).to_have_attribute("data-state", FINISHED, timeout=20_000)
    expect(refetch.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(refetch).to_contain_text("Gained GroupMember.Read.All")
    expect(token_panel(page)).to_contain_text("gained GroupMember.Read.All")
    expect(token_panel(page).locator(".permissions")).to_contain_text("GroupMember.Read.All")
    expect(page.locator('[data-diagnosis="graph.permission_missing"]')).to_have_count(0)
    expect(page.locator('[data-diagnosis="graph.permission_now_in_token"]')).to_contain_text(
        "The new token carries GroupMember.Read.All"
    )

    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")):
        button(page.locator("#sync-panel"), "Sync now").click()
    expect(page.locator("#sync-panel .badge[data-state]").first).to_have_attribute(
        "data-state", "succeeded", timeout=30_000
    )
