"""Every endpoint of the API: the owner team sees it, another team gets 404, a viewer's action gets
403, an expired or revoked token gets 401 — each as RFC 9457 problem+json with a stable type."""

from __future__ import annotations

import pytest

from connections.models import AuditEntry, Job
from tests.api.conftest import API, TokenClient, expire
from tests.factories import make_published_run

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


@pytest.fixture
def run_a(connection_a):
    first = make_published_run(
        connection_a, {"1": {"id": "1", "displayName": "Ada"}, "2": {"id": "2", "displayName": "Bo"}}
    )
    second = make_published_run(
        connection_a,
        {"1": {"id": "1", "displayName": "Ada L."}, "3": {"id": "3", "displayName": "Cy"}},
        previous=first,
        added=1,
        changed=1,
        removed=1,
    )
    return second


def reads(connection, run) -> list[str]:
    """Every GET of one connection (and one of its runs)."""
    c, r = connection.pk, run.pk
    return [
        f"/connections/{c}",
        f"/connections/{c}/problems",
        f"/connections/{c}/runs",
        f"/connections/{c}/runs/{r}",
        f"/connections/{c}/runs/{r}/items",
        f"/connections/{c}/runs/{r}/changes",
        f"/connections/{c}/runs/{r}/export",
        f"/connections/{c}/jobs/{run.job_id or '00000000-0000-0000-0000-000000000000'}",
    ]


def writes(connection, run) -> list[str]:
    c = connection.pk
    return [
        f"/connections/{c}/token",
        f"/connections/{c}/token/refetch",
        f"/connections/{c}/test",
        f"/connections/{c}/sync",
        f"/connections/{c}/runs/{run.pk}/cancel",
    ]


