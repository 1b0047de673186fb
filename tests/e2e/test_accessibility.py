"""Every main page checked in Chromium by axe-core (vendored under tests/e2e/vendor, tests only): no
serious or critical accessibility violation. The same walk saves a screenshot of each page; with
``SCREENSHOTS_DIR`` set (``docs/screenshots`` for the README) they are kept there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from connections.models import SyncRun
from tests.factories import press, sandbox_listing

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
AXE_URL = "/__tests__/axe.js"  # served by the browser from the file: same origin, so the page's CSP admits it
BLOCKING = {"serious", "critical"}
RUN_ID = re.compile(r'data-run="([0-9a-f-]{36})"')


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.route(f"**{AXE_URL}", lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"))
    page.add_script_tag(url=AXE_URL)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:5]]}
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(folder / f"{name}.png"), full_page=False)


def _sync(client: Any, connection: Any, wait_for_job: Any) -> SyncRun:
    response = client.post(reverse("connections:sync_start", args=[connection.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content[:300]
    run = SyncRun.objects.get(pk=RUN_ID.search(response.content.decode()).group(1))
    wait_for_job(run.job_id, timeout=60)
    run.refresh_from_db()
    assert run.status == "succeeded", run.message
    return run


def test_main_pages_have_no_serious_accessibility_violations(
    clean_sandbox,
    sandbox_app,
    sandbox_connection,
    team_a,
    admin_a,
    login,
    browser_as,
    live_worker,
    wait_for_job,
    tmp_path,
):
    users = sandbox_connection(team_a, name="Directory users")
    groups_app = sandbox_app(roles=["User.Read.All"], requested_roles=["GroupMember.Read.All"])
    groups = sandbox_connection(team_a, groups_app, name="Directory groups", entity="groups")
    client = login(admin_a)
    first = _sync(client, users, wait_for_job)
    for user in sandbox_listing(clean_sandbox)[:3]:  # the second run has changes to show
        clean_sandbox.control.patch(f"/_sandbox/users/{user['id']}", {"jobTitle": "Reviewer"})
    second = _sync(client, users, wait_for_job)
    wait_for_job(press(client, groups, "test"))

    page = browser_as(admin_a)
    pages = {
        "list": reverse("connections:list"),
        "detail-diagnosis": reverse("connections:detail", args=[groups.pk]) + "#diagnostics",
        "detail": reverse("connections:detail", args=[users.pk]),
        "runs": reverse("connections:sync_list", args=[users.pk]),
        "run": reverse("connections:sync_detail", args=[users.pk, second.pk]),
        "run-changes": reverse("connections:sync_changes", args=[users.pk, second.pk]),
        "new-connection": reverse("connections:new"),
        "planner": reverse("connections:connection_permissions", args=[groups.pk]),
        "alerts": reverse("connections:alerts"),
    }
    found: dict[str, list[dict[str, Any]]] = {}
    for name, url in pages.items():
        page.goto(url)
        expect(page.locator("main")).to_be_visible()
        if name == "detail-diagnosis":
            expect(page.locator('[data-diagnosis="graph.permission_missing"]')).to_be_visible()
        if violations := axe_violations(page):
            found[name] = violations
        screenshot(page, name, tmp_path)
    # A sync while it runs: Graph answers slowly, so the running state lasts long enough to be seen.
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": "/v1.0/users", "status": None, "count": 2, "delay_ms": 2500}
    )
    page.goto(pages["detail"])
    with page.expect_response(lambda r: r.url.endswith("/syncs/start/")):
        page.locator("#sync-panel").get_by_role("button", name="Sync now", exact=True).click()
    running = page.locator("#sync-activity .badge[data-state]")
    expect(running).to_have_attribute("data-state", "running", timeout=15_000)
    if violations := axe_violations(page):
        found["running-sync"] = violations
    screenshot(page, "running-sync", tmp_path)
    expect(running).to_have_attribute("data-state", "succeeded", timeout=30_000)

    assert second.previous_id == first.pk and second.changed == 3
    assert not found, f"serious or critical accessibility violations: {found}"


def test_login_page_has_no_serious_accessibility_violations(browser_as, tmp_path):
    page = browser_as(None)
    page.goto(reverse("login"))
    assert axe_violations(page) == []
    screenshot(page, "login", tmp_path)


def test_pages_fit_a_375_px_screen_and_copy_buttons_copy(sandbox_connection, team_a, admin_a, browser_as, tmp_path):
    connection = sandbox_connection(team_a, name="Phone users")
    page = browser_as(admin_a)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.set_viewport_size({"width": 375, "height": 800})
    for url in (reverse("connections:list"), reverse("connections:detail", args=[connection.pk])):
        page.goto(url)
        expect(page.locator("main")).to_be_visible()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{url} is {overflow} px wider than a 375 px screen"

    page.locator("#profile > summary").click()
    copy = page.get_by_role("button", name="Copy client ID")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == connection.client_id


def test_a_link_to_a_section_opens_it_and_the_page_fits_a_laptop_screen(
    sandbox_connection, team_a, admin_a, browser_as
):
    connection = sandbox_connection(team_a, name="Sections")
    page = browser_as(admin_a)
    page.set_viewport_size({"width": 1280, "height": 800})
    url = reverse("connections:detail", args=[connection.pk])
    page.goto(url)
    expect(page.locator("#profile")).not_to_have_attribute("open", "")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height <= 1400, f"the detail page is {height} px tall at 1280 px wide"

    page.goto(url + "#%E0")  # a fragment that does not decode opens nothing and throws nothing
    expect(page.locator("#profile")).not_to_have_attribute("open", "")
    page.goto(url + "#audit")
    expect(page.locator("#audit")).to_be_visible()
    expect(page.locator("#audit")).to_contain_text("No recorded actions yet.")  # read as the section opens
    page.get_by_role("link", name="Profile", exact=True).click()
    expect(page.locator("#profile")).to_have_attribute("open", "")
    expect(page.locator("#profile")).to_contain_text(connection.client_id)
