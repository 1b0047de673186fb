"""Journey 2 in a real browser, from the start: an admin creates a connection from tenant, app ID
and secret on the form, then Test connection gets a token and reads one item, shown in the page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from connections.models import Connection
from tests.e2e.pages import button, press_job_button, token_panel, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_a_connection_on_the_form_then_test_it(clean_sandbox, team_a, admin_a, browser_as, live_worker):
    sandbox = clean_sandbox
    page = browser_as(admin_a)
    page.goto(reverse("connections:new"))
    form = page.locator("main form")
    form.locator('[name="name"]').fill("Made in the browser")
    form.locator('[name="service_url"]').fill(sandbox.graph_url)
    form.locator('[name="tenant"]').fill(sandbox.tenant_id)
    form.locator('[name="client_id"]').fill(sandbox.client_id)
    form.locator('[name="client_secret"]').fill(sandbox.client_secret)
    form.locator('[name="token_url"]').fill(f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/token")
    form.locator('[name="scope"]').fill("https://graph.microsoft.com/.default")
    form.locator('[type="submit"]').last.click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Made in the browser")
    connection = Connection.objects.get(name="Made in the browser")
    assert connection.client_secret == sandbox.client_secret and sandbox.client_secret not in page.content()

    job = wait_for_job(
        page, press_job_button(page, button(page.locator(".token-panel .actions"), "Test connection"), "/test/")
    )
    expect(job.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(job).to_contain_text("Read users: HTTP 200")
    expect(token_panel(page).locator(".token-inspector .badge.ok")).to_have_text("valid")
