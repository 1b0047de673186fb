"""Sign in with Microsoft: who becomes what, from the token's app roles and groups (real sandbox, real HTTP)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from connections.models import AuditEntry, ClaimMapping, EntraIdentity, Membership
from tests.cast import make_user

from .conftest import ROLES

ADMIN, OPERATOR, VIEWER = ROLES


@pytest.fixture
def mapped(team_a):
    """Team A's app roles mapped to its roles."""
    for value, role in zip(ROLES, ("admin", "operator", "viewer"), strict=False):
        ClaimMapping.objects.create(claim="roles", value=value, team=team_a, role=role)
    return team_a


@pytest.mark.smoke
def test_admin_role_user_lands_on_the_list_as_admin_of_the_team(sso_app, entra_user, sign_in, mapped, connection_a):
    ada = entra_user("Ada Admin", role=ADMIN, app=sso_app)
    client = Client()

    response = sign_in(client, ada)

    assert response.status_code == 302 and response["Location"] == reverse("connections:list")
    page = client.get(response["Location"]).content.decode()
    assert connection_a.name in page and "New connection" in page
    user = get_user_model().objects.get(entra_identity__object_id=ada["id"])
    assert user.username == ada["userPrincipalName"].lower()
    assert not user.has_usable_password()
    assert list(Membership.objects.filter(user=user).values_list("team__name", "role")) == [("Team A", "admin")]
    identity = user.entra_identity
    assert (identity.display_name, identity.upn, identity.roles) == ("Ada Admin", ada["userPrincipalName"], [ADMIN])


def test_a_viewer_group_member_gets_the_viewer_role(sso_app, entra_user, security_group, sign_in, team_a, connection_a):
    vic = entra_user("Vic Viewer")
    group = security_group("graphconn viewers", [vic["id"]])
    ClaimMapping.objects.create(claim="groups", value=group["id"], team=team_a, role="viewer")
    client = Client()

    assert sign_in(client, vic).status_code == 302
    user = get_user_model().objects.get(entra_identity__object_id=vic["id"])
    assert list(user.memberships.values_list("role", flat=True)) == ["viewer"]
    detail = client.get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
    assert "Your role in Team A is viewer" in detail


def test_the_highest_mapped_role_wins(sso_app, entra_user, security_group, sign_in, mapped):
    olga = entra_user("Olga Operator", role=OPERATOR, app=sso_app)
    group = security_group("graphconn viewers", [olga["id"]])
    ClaimMapping.objects.create(claim="groups", value=group["id"], team=mapped, role="viewer")

    assert sign_in(Client(), olga).status_code == 302
    assert list(
        Membership.objects.filter(user__entra_identity__object_id=olga["id"]).values_list("role", flat=True)
    ) == ["operator"]


def test_a_user_with_no_mapping_sees_whom_to_ask_not_an_empty_dashboard(sso_app, entra_user, sign_in, mapped, settings):
    settings.SSO_ACCESS_CONTACT = "it-help@contoso.example"
    nora = entra_user("Nora Nomap")
    client = Client()

    response = sign_in(client, nora)

    assert response.status_code == 302 and response["Location"] == reverse("sso:no_access")
    page = client.get(response["Location"])
    text = page.content.decode()
    assert page.status_code == 403
    assert "You have no team in graphconn yet" in text and "Nora Nomap" in text and nora["userPrincipalName"] in text
    assert "Ask it-help@contoso.example" in text
    assert client.get(reverse("connections:list")).status_code == 302  # not signed in
    assert get_user_model().objects.filter(entra_identity__object_id=nora["id"]).exists()


@pytest.mark.smoke
def test_role_removed_in_entra_is_gone_at_the_next_sign_in(clean_sandbox, sso_app, entra_user, sign_in, mapped):
    ada = entra_user("Ada Admin", role=ADMIN, app=sso_app)
    assert sign_in(Client(), ada).status_code == 302
    user = get_user_model().objects.get(entra_identity__object_id=ada["id"])
    assert user.memberships.get().role == "admin"

    clean_sandbox.control.delete(
        f"/_sandbox/apps/{sso_app['client_id']}/assignments", {"principal": ada["id"], "role": ADMIN}
    )
    client = Client()
    response = sign_in(client, ada)

    assert response["Location"] == reverse("sso:no_access")
    assert not user.memberships.exists()
    assert client.get(reverse("connections:list")).status_code == 302
    assert get_user_model().objects.filter(entra_identity__object_id=ada["id"]).count() == 1  # same user


