"""Journey 10 in a real browser: Sign in with Microsoft → the sandbox's sign-in page → pick a person →
the team and role that Entra's app roles or groups give them (or the "ask your admin" page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from connections.models import ClaimMapping
from tests.sso.conftest import ROLES, register_dashboard_app

from .test_viewer import OPERATOR_BUTTONS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sso_app(clean_sandbox, settings, live_server) -> dict[str, Any]:
    return register_dashboard_app(clean_sandbox, settings, live_server.url)


@pytest.fixture
def person(clean_sandbox) -> Callable[..., dict[str, Any]]:
    def create(name: str) -> dict[str, Any]:
        local = name.lower().replace(" ", ".")
        return clean_sandbox.control.post(
            "/_sandbox/users", {"displayName": name, "userPrincipalName": f"{local}@{clean_sandbox.tenant_domain}"}
        )

    return create


@pytest.fixture
def fresh_page(browser_as) -> Callable[[], Any]:
    """A new browser profile (no cookies) on the live server, checked like every journey's page.

    The sandbox serves HTTPS with its own CA, which Chromium's store does not hold (a person's
    browser trusts Microsoft's public CA instead), so certificate errors are ignored in this
    context only.
    """
    return lambda: browser_as(None, ignore_https_errors=True)


def sign_in_as(page: Any, name: str) -> None:
    page.goto(reverse("login"))
    page.get_by_role("button", name="Sign in with Microsoft").click()
    expect(page.get_by_role("heading", name="Pick an account")).to_be_visible()
    page.locator("label.user", has_text=name).click()
    page.get_by_role("button", name="Accept").click()


@pytest.mark.smoke
def test_an_admin_app_role_lands_on_the_list_as_admin_of_the_team(
    clean_sandbox, sso_app, person, team_a, connection_a, fresh_page, live_server
):
    ClaimMapping.objects.create(claim="roles", value=ROLES[0], team=team_a, role="admin")
    ada = person("Ada Admin")
    clean_sandbox.control.post(
        f"/_sandbox/apps/{sso_app['client_id']}/assignments", {"principal": ada["id"], "role": ROLES[0]}
    )
    page = fresh_page()

    sign_in_as(page, "Ada Admin")

    expect(page).to_have_url(f"{live_server.url}{reverse('connections:list')}")
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=connection_a.name)).to_be_visible()
    expect(page.get_by_role("button", name="New connection")).to_be_visible()
    expect(page.get_by_role("button", name=f"Log out {ada['userPrincipalName'].lower()}")).to_be_visible()
    page.get_by_role("link", name=connection_a.name).click()
    expect(page.get_by_role("heading", name=connection_a.name)).to_be_visible()
    for name in ("Test connection", "Edit", "Delete…"):  # operator and admin buttons
        expect(page.get_by_role("button", name=name)).to_be_visible()


def test_a_viewer_group_member_sees_viewer_buttons_only(
    clean_sandbox, sso_app, person, security_group_id, team_a, connection_a, fresh_page
):
    vic = person("Vic Viewer")
    ClaimMapping.objects.create(claim="groups", value=security_group_id([vic["id"]]), team=team_a, role="viewer")
    page = fresh_page()

    sign_in_as(page, "Vic Viewer")
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="New connection")).to_have_count(0)
    page.get_by_role("link", name=connection_a.name).click()

    expect(page.locator(".token-panel")).to_contain_text("Your role in Team A is viewer")
    for name in OPERATOR_BUTTONS:
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.locator("[hx-post]")).to_have_count(0)


def test_a_person_with_no_mapping_gets_the_ask_your_admin_page(
    sso_app, person, team_a, fresh_page, settings, live_server
):
    settings.SSO_ACCESS_CONTACT = "the IT service desk (it@contoso.example)"
    person("Nora Nomap")
    page = fresh_page()

    sign_in_as(page, "Nora Nomap")

    expect(page.get_by_role("heading", name="You have no team in graphconn yet")).to_be_visible()
    expect(page.locator(".no-access")).to_contain_text("Nora Nomap")
    expect(page.locator(".no-access")).to_contain_text("Ask the IT service desk (it@contoso.example)")
    page.goto(reverse("connections:list"))  # not signed in: no empty dashboard
    expect(page).to_have_url(f"{live_server.url}{reverse('login')}?next=/")


@pytest.fixture
def security_group_id(clean_sandbox) -> Callable[[list[str]], str]:
    def create(members: list[str]) -> str:
        return clean_sandbox.control.post(
            "/_sandbox/groups", {"displayName": "graphconn viewers", "securityEnabled": True, "members": members}
        )["id"]

    return create


def test_a_role_removed_on_the_sandbox_portal_is_gone_at_the_next_sign_in(
    clean_sandbox, sso_app, person, team_a, connection_a, fresh_page, live_server
):
    ClaimMapping.objects.create(claim="roles", value=ROLES[0], team=team_a, role="admin")
    ada = person("Ada Admin")
    clean_sandbox.control.post(
        f"/_sandbox/apps/{sso_app['client_id']}/assignments", {"principal": ada["id"], "role": ROLES[0]}
    )
    page = fresh_page()
    sign_in_as(page, "Ada Admin")
    expect(page.get_by_role("link", name=connection_a.name)).to_be_visible()
    page.get_by_role("button", name=f"Log out {ada['userPrincipalName'].lower()}").click()
    expect(page.get_by_role("heading", name="You are signed out of graphconn")).to_be_visible()

    page.goto(f"{clean_sandbox.base_url}/_sandbox/portal")  # an Entra admin removes the role
    card = page.locator(f"#app-{sso_app['client_id']}")
    card.locator("tr", has_text="Ada Admin").get_by_role("button", name="Remove").click()
    expect(page.locator(f"#app-{sso_app['client_id']} tr", has_text="Ada Admin")).to_have_count(0)

    sign_in_as(page, "Ada Admin")
    expect(page.get_by_role("heading", name="You have no team in graphconn yet")).to_be_visible()
    page.goto(reverse("connections:detail", args=[connection_a.pk]))
    expect(page).to_have_url(
        f"{live_server.url}{reverse('login')}?next={reverse('connections:detail', args=[connection_a.pk])}"
    )


def test_with_local_login_off_the_password_form_is_gone(sso_app, fresh_page, settings):
    settings.LOCAL_LOGIN_ENABLED = False
    page = fresh_page()
    page.goto(reverse("login"))
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()
    expect(page.get_by_label("Password")).to_have_count(0)
    expect(page.get_by_role("button", name="Log in")).to_have_count(0)


def test_a_replayed_callback_and_a_cancel_are_explained_in_the_page(
    clean_sandbox, sso_app, person, team_a, fresh_page, live_server
):
    ClaimMapping.objects.create(claim="roles", value=ROLES[0], team=team_a, role="admin")
    ada = person("Ada Admin")
    clean_sandbox.control.post(
        f"/_sandbox/apps/{sso_app['client_id']}/assignments", {"principal": ada["id"], "role": ROLES[0]}
    )
    page = fresh_page()
    callbacks: list[str] = []
    page.on("request", lambda request: callbacks.append(request.url) if "/sso/callback/" in request.url else None)
    sign_in_as(page, "Ada Admin")
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    page.get_by_role("button", name=f"Log out {ada['userPrincipalName'].lower()}").click()

    page.goto(callbacks[0])  # the same answer, a second time
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("it was already used")
    expect(page.get_by_role("button", name="Sign in with Microsoft again")).to_be_visible()

    page.get_by_role("button", name="Sign in with Microsoft again").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="Sign-in cancelled")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Nobody was signed in")
