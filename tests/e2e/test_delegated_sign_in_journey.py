"""Journey 6 in a real browser: an authorization-code connection → Sign in with Microsoft → the
sandbox's sign-in page → back on the connection with a delegated token whose scp is shown, and
Test connection reads as the signed-in person."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.pages import button, press_job_button, token_panel, wait_for_job
from tests.factories import GRAPH, SIGN_IN_SCOPES

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_in_with_microsoft_gets_a_delegated_token_and_reads_as_the_person(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, browser_as, live_server, live_worker
):
    callback = f"{live_server.url}{reverse('connections:oauth_callback')}"
    app = sandbox_app(redirect_uris=[callback], scopes=SIGN_IN_SCOPES)
    connection = sandbox_connection(
        team_a,
        app,
        delegated=True,
        name="Signed-in reader",
        entity="me",
        scope=f"{GRAPH}/User.Read",
        redirect_url=callback,
    )
    # The sandbox serves HTTPS with its own CA, which Chromium's store does not hold (a person's
    # browser trusts Microsoft's public CA instead): certificate errors are ignored in this context only.
    page = browser_as(operator_a, ignore_https_errors=True)
    page.goto(reverse("connections:detail", args=[connection.pk]))

    button(page.locator(".token-panel"), "Sign in with Microsoft").click()
    expect(page.get_by_role("heading", name="Pick an account")).to_be_visible()
    page.locator("label.user").first.click()
    page.get_by_role("button", name="Accept").click()

    expect(page).to_have_url(f"{live_server.url}{reverse('connections:detail', args=[connection.pk])}")
    inspector = token_panel(page).locator(".token-inspector")
    expect(inspector.locator(".badge.ok")).to_have_text("valid")
    expect(inspector).to_contain_text("Delegated")
    expect(inspector.locator(".permissions")).to_contain_text("User.Read")

    job = wait_for_job(
        page, press_job_button(page, button(page.locator(".token-panel .actions"), "Test connection"), "/test/")
    )
    expect(job.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(job).to_contain_text("Read me: HTTP 200")
