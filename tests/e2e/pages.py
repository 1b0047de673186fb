"""What a user does on the connection page in the browser: press an htmx button, watch a job finish."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Locator, Page, expect

JOB_ID = re.compile(r'id="job-([0-9a-f-]{36})"')
FINISHED = re.compile(r"^(succeeded|failed)$")


def mark_page(page: Page) -> None:
    """Leaves a marker in the window: it survives in-page (htmx) updates, not a navigation or reload."""
    page.evaluate("window.__marker = 1")


def assert_not_reloaded(page: Page, url: str) -> None:
    assert page.url == url, f"the page navigated to {page.url}"
    assert page.evaluate("window.__marker") == 1, "the page was reloaded (window marker gone)"


def press_job_button(page: Page, button: Locator, path: str) -> str:
    """Clicks an htmx button that starts a token/test job; the new job's id, from the fragment htmx got."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(path)) as answer:
        button.click()
    response = answer.value
    assert response.status == 200, f"POST {path} answered {response.status}"
    found = JOB_ID.search(response.text())
    assert found, f"POST {path} answered without a job fragment: {response.text()[:300]}"
    return found.group(1)


def wait_for_job(page: Page, job_id: str, timeout: float = 20_000) -> Locator:
    """Waits, without reloading, until the page shows the job finished; the job's element."""
    job = page.locator(f"#job-{job_id}")
    expect(job.locator(".badge[data-state]")).to_have_attribute("data-state", FINISHED, timeout=timeout)
    return job


def assert_polling_stopped(page: Page, path_part: str, quiet_ms: int = 2_500) -> None:
    """A finished job or run must stop polling: no request to ``path_part`` for more than two poll periods."""
    polls: list[str] = []

    def note(request: Any) -> None:
        if path_part in request.url:
            polls.append(request.url)

    page.on("request", note)
    page.wait_for_timeout(quiet_ms)
    page.remove_listener("request", note)
    assert not polls, f"still polling after it finished: {polls}"


def token_panel(page: Page) -> Locator:
    return page.locator("#token-panels")


def button(scope: Any, name: str) -> Locator:
    return scope.get_by_role("button", name=name, exact=True)
