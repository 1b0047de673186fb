"""Every main page checked in Chromium at 1280 and 375 px: no serious or critical accessibility
violation (axe-core, vendored under tests/e2e/vendor, tests only), no template text leaked into what
people read, nothing wider than the screen; console errors and failed requests fail the test through
``browser_as``. The same walk saves a screenshot of each page; with ``SCREENSHOTS_DIR`` set
(``docs/screenshots`` for the README) they are kept there.
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
from tests.e2e.conftest import wait_until_idle
from tests.factories import make_channel, press, sandbox_listing

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
AXE_URL = "/__tests__/axe.js"  # served by the browser from the file: same origin, so the page's CSP admits it
BLOCKING = {"serious", "critical"}
RUN_ID = re.compile(r'data-run="([0-9a-f-]{36})"')
WIDTHS = (1280, 375)
TEMPLATE_TEXT = ("{#", "{%", "{{", "#}", "%}", "}}")


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


def page_faults(page: Page) -> list[str]:
    """What a reader would trip over at the current width: template syntax shown as text, a page
    wider than the screen (the element that sticks out named)."""
    faults = [f"shows {marker!r}" for marker in TEMPLATE_TEXT if marker in page.locator("body").inner_text()]
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 1:
        widest = page.evaluate(
            """() => {
              const right = window.innerWidth;
              const out = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > right + 1);
              const inner = out.filter(e => !out.some(o => o !== e && e.contains(o)));
              return inner.slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''));
            }"""
        )
        faults.append(f"{overflow} px wider than the screen ({', '.join(widest)})")
    return faults


def open_every_section(page: Page) -> None:
    """Opens every closed section (what is read on opening is read), so its tables are measured too."""
    page.evaluate("() => document.querySelectorAll('details:not([open])').forEach(d => { d.open = true; })")
    page.wait_for_timeout(200)
    wait_until_idle(page)


def check_every_width(page: Page, url: str, name: str, ready: Any = None) -> dict[str, list[Any]]:
    """Opens ``url`` at each width, every section open; axe's serious violations and ``page_faults``."""
    found: dict[str, list[Any]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        expect(page.locator("main")).to_be_visible()
        if ready is not None:
            ready(page)
        open_every_section(page)
        problems: list[Any] = page_faults(page)
        problems += axe_violations(page)
        if problems:
            found[f"{name} at {width} px"] = problems
    return found


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
    make_channel(team_a, name="Operations mail", emails="ops@example.test, oncall@example.test")
    make_channel(team_a, name="Operations in Teams", kind="teams", host="contoso.webhook.office.com", emails="")

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
        "edit-connection": reverse("connections:edit", args=[users.pk]),
        "planner-start": reverse("connections:planner"),
        "audit": reverse("connections:audit_trail", args=[users.pk]),
        "not-found": "/connections/00000000-0000-0000-0000-000000000000/",
    }
    found: dict[str, list[Any]] = {}
    for name, url in pages.items():
        ready = None
        if name == "detail-diagnosis":
            ready = lambda p: expect(p.locator('[data-diagnosis="graph.permission_missing"]')).to_be_visible()  # noqa: E731
        found.update(check_every_width(page, url, name, ready))
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
    if problems := [*page_faults(page), *axe_violations(page)]:
        found["running-sync"] = problems
    screenshot(page, "running-sync", tmp_path)
    expect(running).to_have_attribute("data-state", "succeeded", timeout=30_000)

    assert second.previous_id == first.pk and second.changed == 3
    assert not found, f"leaked template text, overflow or serious accessibility violations: {found}"


def test_login_page_has_no_serious_accessibility_violations(browser_as, tmp_path):
    page = browser_as(None)
    assert check_every_width(page, reverse("login"), "login") == {}
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


def _rows_of(page: Page, selector: str) -> int:
    """How many lines the matched elements take: their vertical middles, a line apart or more."""
    middles = sorted(
        page.evaluate(
            f"() => [...document.querySelectorAll({selector!r})].map(e => {{ const r = e.getBoundingClientRect(); "
            "return r.top + r.height / 2; })"
        )
    )
    return sum(1 for above, below in zip([-100.0, *middles], middles, strict=False) if below - above > 16)


def test_layouts_keep_what_belongs_together_at_375_and_1280_px(
    clean_sandbox, sandbox_connection, team_a, admin_a, operator_a, sync_inline, browser_as
):
    connection = sandbox_connection(team_a, name="Phone users")
    run = sync_inline(connection, operator_a)
    assert run.status == "succeeded", run.error
    make_channel(team_a, name="Operations mail", emails="ops@example.test")
    make_channel(team_a, name="Operations in Teams", kind="teams", host="contoso.webhook.office.com", emails="")
    page = browser_as(admin_a)

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(reverse("connections:list"))
    assert _rows_of(page, "header nav li") <= 2, "the navigation takes more than two lines at 375 px"
    for label in page.locator(".list-filter label").all():
        select = page.locator(f"#{label.get_attribute('for')}")
        near, far = label.bounding_box(), select.bounding_box()
        assert abs(near["y"] + near["height"] / 2 - (far["y"] + far["height"] / 2)) < 8, "a filter label sits apart"
        assert 0 <= far["x"] - (near["x"] + near["width"]) < 24, "a filter label sits apart from its select"

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(reverse("connections:detail", args=[connection.pk]))
    breadcrumb = page.locator('nav[aria-label="breadcrumb"]')
    expect(breadcrumb.get_by_role("link", name="Team A")).to_be_visible()
    page.locator("#sync-panel summary", has_text="Last runs").click()
    runs = page.locator("#sync-panel .overflow-auto")
    expect(runs).to_be_visible()
    assert runs.evaluate("e => e.scrollWidth - e.clientWidth") <= 1, "the Last runs table scrolls sideways"
    for column in ("Status", "Started", "Rows", "Size", "Changes"):
        expect(runs.locator("th", has_text=column)).to_be_visible()

    page.goto(reverse("connections:sync_detail", args=[connection.pk, run.pk]))
    key = page.locator("table.records tbody td").first
    assert (
        key.evaluate(
            "e => { const r = document.createRange(); r.selectNodeContents(e); return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }"
        )
        == 1
    ), "a record's key wraps"

    page.goto(reverse("connections:alerts"))
    for row in page.locator("table.channels tbody tr").all():
        colours = row.locator("td").evaluate_all("cells => cells.map(c => getComputedStyle(c).backgroundColor)")
        assert len(set(colours)) == 1, f"a channel row's cells are striped differently: {colours}"
    expect(page.locator("footer")).to_contain_text("Signed in as admin_a: admin of Team A.")
