"""Browser fixtures: the system Chromium driven by Playwright's sync API against ``live_server``.

No browser is downloaded: the tests use an installed Chromium (``CHROMIUM`` or the usual names)
and skip with the reason when there is none (``CHROMIUM=/nonexistent`` shows that).
Jobs run on the real worker (``live_worker``), which shares the test database with the server.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import sync_playwright

CHROMIUM_NAMES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PAGES = pytest.StashKey[list[tuple[Any, Path]]]()


def find_chromium() -> str | None:
    """``CHROMIUM`` when set (a path or a name on PATH), else the usual names."""
    names = [os.environ["CHROMIUM"]] if os.environ.get("CHROMIUM") else CHROMIUM_NAMES
    return next((found for name in names if (found := shutil.which(name))), None)


def note_console_error(page: Any, message: Any, errors: list[str]) -> None:
    """Keeps console errors except failed resource loads (a 404 page the test asked for, a favicon) and
    a request htmx aborted on purpose (``hx-sync``'s replace): htmx logs ``htmx:afterRequest`` then
    ``htmx:sendAbort`` for it, so the abort takes back the note of its request."""
    if message.type != "error" or message.text.startswith("Failed to load resource"):
        return
    if message.text.startswith("htmx:sendAbort"):
        if errors and errors[-1].startswith(f"{page.url}: htmx:afterRequest"):
            errors.pop()
        return
    errors.append(f"{page.url}: {message.text}")


def note_failed_request(failed: Any, errors: list[str]) -> None:
    """A request that got no answer; one the browser itself cancelled (a navigation) is not a fault."""
    if "ERR_ABORTED" not in (failed.failure or ""):
        errors.append(f"{failed.method} {failed.url} failed: {failed.failure}")


def note_error_response(response: Any, errors: list[str]) -> None:
    """A 4xx/5xx answer to anything but a page the test navigated to (static files, htmx, downloads)."""
    if response.status >= 400 and response.request.resource_type != "document":
        errors.append(f"{response.request.method} {response.url} answered {response.status}")


def wait_until_idle(page: Any, timeout: float = 15.0) -> None:
    """Waits until no htmx request is in flight (.htmx-request). Polled from Python: Playwright's own
    wait_for_function polls with eval inside the page, which the page's CSP forbids."""
    deadline = time.monotonic() + timeout
    while page.evaluate("() => document.querySelector('.htmx-request') !== null"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"htmx requests still in flight on {page.url} after {timeout} s")
        page.wait_for_timeout(100)


@pytest.fixture(scope="session", autouse=True)
def chromium_executable() -> str:
    """The browser to drive; skips every e2e test, before the sandbox and worker start, without one."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium executable found (install the `chromium` package or set CHROMIUM)")
    return executable


@pytest.fixture(scope="package")
def browser(chromium_executable: str) -> Iterator[Any]:
    """One headless Chromium for the e2e tests.

    Playwright's sync API keeps an event loop running in the test thread, so Django would refuse
    ORM calls (fixtures, the DB flush) as "async unsafe"; the flag is set only while the browser
    lives, and stopping Playwright ends the loop before any other test runs.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=chromium_executable, args=LAUNCH_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture(autouse=True)
def _plain_static_files(settings: Any) -> None:
    """Templates must not need a collectstatic manifest (DEBUG=False picks the manifest storage)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def browser_as(
    browser: Any, live_server: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[Any], Any]]:
    """``browser_as(user, **context_options)`` → a Page logged in as ``user`` on the live server
    (session cookie, no password), or of a visitor who has not logged in for ``None``; the options
    go to Playwright's ``new_context``.

    Script errors (uncaught exceptions, htmx's console errors such as a missing swap target) and
    failed requests (a static file, an htmx fragment or a download answering 4xx/5xx, or not at all)
    fail the test at teardown. Pages the test navigates to itself may answer an error status. A
    failing test gets a full-page screenshot of each of its pages under ``tmp_path``, named in the
    failure (see ``pytest_runtest_call``).
    """
    contexts: list[Any] = []
    script_errors: list[str] = []
    request.node.stash[PAGES] = []

    def open_as(user: Any | None, **context_options: Any) -> Any:
        context = browser.new_context(base_url=live_server.url, accept_downloads=True, **context_options)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "url": live_server.url,
                        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    }
                ]
            )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: note_console_error(page, message, script_errors))
        page.on("requestfailed", lambda failed: note_failed_request(failed, script_errors))
        page.on("response", lambda response: note_error_response(response, script_errors))
        name = user.get_username() if user is not None else "visitor"
        request.node.stash[PAGES].append((page, tmp_path / f"failure-{name}.png"))
        return page

    yield open_as
    for context in contexts:
        # Let htmx requests in flight (marked .htmx-request) finish before the flush (pytest-django#454).
        for page in context.pages:
            wait_until_idle(page)
        context.close()
    assert not script_errors, f"script errors or failed requests in the browser: {script_errors}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """On failure, screenshot every page the test opened and name the files in the error."""
    try:
        return (yield)
    except BaseException as error:
        for page, path in item.stash.get(PAGES, []):
            try:
                page.screenshot(path=str(path), full_page=True)
                error.add_note(f"screenshot of {page.url}: {path}")
            except Exception as shot_error:  # the page may be gone; the original failure matters
                error.add_note(f"no screenshot of {path.name}: {shot_error}")
        raise
