"""Admin consent that comes home: the consent button carries a state bound to the session and the
connection; Entra's answer (the sandbox's, over real HTTPS) returns to the connection and starts
a re-fetch; wrong, replayed or missing states and declined consents land on clear pages and
change nothing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from connections.models import ConnectionToken, Job, TokenFetch
from tests.factories import CALLBACK, answer_entra_page, start_consent

pytestmark = pytest.mark.django_db(transaction=True)
CALLBACK_PATH = reverse("connections:oauth_callback")


@pytest.fixture
def groups_app(sandbox_app):
    return sandbox_app(roles=["User.Read.All"], requested_roles=["GroupMember.Read.All"], redirect_uris=[CALLBACK])


@pytest.fixture
def groups_connection(sandbox_connection, team_a, groups_app):
    return sandbox_connection(team_a, groups_app, name="groups", entity="groups")


def snapshot(connection) -> tuple:
    row = ConnectionToken.objects.filter(connection=connection).first()
    return (
        Job.objects.filter(connection=connection).count(),
        TokenFetch.objects.filter(connection=connection).count(),
        row.permissions if row else None,
    )


def test_the_consent_link_carries_a_fresh_state_for_this_connection(
    clean_sandbox, groups_connection, operator_a, login
):
    client = login(operator_a)

    first, second = start_consent(client, groups_connection), start_consent(client, groups_connection)

    params = parse_qs(urlsplit(first).query)
    assert urlsplit(first).path == f"/{clean_sandbox.tenant_id}/v2.0/adminconsent"
    assert params["client_id"] == [groups_connection.client_id]
    assert params["redirect_uri"] == [CALLBACK]
    assert params["scope"] == ["https://graph.microsoft.com/.default"]
    assert len(params["state"][0]) >= 32 and params["state"] != parse_qs(urlsplit(second).query)["state"]


def test_a_viewer_cannot_start_the_round_trip_and_another_team_gets_404(groups_connection, viewer_a, outsider, login):
    url = reverse("connections:admin_consent", args=[groups_connection.pk])
    assert login(viewer_a).post(url).status_code == 403
    assert login(outsider).post(url).status_code == 404
    assert login(viewer_a).get(url).status_code == 405


@pytest.mark.smoke
def test_accept_returns_to_the_connection_and_refetches_by_itself(
    clean_sandbox, groups_connection, operator_a, login, run_job, wait_for_job
):
    client = login(operator_a)
    assert run_job(client, groups_connection, "test").state == "failed"  # groups refused: no group permission
    callback = answer_entra_page(clean_sandbox, start_consent(client, groups_connection))
    assert "admin_consent=True" in callback and "state=" in callback

    response = client.get(callback)

    assert response.status_code == 302 and response["Location"] == reverse(
        "connections:detail", args=[groups_connection.pk]
    )
    job = Job.objects.get(connection=groups_connection, kind="token_refetch")
    assert wait_for_job(str(job.pk)).state == "succeeded"
    page = client.get(response["Location"]).content.decode()
    assert f"Admin consent granted for {clean_sandbox.tenant_id}" in page
    assert "gained GroupMember.Read.All" in page
    assert "The new token carries GroupMember.Read.All" in page  # the 403 diagnosis re-assessed
    assert client.get(callback).status_code == 400  # the same answer again: the state was used


@pytest.mark.parametrize("state", ["", "not-a-state-this-session-issued"], ids=["missing", "wrong"])
def test_a_consent_answer_with_a_missing_or_wrong_state_changes_nothing(
    clean_sandbox, groups_connection, operator_a, login, state
):
    client = login(operator_a)
    start_consent(client, groups_connection)
    before = snapshot(groups_connection)

    response = client.get(
        CALLBACK_PATH,
        {"admin_consent": "True", "tenant": clean_sandbox.tenant_id, **({"state": state} if state else {})},
    )

    page = response.content.decode()
    assert response.status_code == 400 and "data-consent-unmatched" in page
    assert "Admin consent was granted, but not from here" in page and clean_sandbox.tenant_id in page
    assert ("carries no state value" if not state else "unknown or was already used") in page
    assert "Nothing was changed" in page and reverse("connections:list") in page
    assert "Sign-in not accepted" not in page  # told apart from a sign-in answer
    assert snapshot(groups_connection) == before


def test_a_replayed_consent_answer_changes_nothing(
    clean_sandbox, groups_connection, operator_a, login, live_worker, wait_for_job
):
    client = login(operator_a)
    callback = answer_entra_page(clean_sandbox, start_consent(client, groups_connection))
    assert client.get(callback).status_code == 302
    # The accepted answer started a re-fetch; let it finish, so only the replay could change anything.
    wait_for_job(Job.objects.get(connection=groups_connection).pk)
    before = snapshot(groups_connection)

    again = client.get(callback)

    assert again.status_code == 400 and "unknown or was already used" in again.content.decode()
    assert snapshot(groups_connection) == before


def test_another_browser_session_cannot_use_the_state(clean_sandbox, groups_connection, operator_a, login):
    callback = answer_entra_page(clean_sandbox, start_consent(login(operator_a), groups_connection))
    other = login(operator_a)  # a second session of the same person

    assert other.get(callback).status_code == 400


@pytest.mark.parametrize("action, error", [("cancel", "consent_required")], ids=["declined on the page"])
def test_a_declined_consent_is_explained_on_the_connection_and_changes_nothing(
    clean_sandbox, groups_connection, operator_a, login, action, error
):
    client = login(operator_a)
    callback = answer_entra_page(clean_sandbox, start_consent(client, groups_connection), action)
    assert f"error={error}" in callback and "AADSTS65004" in callback
    before = snapshot(groups_connection)

    response = client.get(callback)

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'data-diagnosis="consent.consent_required"' in page
    assert "Admin consent was not granted" in page and "nothing was granted" in page
    assert "AADSTS65004" in page and "Grant admin consent" in page
    assert snapshot(groups_connection) == before
    assert 'data-diagnosis="consent.' not in client.get(response["Location"]).content.decode()  # shown once


def test_access_denied_is_explained_and_changes_nothing(clean_sandbox, groups_connection, operator_a, login):
    client = login(operator_a)
    state = parse_qs(urlsplit(start_consent(client, groups_connection)).query)["state"][0]
    before = snapshot(groups_connection)

    response = client.get(
        CALLBACK_PATH,
        {
            "error": "access_denied",
            "state": state,
            "error_description": "AADSTS65004: User declined to consent to access the app.",
        },
    )

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'data-diagnosis="consent.access_denied"' in page and "Admin consent was not granted" in page
    assert "nothing was changed" in page.lower()
    assert snapshot(groups_connection) == before


def test_access_denied_with_an_unknown_state_still_lands_on_a_clear_page(groups_connection, operator_a, login):
    response = login(operator_a).get(
        CALLBACK_PATH, {"admin_consent": "True", "error": "access_denied", "state": "x" * 40}
    )

    page = response.content.decode()
    assert response.status_code == 400 and "access_denied" in page and "Nothing was granted" in page


@pytest.mark.parametrize(
    "extra", [{}, {"admin_consent": "True", "session_state": "0f8fad5b"}], ids=["v2", "v1 with admin_consent"]
)
def test_a_sign_in_answer_is_still_a_sign_in(operator_a, login, extra):
    page = login(operator_a).get(CALLBACK_PATH, {"code": "abc", "state": "unknown", **extra}).content.decode()

    assert "Sign-in not accepted" in page


def test_the_sandbox_consent_endpoint_echoes_state_as_entra_does(clean_sandbox, groups_app):
    """Success and decline both carry the state back (v2 and v1)."""
    for version, path in (("v2", "v2.0/adminconsent"), ("v1", "adminconsent")):
        url = (
            f"{clean_sandbox.base_url}/{clean_sandbox.tenant_id}/{path}?client_id={groups_app['client_id']}"
            f"&redirect_uri={CALLBACK}&state=echo-{version}"
            + ("&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" if version == "v2" else "")
        )
        for action in ("accept", "cancel"):
            back = parse_qs(urlsplit(answer_entra_page(clean_sandbox, url, action)).query)
            assert back["state"] == [f"echo-{version}"], (version, action, back)
