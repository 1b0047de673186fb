"""The walkthrough people arrive with, in a real browser and without reading a file: from the empty
connection list to the sandbox portal (register an app, add a permission, grant admin consent, a
client secret shown once, the IDs and the token endpoint), a new connection from exactly those
values, Test connection and Sync now, a 403 on another entity, a grant in the portal, Get access
token again (Graph refused the saved one, so a new token is fetched and says what it gained), and
the entity read."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.e2e.pages import button, press_job_button, token_panel, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)
APP_NAME = "Newcomer directory reader"


def app_card(page: Page):
    return page.locator('div.card[id^="app-"]', has=page.get_by_role("heading", name=APP_NAME, exact=True))


def add_and_grant(page: Page, permission: str) -> None:
    """Entra's two steps: Add a permission (listed, not granted), then Grant admin consent."""
    card = app_card(page)
    card.get_by_label("Permission").select_option(permission)
    card.get_by_role("button", name="Add a permission").click()
    expect(app_card(page).locator("tr", has_text=permission)).to_contain_text("Not granted for")
    app_card(page).get_by_role("button", name=re.compile(r"^Grant admin consent for ")).click()
    expect(app_card(page).locator("tr", has_text=permission)).to_contain_text("Granted for the organisation")


def test_a_newcomer_goes_from_the_portal_to_a_working_connection(
    clean_sandbox, team_a, admin_a, browser_as, live_worker
):
    # The sandbox answers over HTTPS with its own CA, which this throwaway profile does not know.
    page = browser_as(admin_a, ignore_https_errors=True)
    page.goto(reverse("connections:list"))
    portal = page.get_by_role("link", name="Register an app in the sandbox portal").get_attribute("href")
    page.goto(portal)

    page.locator("#walkthrough").get_by_text("Grant admin consent").wait_for()
    page.get_by_placeholder("Display name").fill(APP_NAME)
    page.get_by_role("button", name="Register", exact=True).click()
    expect(app_card(page)).to_contain_text("Application (client) ID")
    add_and_grant(page, "User.Read.All")

    card = app_card(page)
    card.get_by_placeholder("Description", exact=True).fill("graphconn")
    card.get_by_role("button", name="New client secret").click()
    banner = page.locator(".banner", has_text="not shown again")
    secret = banner.locator("code").inner_text()
    client_id = app_card(page).locator("code").first.inner_text()
    tenant_id = re.search(r"Directory \(tenant\) ID ([0-9a-f-]{36})", page.locator("body").inner_text()).group(1)
    endpoints = page.locator("#endpoints")
    token_url = endpoints.locator("tr", has_text="OAuth 2.0 token endpoint (v2)").locator("code").inner_text()
    service_url = endpoints.locator("tr", has_text="Microsoft Graph API endpoint").locator("code").inner_text()
    page.reload()
    assert secret not in page.content(), "the secret's value is shown again"
    assert tenant_id == clean_sandbox.tenant_id and token_url.endswith(f"/{tenant_id}/oauth2/v2.0/token")

    # New connection with exactly what the walkthrough collected: no tenant typed, the token endpoint pasted.
    page.goto(reverse("connections:new"))
    page.locator('[name="name"]').fill("Newcomer users")
    page.locator('[name="service_url"]').fill(service_url)
    page.locator('[name="entity"]').fill("users")
    page.locator('[name="token_url"]').fill(token_url)
    expect(page.locator('[name="tenant"]')).to_have_value(tenant_id)
    page.locator('[name="client_id"]').fill(client_id)
    page.locator('[name="client_secret"]').fill(secret)
    page.get_by_role("button", name="Save connection").click()
    expect(page.locator(".messages")).to_contain_text("Connection “Newcomer users” saved.")
    detail = page.url

    tested = wait_for_job(
        page, press_job_button(page, button(page.locator(".token-panel .actions"), "Test connection"), "/test/")
    )
    expect(tested.locator(".badge[data-state]")).to_have_text("Succeeded")
    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")):
        button(page.locator("#sync-panel"), "Sync now").click()
    expect(page.locator("#sync-activity .badge[data-state]")).to_have_attribute(
        "data-state", "succeeded", timeout=30_000
    )

    # Another entity: Graph answers 403 and the diagnosis names what to grant.
    page.get_by_role("button", name="Edit", exact=True).click()
    page.locator('[name="entity"]').fill("groups")
    page.get_by_role("button", name="Save connection").click()
    refused = wait_for_job(
        page, press_job_button(page, button(page.locator(".token-panel .actions"), "Test connection"), "/test/")
    )
    expect(refused.locator(".badge[data-state]")).to_have_text("Failed")
    expect(page.locator('[data-diagnosis="graph.permission_missing"]')).to_contain_text("Group")

    page.goto(portal)
    add_and_grant(page, "GroupMember.Read.All")

    page.goto(detail)
    # As the walkthrough says: grant more, then press Get access token again. Graph refused the saved
    # token, so the button fetches a new one, and the panel says what it gained.
    got = wait_for_job(
        page, press_job_button(page, button(page.locator(".token-panel .actions"), "Get access token"), "/token/fetch/")
    )
    expect(got.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(token_panel(page)).to_contain_text("gained GroupMember.Read.All")
    expect(token_panel(page).locator(".permissions")).to_contain_text("GroupMember.Read.All")
    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")):
        button(page.locator("#sync-panel"), "Sync now").click()
    expect(page.locator("#sync-activity .badge[data-state]")).to_have_attribute(
        "data-state", "succeeded", timeout=30_000
    )
    expect(page.locator("#problems-banner li")).to_have_count(0)
