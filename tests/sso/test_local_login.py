"""Password log-in next to Sign in with Microsoft, and switched off (Django admin keeps working)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.cast import make_member

PASSWORD = "a-long-local-password-123"


@pytest.fixture
def local_user(team_a):
    return make_member("local", team_a, "admin", password=PASSWORD)


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", email="root@example.test", password=PASSWORD)


def test_the_login_page_offers_microsoft_next_to_the_password_form(sso_app):
    page = Client().get(reverse("login")).content.decode()
    assert "Sign in with Microsoft" in page and 'name="password"' in page


def test_with_local_login_off_the_form_is_gone_and_posting_is_refused(sso_app, local_user, settings):
    settings.LOCAL_LOGIN_ENABLED = False
    client = Client()

    page = client.get(reverse("login")).content.decode()
    assert "Sign in with Microsoft" in page
    assert 'name="password"' not in page and 'name="username"' not in page

    response = client.post(reverse("login"), {"username": "local", "password": PASSWORD})
    assert response.status_code == 403
    assert "Password log-in is switched off" in response.content.decode()
    assert client.get(reverse("connections:list")).status_code == 302  # not logged in


def test_with_local_login_off_a_superuser_still_logs_in_to_django_admin(sso_app, root, settings):
    settings.LOCAL_LOGIN_ENABLED = False
    client = Client()
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": PASSWORD, "next": reverse("admin:index")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_with_local_login_off_staff_who_are_not_superusers_cannot_use_the_admin_log_in(sso_app, local_user, settings):
    settings.LOCAL_LOGIN_ENABLED = False
    local_user.is_staff = True
    local_user.save()
    client = Client()
    response = client.post(reverse("admin:login"), {"username": "local", "password": PASSWORD})
    assert response.status_code == 200 and "only site superusers may log in here" in response.content.decode()
    assert client.get(reverse("connections:list")).status_code == 302


def test_an_account_switched_off_in_admin_loses_its_microsoft_session(sso_app, entra_user, sign_in, team_a):
    from connections.models import ClaimMapping

    from .conftest import ROLES

    ClaimMapping.objects.create(claim="roles", value=ROLES[0], team=team_a, role="admin")
    ada = entra_user("Ada Admin", role=ROLES[0], app=sso_app)
    client = Client()
    sign_in(client, ada)
    assert client.get(reverse("connections:list")).status_code == 200
    get_user_model().objects.filter(entra_identity__object_id=ada["id"]).update(is_active=False)

    assert client.get(reverse("connections:list")).status_code == 302
    response = sign_in(client, ada)
    assert response.status_code == 403 and "Your graphconn account is switched off" in response.content.decode()


def test_local_login_still_works_when_it_is_on(sso_app, local_user):
    client = Client()
    response = client.post(reverse("login"), {"username": "local", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("connections:list")).status_code == 200


def test_the_mapping_admin_page_is_for_superusers_only(sso_app, root, admin_a, team_a, login):
    from connections.models import ClaimMapping

    admin_a.is_staff = True
    admin_a.save()
    assert login(admin_a).get(reverse("admin:connections_claimmapping_changelist")).status_code == 403
    client = login(root)
    add = reverse("admin:connections_claimmapping_add")
    assert client.get(add).status_code == 200
    bad = client.post(add, {"claim": "groups", "value": "finance-team", "team": team_a.pk, "role": "viewer"})
    assert bad.status_code == 200 and "A group is named by its object id" in bad.content.decode()
    good = client.post(
        add, {"claim": "groups", "value": "0B9F4D9E-8F3C-4C8E-9A6A-1D2E3F4A5B6C", "team": team_a.pk, "role": "viewer"}
    )
    assert good.status_code == 302
    assert ClaimMapping.objects.get().value == "0b9f4d9e-8f3c-4c8e-9a6a-1d2e3f4a5b6c"
