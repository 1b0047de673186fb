"""Journey 6: Sign in with Microsoft → the sandbox's sign-in page → callback with state and PKCE →
tokens stored encrypted; refresh rotates; an expired refresh token asks for a new sign-in."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db
from django.urls import reverse
from django.utils import timezone

from connections import tasks
from connections.models import ConnectionToken, Job, TokenFetch
from tests.factories import CALLBACK, GRAPH, SIGN_IN_SCOPES, answer_entra_page, detail, start_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def delegated(sandbox_app, sandbox_connection, team_a):
    app = sandbox_app(redirect_uris=[CALLBACK], scopes=SIGN_IN_SCOPES)
    return sandbox_connection(
        team_a, app, delegated=True, name="signed-in reader", scope=f"{GRAPH}/User.Read", entity="me"
    )


def stored_column(connection, column: str) -> str:
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM connections_connectiontoken WHERE connection_id = %s",
            [connection.pk.hex if db.vendor == "sqlite" else connection.pk],
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_sign_in_with_pkce_stores_encrypted_tokens_and_shows_scp(
    version, clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login
):
    app = sandbox_app(redirect_uris=[CALLBACK], scopes=SIGN_IN_SCOPES)
    delegated = sandbox_connection(
        team_a,
        app,
        version=version,
        delegated=True,
        entity="me",
        **({"scope": f"{GRAPH}/User.Read"} if version == "v2" else {}),
    )
    client = login(operator_a)
    authorize_url = start_sign_in(client, delegated)

    assert authorize_url.startswith(delegated.authorize_url + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and query["redirect_uri"] == CALLBACK
    if version == "v2":
        assert "offline_access" in query["scope"].split()
    else:
        assert query["resource"] == GRAPH

    callback = answer_entra_page(clean_sandbox, authorize_url)
    assert parse_qs(urlsplit(callback).query)["state"] == [query["state"]]
    done = client.get(callback)
    assert done.status_code == 302 and done["Location"] == reverse("connections:detail", args=[delegated.pk])

    token = ConnectionToken.objects.get(connection=delegated)
    assert token.is_valid and token.kind == "delegated"
    assert "User.Read" in token.permissions
    refresh = token.refresh_token
    assert refresh and refresh not in stored_column(delegated, "refresh_token")
    assert token.access_token.split(".")[1] not in stored_column(delegated, "access_token")
    page = detail(client, delegated)
    assert "Scopes (scp)" in page and "User.Read" in page and "Delegated" in page
    assert "Signed in as" in page
    assert token.access_token.split(".")[1] not in page and refresh not in page


def test_replayed_or_unknown_state_is_refused_and_nothing_is_stored(clean_sandbox, delegated, operator_a, login):
    client = login(operator_a)
    callback = answer_entra_page(clean_sandbox, start_sign_in(client, delegated))
    assert client.get(callback).status_code == 302
    fetches = TokenFetch.objects.filter(connection=delegated).count()

    replay = client.get(callback)
    assert replay.status_code == 400
    assert "Sign-in not accepted" in replay.content.decode()

    fresh = answer_entra_page(clean_sandbox, start_sign_in(client, delegated))
    wrong = re.sub(r"state=[^&]+", "state=forged-state-value", fresh)
    refused = client.get(wrong)
    assert refused.status_code == 400 and "already used" in refused.content.decode()
    assert TokenFetch.objects.filter(connection=delegated).count() == fetches


def test_state_is_bound_to_the_browser_session(clean_sandbox, delegated, operator_a, admin_a, login):
    callback = answer_entra_page(clean_sandbox, start_sign_in(login(operator_a), delegated))
    other_browser = login(admin_a)
    assert other_browser.get(callback).status_code == 400
    assert not ConnectionToken.objects.filter(connection=delegated, state="valid").exists()


def test_cancelled_sign_in_is_explained(clean_sandbox, delegated, operator_a, login):
    client = login(operator_a)
    callback = answer_entra_page(clean_sandbox, start_sign_in(client, delegated), action="cancel")
    assert client.get(callback).status_code == 302
    page = detail(client, delegated)
    assert "Sign-in was cancelled" in page
    assert ConnectionToken.objects.get(connection=delegated).state == "sign_in"


def test_refresh_rotates_and_an_expired_refresh_token_asks_to_sign_in_again(
    clean_sandbox, delegated, operator_a, login, run_job
):
    client = login(operator_a)
    client.get(answer_entra_page(clean_sandbox, start_sign_in(client, delegated)))
    before = ConnectionToken.objects.get(connection=delegated)

    job = run_job(client, delegated, "token_refetch")
    assert job.state == "succeeded", job.error
    after = ConnectionToken.objects.get(connection=delegated)
    assert after.refresh_token and after.refresh_token != before.refresh_token
    assert after.access_token != before.access_token and after.kind == "delegated"
    assert TokenFetch.objects.filter(connection=delegated, reason="refetch", ok=True).exists()

    clean_sandbox.control.post("/_sandbox/settings", {"refresh_token_lifetime_seconds": 0})
    failed = run_job(client, delegated, "token_refetch")
    assert failed.state == "failed"
    assert failed.result["diagnosis"]["key"] == "token.sign_in_again"
    row = ConnectionToken.objects.get(connection=delegated)
    assert row.state == "sign_in"
    page = detail(client, delegated)
    assert "sign-in required" in page and "Sign in again" in page
    assert page.count("Sign in with Microsoft") >= 2  # the panel's button and the diagnosis step


def test_beat_refreshes_a_signed_in_connection_with_its_refresh_token(
    clean_sandbox, delegated, operator_a, login, live_worker, wait_for_job
):
    client = login(operator_a)
    client.get(answer_entra_page(clean_sandbox, start_sign_in(client, delegated)))
    before = ConnectionToken.objects.get(connection=delegated)
    ConnectionToken.objects.filter(connection=delegated).update(expires_at=timezone.now() + timedelta(minutes=2))

    assert tasks.refresh_due_tokens() == {"queued": 1}
    assert wait_for_job(Job.objects.get(kind="token_refresh", connection=delegated).pk).state == "succeeded"

    after = ConnectionToken.objects.get(connection=delegated)
    assert after.is_valid and after.refresh_token != before.refresh_token and after.kind == "delegated"
    assert TokenFetch.objects.filter(connection=delegated, reason="refresh", ok=True).exists()


def test_get_access_token_before_any_sign_in_asks_for_one(delegated, operator_a, login, run_job):
    client = login(operator_a)
    job = run_job(client, delegated, "token_fetch")
    assert job.state == "failed" and job.result["diagnosis"]["key"] == "token.sign_in_required"
    assert ConnectionToken.objects.get(connection=delegated).state == "sign_in"
    assert "Sign in with Microsoft first" in detail(client, delegated)
