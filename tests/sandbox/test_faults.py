"""Injected faults: throttling, server errors and slow answers, on Graph and on the token endpoint."""

from __future__ import annotations

import time

import pytest
import requests

from graphsandbox.testing import RunningSandbox

# Every test starts from the sandbox's start state (tests in this file change grants and settings).
pytestmark = pytest.mark.usefixtures("clean_sandbox")


def get_users(sandbox: RunningSandbox, token: str) -> requests.Response:
    return sandbox.session().get(
        f"{sandbox.graph_url}/users?$top=2", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_429_with_integer_retry_after_then_normal(clean_sandbox: RunningSandbox) -> None:
    token = clean_sandbox.token()
    clean_sandbox.control.post("faults", {"path": "/v1.0/users", "status": 429, "count": 2, "retry_after": 3})
    for _ in range(2):
        answer = get_users(clean_sandbox, token)
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "3"
        error = answer.json()["error"]
        assert error["code"] == "TooManyRequests" and error["message"] == "Please retry again later."
        assert error["innerError"]["request-id"] == answer.headers["request-id"]
    assert get_users(clean_sandbox, token).status_code == 200
    assert clean_sandbox.control.get("state")["faults"] == []


@pytest.mark.parametrize(
    "status, code", [(500, "generalException"), (503, "serviceNotAvailable"), (504, "UnknownError")]
)
def test_server_errors_use_graph_error_bodies(clean_sandbox: RunningSandbox, status: int, code: str) -> None:
    token = clean_sandbox.token()
    clean_sandbox.control.post("faults", {"path": "/v1.0/", "status": status, "count": 1})
    answer = get_users(clean_sandbox, token)
    assert answer.status_code == status and answer.json()["error"]["code"] == code
    assert answer.headers["request-id"]


def test_faults_only_hit_matching_paths(clean_sandbox: RunningSandbox) -> None:
    token = clean_sandbox.token()
    clean_sandbox.control.post("faults", {"path": "/v1.0/groups", "status": 503, "count": 1})
    assert get_users(clean_sandbox, token).status_code == 200
    assert clean_sandbox.control.get("faults")[0]["count"] == 1


def test_delay_only_slows_the_answer(clean_sandbox: RunningSandbox) -> None:
    token = clean_sandbox.token()
    clean_sandbox.control.post("faults", {"path": "/v1.0/users", "status": None, "count": 1, "delay_ms": 600})
    started = time.monotonic()
    assert get_users(clean_sandbox, token).status_code == 200
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    assert get_users(clean_sandbox, token).status_code == 200
    assert time.monotonic() - started < 0.5


def test_token_endpoint_faults_answer_like_ests(clean_sandbox: RunningSandbox) -> None:
    sb = clean_sandbox
    sb.control.post("faults", {"path": f"/{sb.tenant_id}/oauth2", "status": 503, "count": 1, "retry_after": 2})
    answer = sb.token_call(
        grant_type="client_credentials",
        client_id=sb.client_id,
        client_secret=sb.client_secret,
        scope="https://graph.microsoft.com/.default",
    )
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    body = answer.json()
    assert body["error"] == "temporarily_unavailable" and body["error_description"].startswith("AADSTS")
    assert body["trace_id"] == answer.headers["x-ms-request-id"]
    assert sb.token()
    assert sb.control.get("requests")["token_requests"][sb.client_id] == 2


def test_bad_fault_descriptions_are_refused(sandbox: RunningSandbox) -> None:
    for bad in ({"path": "users", "status": 429}, {"path": "/v1.0", "status": 418}, {"path": "/v1.0", "status": None}):
        with pytest.raises(requests.HTTPError) as refused:
            sandbox.control.post("faults", bad)
        assert refused.value.response.status_code == 400


def test_delete_clears_faults(clean_sandbox: RunningSandbox) -> None:
    clean_sandbox.control.post("faults", {"path": "/v1.0", "status": 500, "count": 5})
    clean_sandbox.control.delete("faults")
    assert get_users(clean_sandbox, clean_sandbox.token()).status_code == 200


def test_a_rate_fails_that_share_of_requests_the_same_way_each_time(clean_sandbox: RunningSandbox) -> None:
    token = clean_sandbox.token()

    def pattern() -> list[int]:
        clean_sandbox.control.post(
            "faults", {"path": "/v1.0/users", "status": 503, "count": 1000, "retry_after": 0, "rate": 0.3, "seed": 5}
        )
        seen = [get_users(clean_sandbox, token).status_code for _ in range(60)]
        clean_sandbox.control.delete("faults")
        return seen

    first = pattern()
    assert set(first) == {200, 503} and 8 <= first.count(503) <= 30  # about 30 % of 60
    assert pattern() == first  # seeded: the same requests fail
    with pytest.raises(requests.HTTPError):
        clean_sandbox.control.post("faults", {"path": "/v1.0", "status": 503, "rate": 0})
