"""NUL and other control characters at every entry point: a clear answer, never a 500, nothing
half-written (PostgreSQL refuses NUL in text, so there these requests were server errors)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from connections.models import Connection, LoginFailure, TokenFetch
from tests.cast import make_connection
from tests.library.test_form_validation import valid_data

pytestmark = pytest.mark.django_db


def test_a_username_with_nul_is_a_failed_log_in_not_a_server_error(client, admin_a):
    response = client.post(reverse("login"), {"username": "a\x00b", "password": "x"})
    assert response.status_code == 200
    assert "Your username and password didn" in response.content.decode()
    assert LoginFailure.objects.get().username == "ab"


def test_the_oauth_callback_error_with_nul_records_a_finished_failed_fetch(login, operator_a, team_a):
    delegated = make_connection(team_a, "signed-in reader", grant_type="authorization_code", entity="me")
    client = login(operator_a)
    started = client.post(reverse("connections:oauth_start", args=[delegated.pk]))
    state = parse_qs(urlsplit(started["Location"]).query)["state"][0]

    response = client.get(
        reverse("connections:oauth_callback") + f"?state={state}&error=access_denied%00&error_description=no%01thanks",
        follow=True,
    )

    assert response.status_code == 200
    assert "Sign-in was cancelled" in response.content.decode()
    fetch = TokenFetch.objects.get(connection=delegated)
    assert fetch.finished_at is not None and not fetch.ok
    assert fetch.diagnosis["key"] == "signin.access_denied"


@pytest.mark.parametrize("field", ["name", "odata_filter", "tenant", "client_secret"])
def test_a_form_field_with_nul_is_a_field_error_or_cleaned_and_never_a_server_error(login, admin_a, team_a, field):
    data = valid_data(team_a)
    data[field] = data[field][:3] + "\x00\x1b" + data[field][3:]
    response = login(admin_a).post(reverse("connections:new"), data)
    assert response.status_code in (200, 302)
    for connection in Connection.objects.all():
        assert all("\x00" not in str(getattr(connection, f)) for f in ("name", "odata_filter", "tenant"))


@pytest.mark.parametrize("path", ["connections:list"])
def test_query_parameters_with_nul_are_cleaned(login, admin_a, path):
    response = login(admin_a).get(reverse(path), {"q": "a\x00", "team\x00": "\x00", "page": "1\x00"})
    assert response.status_code == 200


def test_a_session_cookie_with_nul_is_just_not_a_session(client):
    client.cookies["sessionid"] = "abc\x00def"
    response = client.get(reverse("connections:list"))
    assert response.status_code == 302  # to the log-in page
