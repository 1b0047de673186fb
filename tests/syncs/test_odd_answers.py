"""Odd answers from Graph or Entra ID — error bodies in every shape, links that do not parse, a token
URL pointing at Graph — each ends in a diagnosis, never an "unexpected error"."""

from __future__ import annotations

import pytest

from connections import tokens
from connections.models import TokenFetch
from connections.tokens import probe

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_retries(settings):
    settings.SYNC_PAGE_RETRY_SECONDS = 0.5
    settings.SYNC_PAGE_BACKOFF_BASE = 0.05


@pytest.fixture
def users(sandbox_connection, team_a):
    return sandbox_connection(team_a, odata_filter="accountEnabled eq true")  # a plain read: page 1 first


def fault(sandbox, **fields):
    sandbox.control.post("/_sandbox/faults", {"path": "/v1.0/users", "count": 20, **fields})


def test_a_token_url_pointing_at_a_graph_path_is_explained(clean_sandbox, sandbox_connection, team_a, operator_a):
    connection = sandbox_connection(team_a, token_url=f"{clean_sandbox.base_url}/v1.0")
    outcome = tokens.fetch_token(connection, force=True, reason=TokenFetch.Reason.FETCH, user=operator_a)
    assert not outcome.ok
    assert outcome.diagnosis.key == "token.bad_response"
    assert "answered like Microsoft Graph" in outcome.diagnosis.explanation
    assert TokenFetch.objects.get(connection=connection).finished_at is not None


@pytest.mark.parametrize(
    ("status", "body", "content_type", "key", "said"),
    [
        (
            502,
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "text/html",
            "graph.server_error",
            "502 Bad Gateway",
        ),
        (500, "", "application/json", "graph.server_error", "(no message)"),
        (
            400,
            '{"error": "invalid_request", "error_description": "bad things"}',
            "application/json",
            "graph.bad_query",
            "bad things",
        ),
        (400, '{"error": ["odd"]}', "application/json", "graph.bad_query", "(no message)"),
        (404, "null", "application/json", "graph.not_found", "(no message)"),
    ],
)
def test_every_error_body_shape_is_diagnosed(
    clean_sandbox, users, operator_a, sync_inline, status, body, content_type, key, said
):
    fault(clean_sandbox, status=status, body=body, content_type=content_type)
    run = sync_inline(users, operator_a)
    assert run.status == "failed"
    assert run.error["key"] == key, run.error
    assert dict(run.error["evidence"])["Graph said"] == said
    assert not run.records.exists()


def test_an_html_page_with_status_200_is_not_an_empty_success(clean_sandbox, users, operator_a, sync_inline):
    # Only an injected fault can give 200 with HTML; the nearest is a 2xx body replacement by a proxy.
    fault(clean_sandbox, status=404, body="<html>login portal</html>")
    result = probe.test_connection(users, user=operator_a)
    assert not result["ok"] and result["diagnosis"]["key"] == "graph.not_found"


@pytest.mark.parametrize(
    ("link", "key"),
    [
        ("https://127.0.0.1:8865:8899/x", "sync.unreadable_link"),
        ("https://[::1/x", "sync.unreadable_link"),
        ("https://[::1]:99999/x", "sync.unreadable_link"),
        ("http://graph.microsoft.com/v1.0/users", "sync.foreign_link"),
        ("javascript:alert(1)", "sync.foreign_link"),
        ("", None),
    ],
)
def test_a_next_link_that_does_not_parse_stops_the_run_with_a_diagnosis(
    clean_sandbox, users, operator_a, sync_inline, link, key
):
    fault(clean_sandbox, next_link=link, count=1)
    run = sync_inline(users, operator_a, page_size=50)
    if not link:  # an empty nextLink is the last page
        assert run.status == "succeeded"
        return
    assert run.status == "failed"
    assert run.error["key"] == key, run.error
    assert not run.records.exists()


@pytest.mark.parametrize("location", ["https://127.0.0.1:8865:8899/x", "https://[::1/x", "https://10.0.0.1/latest"])
def test_a_redirect_to_a_url_that_does_not_parse_is_refused_with_a_diagnosis(
    clean_sandbox, users, operator_a, sync_inline, location
):
    fault(clean_sandbox, status=302, location=location)
    run = sync_inline(users, operator_a)
    assert run.status == "failed"
    assert run.error["key"] == "graph.host_not_allowed", run.error
    assert "redirected to" in run.error["explanation"]

    tested = probe.test_connection(users, user=operator_a)
    assert not tested["ok"] and tested["diagnosis"]["key"] == "graph.host_not_allowed"
