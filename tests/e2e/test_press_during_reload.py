"""A press just after a job finished, in a real browser: the finished job makes the panel reload,
and that reload, rendered before the press but answering after it, must not put the panel back as it
was. The reload's answer is held (Playwright route) until the press has landed, so the order is the
one that lost the new run or job before the panel and its buttons shared one htmx request."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.e2e.pages import button, press_job_button, token_panel, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)


class HeldReload:
    """Holds the next answer to ``path``: the server renders it at once, the browser gets it on release."""

    def __init__(self, page: Page, path: str) -> None:
        self.page, self.path = page, path
        self.held: list[tuple[Any, Any]] = []
        page.route(re.compile(re.escape(path) + r"$"), self.hold)

    def hold(self, route: Any) -> None:
        if self.held:
            route.continue_()
            return
        self.held.append((route, route.fetch()))  # rendered now, before the press

    def wait_until_asked(self, timeout_ms: int = 20_000) -> None:
        waited = 0
        while not self.held:
            assert waited < timeout_ms, f"the panel did not reload ({self.path}) after the job finished"
            self.page.wait_for_timeout(50)
            waited += 50

    def release(self) -> None:
        """Answers the held reload (nothing arrives if the browser gave it up: the press aborted it)."""
        route, response = self.held[0]
        route.fulfill(response=response)
        self.page.wait_for_timeout(500)  # an answer that does land is swapped in by now


@pytest.fixture
def connection_page(sandbox_connection, team_a, operator_a, browser_as, live_worker):
    """``connection_page(panel)`` → an operator's page of a sandbox connection, and a ``HeldReload``
    of the named panel's URL."""

    def open_page(panel_url_name: str) -> tuple[Page, HeldReload]:
        connection = sandbox_connection(team_a)
        page = browser_as(operator_a)
        page.goto(reverse("connections:detail", args=[connection.pk]))
        return page, HeldReload(page, reverse(panel_url_name, args=[connection.pk]))

    return open_page


def test_sync_now_pressed_while_the_panel_reloads_keeps_the_new_run(connection_page):
    page, reload = connection_page("connections:sync_panel")
    panel = page.locator("#sync-panel")

    button(panel, "Sync now").click()
    expect(page.locator("#sync-activity .badge[data-state]")).to_have_attribute("data-state", "succeeded")
    reload.wait_until_asked()

    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")) as started:
        button(panel, "Sync now").click()
    second = re.search(r'data-run="([0-9a-f-]{36})"', started.value.text()).group(1)
    expect(page.locator(f"#sync-activity #sync-run-{second}")).to_be_visible()
    reload.release()

    run = page.locator(f"#sync-activity #sync-run-{second}")
    expect(run.locator(".badge[data-state]")).to_have_attribute("data-state", "succeeded", timeout=30_000)


def test_a_token_button_pressed_while_the_panel_reloads_keeps_the_new_job(connection_page):
    page, reload = connection_page("connections:token_panel")
    actions = page.locator(".token-panel .actions")

    wait_for_job(page, press_job_button(page, button(actions, "Get access token"), "/token/fetch/"))
    reload.wait_until_asked()

    tested = press_job_button(page, button(actions, "Test connection"), "/test/")
    expect(page.locator(f"#activity #job-{tested}")).to_be_visible()
    reload.release()

    job = wait_for_job(page, tested)
    expect(job.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(token_panel(page)).to_contain_text("Read users: HTTP 200")
