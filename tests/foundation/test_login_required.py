"""Every page but the health checks and the login page sends anonymous visitors to log in."""

from __future__ import annotations

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.cast import make_user

pytestmark = pytest.mark.django_db

PUBLIC = {"/healthz", "/healthz/live", "/healthz/ready", "/accounts/login/", "/favicon.ico"}
# Sign in with Microsoft: its start, callback and "ask your admin" pages come before any log-in.
PUBLIC |= {"/sso/login/", "/sso/callback/", "/sso/no-access/"}
# For machines: they answer 401 themselves (tests/api), a script cannot follow a log-in redirect.
MACHINES = ("/metrics", "/api/v1/")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _concrete(route: str) -> str | None:
    """A real URL for a route, with sample values for its converters (None if it is a regex)."""
    if route.startswith("^") or "(?P" in route:
        return None
    samples = {"uuid": str(uuid.uuid4()), "int": "1", "str": "x", "slug": "x", "path": "x"}
    out = route
    while "<" in out:
        start, end = out.index("<"), out.index(">")
        kind = out[start + 1 : end].split(":")[0] if ":" in out[start + 1 : end] else "str"
        out = out[:start] + samples.get(kind, "x") + out[end + 1 :]
    return "/" + out


def test_anonymous_users_are_sent_to_login_everywhere(client):
    checked = 0
    for route, _ in _walk(get_resolver().url_patterns):
        url = _concrete(route)
        if url is None or url.startswith(("/admin/", "/accounts/", *MACHINES)) or url in PUBLIC:
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, f"{method.upper()} {url} -> {response.status_code}"
            assert response["Location"].startswith("/accounts/login/?next="), url
            checked += 1
    assert checked >= 2


def test_machine_endpoints_answer_401_not_a_log_in_redirect(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/api/v1/connections").status_code == 401
    assert client.get("/api/v1/schema").status_code == 200  # the API's description is public


def test_healthz_and_login_are_public(client):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)


def test_the_favicon_is_public_and_points_at_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("/img/favicon.svg")
    login_page = client.get("/accounts/login/").content.decode()
    assert 'rel="icon"' in login_page and "img/favicon.svg" in login_page


def test_a_user_logs_in_and_out(client):
    make_user("alice", password="correct horse battery")
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_plainly(client):
    make_user("alice", password="correct horse battery")
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content
