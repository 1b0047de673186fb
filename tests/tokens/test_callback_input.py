"""The OAuth callback under odd input: it answers in plain words and never sends a half request."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from connections.models import ConnectionToken, TokenFetch
from tests.cast import make_connection
from tests.factories import start_sign_in

pytestmark = pytest.mark.django_db

CALLBACK = reverse("connections:oauth_callback")


@pytest.fixture
def delegated(team_a):
    return make_connection(team_a, "signed-in reader", grant_type="authorization_code", entity="me")


def sign_in_state(client, connection) -> str:
    """Press Sign in with Microsoft; the ``state`` of the authorise URL."""
    return parse_qs(urlsplit(start_sign_in(client, connection)).query)["state"][0]


def test_an_unreadable_secret_at_the_callback_is_explained_and_nothing_is_sent(settings, login, operator_a, delegated):
    client = login(operator_a)
    state = sign_in_state(client, delegated)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    response = client.get(CALLBACK, {"state": state, "code": "an-auth-code"}, follow=True)

    assert response.status_code == 200
    assert "The saved secret is unreadable with the configured keys" in response.content.decode()
    assert ConnectionToken.objects.get(connection=delegated).state == "error"
    fetch = TokenFetch.objects.get(connection=delegated)
    assert fetch.diagnosis["key"] == "token.secret_unreadable" and not fetch.ok


@pytest.mark.parametrize(
    "query",
    [
        "",
        "state",
        "state=&code=",
        "state=%00&code=x",
        "code=x&code=y",
        "state=a&state=b",
        "error=access_denied",
        "state=" + "s" * 5000,
    ],
)
def test_a_malformed_callback_is_refused_in_plain_words(login, operator_a, delegated, query):
    client = login(operator_a)
    sign_in_state(client, delegated)
    response = client.get(f"{CALLBACK}?{query}")
    assert response.status_code == 400
    assert "Sign-in not accepted" in response.content.decode()
    assert not TokenFetch.objects.filter(connection=delegated).exists()


def test_sign_in_never_sends_the_browser_to_a_host_that_is_not_allowed(login, operator_a, delegated):
    # Django admin saves profiles without the dashboard form's checks.
    type(delegated).objects.filter(pk=delegated.pk).update(authorize_url="https://login.evil.example/authorize")
    client = login(operator_a)
    response = client.post(reverse("connections:oauth_start", args=[delegated.pk]), follow=True)
    assert response.redirect_chain == [(reverse("connections:detail", args=[delegated.pk]), 302)]
    assert "The authorise URL is refused: Host login.evil.example is not in GRAPH_ALLOWED_HOSTS." in (
        response.content.decode()
    )
