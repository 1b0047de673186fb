"""Journeys 1 and 5 in a real browser: the demo data loaded the way ``make run`` loads it, a log-in
with the printed demo login, the demo connections there; and a wrong or an expired secret explained
on the connection in plain words with the next step."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from tests.e2e.pages import button, press_job_button, token_panel, wait_for_job
from tests.factories import make_sandbox_app

pytestmark = pytest.mark.django_db(transaction=True)

PRINTED_LOGIN = re.compile(r"Log in at (\S+) as (\w+) / (\S+)")


def test_first_run_demo_login_shows_the_demo_connections(sandbox, browser_as):
    out = io.StringIO()
    call_command("load_demo", sandbox_json=str(Path(sandbox.state_dir) / "sandbox.json"), stdout=out)
    printed = PRINTED_LOGIN.search(out.getvalue())
    assert printed, out.getvalue()
    username, password = printed.group(2), printed.group(3)
    page = browser_as(None)

    page.goto("/")
    expect(page).to_have_title(re.compile("Log in"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(re.compile(r"/$"))
    for name in ("Sandbox users", "Sandbox groups", "Sandbox mail (sign in)"):
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    page.get_by_role("link", name="Sandbox users", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sandbox users")
    expect(token_panel(page)).to_contain_text("No token yet")


def _expired_secret_app(sandbox):
    past = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    return make_sandbox_app(sandbox, display_name="expired", roles=["User.Read.All"], secret_expires=past)


@pytest.mark.parametrize(
    "case, title, step",
    [
        ("wrong", "The client secret is wrong", "client secret"),
        ("expired", "The client secret has expired", "new client secret"),
    ],
)
def test_a_wrong_or_expired_secret_is_explained_with_the_next_step(
    case, title, step, clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, browser_as, live_worker
):
    if case == "wrong":
        app = sandbox_app(roles=["User.Read.All"])
        secret = "Xy7~not.the-right-secret-value-0123456789"
    else:
        app = _expired_secret_app(clean_sandbox)
        secret = app["client_secret"]
    connection = sandbox_connection(team_a, app, secret=secret, name=f"{case} secret")
    page = browser_as(operator_a)
    page.goto(reverse("connections:detail", args=[connection.pk]))

    job = wait_for_job(
        page, press_job_button(page, button(page.locator(".token-panel .actions"), "Get access token"), "/token/fetch/")
    )

    expect(job.locator(".badge[data-state]")).to_have_text("Failed")
    diagnosis = page.locator("[data-diagnosis^='token.']").first
    expect(diagnosis).to_contain_text(title)
    steps = diagnosis.locator("ol.steps")
    expect(steps).to_be_visible()
    expect(steps).to_contain_text(re.compile(step, re.IGNORECASE))
    assert secret not in page.content()

    page.goto(reverse("connections:list"))
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=connection.name, exact=True))
    expect(row).to_contain_text(title)