def assert_problem(response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/" + kind) and body["status"] == status and body["title"]
    return body


def test_the_owner_team_reads_every_endpoint(api_as, viewer_a, connection_a, run_a):
    api = api_as(viewer_a)
    for path in reads(connection_a, run_a)[:-1]:  # the run has no job: that one is a 404 of its own
        response = api.get(path)
        assert response.status_code == 200, (path, response.content)
    listed = api.get("/connections").json()
    assert [c["id"] for c in listed["items"]] == [str(connection_a.pk)]
    assert api.get("/credentials").json()["count"] == 1
    assert api.get("/planner", {"paths": ["users", "groups"]}).status_code == 200
    me = api.get("/me").json()
    assert me["username"] == "viewer_a" and me["teams"] == [
        {"team": "team-a", "team_id": connection_a.team_id, "role": "viewer"}
    ]
    assert me["token"]["name"] == "script" and me["token"]["state"] == "active"


def test_another_team_gets_404_for_everything_of_team_a(api_as, outsider, connection_a, connection_b, run_a):
    api = api_as(outsider)
    for path in reads(connection_a, run_a):
        assert_problem(api.get(path), 404, "not-found")
    for path in writes(connection_a, run_a):
        assert_problem(api.post(path), 404, "not-found")
    assert [c["id"] for c in api.get("/connections").json()["items"]] == [str(connection_b.pk)]
    assert [c["connection"] for c in api.get("/credentials").json()["items"]] == [str(connection_b.pk)]


def test_a_run_of_another_connection_is_404_under_this_one(api_as, admin_a, connection_a, run_a, team_a):
    from tests.cast import make_connection

    other = make_connection(team_a, "other")
    assert_problem(api_as(admin_a).get(f"/connections/{other.pk}/runs/{run_a.pk}"), 404, "not-found")


def test_a_viewers_action_is_403_and_starts_nothing(api_as, viewer_a, connection_a, run_a):
    api = api_as(viewer_a)
    for path in writes(connection_a, run_a):
        body = assert_problem(api.post(path), 403, "forbidden")
        assert "operator" in body["detail"]
    assert not Job.objects.exists()


def test_an_operators_action_answers_202_with_the_job_and_is_audited(api_as, operator_a, connection_a):
    api = api_as(operator_a)
    response = api.post(f"/connections/{connection_a.pk}/sync")
    assert response.status_code == 202
    job = response.json()
    assert job["kind"] == "sync" and job["state"] == "queued" and job["run"]
    assert job["url"] == f"{API}/connections/{connection_a.pk}/jobs/{job['id']}"
    polled = api.get(job["url"].removeprefix(API))
    assert polled.status_code == 200 and polled.json()["id"] == job["id"]
    again = api.post(f"/connections/{connection_a.pk}/sync").json()
    assert again["id"] == job["id"]  # a second press joins the queued run
    entry = AuditEntry.objects.filter(connection=connection_a, action="synced").first()
    assert entry.user == operator_a and "through the API" in entry.detail
    assert api.post(f"/connections/{connection_a.pk}/token").json()["kind"] == "token_fetch"
    assert AuditEntry.objects.filter(action="token_fetched", user=operator_a).exists()


def test_cancel_a_queued_run(api_as, operator_a, connection_a):
    api = api_as(operator_a)
    job = api.post(f"/connections/{connection_a.pk}/sync").json()
    response = api.post(f"/connections/{connection_a.pk}/runs/{job['run']}/cancel")
    assert response.status_code == 202 and response.json()["status"] == "cancelled"


@pytest.mark.parametrize("how", ["expired", "revoked", "unknown", "inactive owner"])
def test_an_expired_revoked_or_unknown_token_is_401(how, token_for, viewer_a, connection_a, run_a, settings):
    from connections.accounts import apitokens

    settings.LOGIN_FAILURE_LIMIT = 100  # this test knocks many times; the lock-out has its own test
    made = token_for(viewer_a)
    value = made.value
    if how == "expired":
        expire(made)
    elif how == "revoked":
        apitokens.revoke(viewer_a, made.token.pk)
    elif how == "unknown":
        value = value[:-4] + "AAAA"
    else:
        viewer_a.is_active = False
        viewer_a.save()
    api = TokenClient(value)
    for path in ["/connections", "/credentials", *reads(connection_a, run_a)]:
        response = assert_problem(api.get(path), 401, "token-invalid")
    assert_problem(api.post(f"/connections/{connection_a.pk}/sync"), 401, "token-invalid")
    assert AuditEntry.objects.filter(action="api_auth_failed").exists()
    assert value not in str(list(AuditEntry.objects.values()))
    assert response is not None


def test_no_credentials_at_all_is_401_not_a_login_redirect(client, connection_a):
    response = client.get(f"{API}/connections")
    assert_problem(response, 401, "not-authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.post(f"{API}/connections/{connection_a.pk}/sync"), 401, "not-authenticated")


def test_repeated_bad_tokens_are_locked_out_for_the_address(settings, viewer_a, token_for, connection_a):
    settings.LOGIN_FAILURE_LIMIT = 3
    bad = TokenClient("gcp_" + "x" * 43)
    for _ in range(3):
        assert_problem(bad.get("/connections"), 401, "token-invalid")
    locked = assert_problem(bad.get("/connections"), 429, "too-many-failures")
    assert int(locked["retry_after"]) > 0
    # Even a good token waits while its address is locked: guessing cannot go on in between.
    good = TokenClient(token_for(viewer_a).value)
    assert good.get("/connections").status_code == 429
    assert AuditEntry.objects.filter(action="api_auth_failed").count() == 3


def test_session_auth_works_and_its_writes_need_csrf(operator_a, connection_a):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator_a)
    assert browser.get(f"{API}/connections").status_code == 200
    refused = browser.post(f"{API}/connections/{connection_a.pk}/sync")
    assert_problem(refused, 403, "csrf-failed")
    assert not Job.objects.exists()
    browser.get("/")  # the page sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    accepted = browser.post(f"{API}/connections/{connection_a.pk}/sync", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 202


def test_bad_input_is_a_problem_not_a_server_error(api_as, viewer_a, connection_a, run_a):
    api = api_as(viewer_a)
    base = f"/connections/{connection_a.pk}/runs/{run_a.pk}"
    body = assert_problem(api.get(f"{base}/items", {"page_size": 100000}), 422, "invalid-input")
    assert "page_size" in body["detail"]
    assert_problem(api.get(f"{base}/changes", {"kind": "everything"}), 422, "invalid-input")
    assert_problem(api.get(f"{base}/export", {"format": "xlsx"}), 422, "invalid-input")
    assert_problem(api.get("/credentials", {"expires_within_days": "soon"}), 422, "invalid-input")
    assert_problem(api.get("/planner"), 422, "invalid-input")
    assert api.get("/connections/not-a-uuid").status_code == 404