def test_a_role_changed_in_entra_applies_at_the_next_sign_in(clean_sandbox, sso_app, entra_user, sign_in, mapped):
    ada = entra_user("Ada Admin", role=VIEWER, app=sso_app)
    assert sign_in(Client(), ada).status_code == 302
    assignments = f"/_sandbox/apps/{sso_app['client_id']}/assignments"
    clean_sandbox.control.delete(assignments, {"principal": ada["id"], "role": VIEWER})
    clean_sandbox.control.post(assignments, {"principal": ada["id"], "role": ADMIN})

    assert sign_in(Client(), ada).status_code == 302
    assert Membership.objects.get(user__entra_identity__object_id=ada["id"]).role == "admin"


def test_users_are_matched_by_object_id_not_by_name(clean_sandbox, sso_app, entra_user, sign_in, mapped):
    """A local account named like the UPN is never taken over; a renamed account stays the same user."""
    ada = entra_user("Ada Admin", role=ADMIN, app=sso_app)
    local = make_user(ada["userPrincipalName"].lower(), password="x" * 20)

    assert sign_in(Client(), ada).status_code == 302
    signed_in = get_user_model().objects.get(entra_identity__object_id=ada["id"])
    assert signed_in.pk != local.pk and not local.memberships.exists()

    clean_sandbox.control.patch(
        f"/_sandbox/users/{ada['id']}",
        {"displayName": "Ada Lovelace", "userPrincipalName": f"ada.l@{clean_sandbox.tenant_domain}"},
    )
    assert sign_in(Client(), ada).status_code == 302
    again = EntraIdentity.objects.get(object_id=ada["id"])
    assert again.user_id == signed_in.pk and again.display_name == "Ada Lovelace"


def test_audit_entries_name_the_person_by_display_name_and_upn(sso_app, entra_user, sign_in, mapped, connection_a):
    ada = entra_user("Ada Admin", role=ADMIN, app=sso_app)
    client = Client()
    sign_in(client, ada)

    response = client.post(reverse("connections:delete", args=[connection_a.pk]))

    assert response.status_code == 302
    entry = AuditEntry.objects.get(action=AuditEntry.Action.DELETED)
    assert entry.username == f"Ada Admin ({ada['userPrincipalName']})"


def test_sign_out_ends_the_session_and_offers_entras_sign_out(clean_sandbox, sso_app, entra_user, sign_in, mapped):
    ada = entra_user("Ada Admin", role=ADMIN, app=sso_app)
    client = Client()
    sign_in(client, ada)

    page = client.post(reverse("logout"))

    text = page.content.decode()
    assert page.status_code == 200 and "You are signed out of graphconn" in text
    assert client.get(reverse("connections:list")).status_code == 302
    end_session = f"{clean_sandbox.base_url}/{clean_sandbox.tenant_id}/oauth2/v2.0/logout?post_logout_redirect_uri="
    assert end_session in text
    href = text.split(end_session, 1)[1].split('"', 1)[0].replace("&amp;", "&")
    answer = clean_sandbox.session().get(end_session + href, allow_redirects=False, timeout=30)
    assert answer.status_code == 302 and answer.headers["Location"] == "http://testserver/accounts/login/"


def test_a_microsoft_sign_in_lasts_a_working_day_then_entra_is_asked_again(
    sso_app, entra_user, sign_in, mapped, settings
):
    settings.SSO_SESSION_SECONDS = 3600
    ada = entra_user("Ada Admin", role=ADMIN, app=sso_app)
    client = Client()
    sign_in(client, ada)
    assert client.session.get_expiry_age() == 3600


def test_a_password_log_out_still_goes_to_the_log_in_page(admin_a, login):
    assert login(admin_a).post(reverse("logout"))["Location"] == reverse("login")


def test_sign_in_returns_to_the_page_that_asked_for_it(clean_sandbox, sso_app, entra_user, mapped, connection_a):
    from .conftest import BASE, authorize

    ada = entra_user("Ada Admin", role=ADMIN, app=sso_app)
    detail = reverse("connections:detail", args=[connection_a.pk])
    client = Client()
    login_page = client.get(reverse("login"), {"next": detail}).content.decode()
    assert f'href="/sso/login/?next={detail}"' in login_page

    start = client.get("/sso/login/", {"next": detail})
    response = client.get(authorize(clean_sandbox, start["Location"], ada["id"])[len(BASE) :])
    assert response["Location"] == detail
    client.post(reverse("logout"))
    evil = client.get("/sso/login/", {"next": "https://evil.example/"})
    assert client.get(authorize(clean_sandbox, evil["Location"], ada["id"])[len(BASE) :])["Location"] == "/"
