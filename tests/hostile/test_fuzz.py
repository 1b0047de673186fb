"""Property-based fuzzing (Hypothesis) of every form and query parameter of the dashboard: whatever
is typed or put in a URL — NUL and control characters, huge, numeric, URL-ish, template-ish or
right-to-left text — the answer is never a 5xx, and nothing is left half-saved. Runs on the
configured database (PostgreSQL in CI, where NUL in text is refused by the database itself)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connections.models import AuditEntry, Connection, SyncRun, TokenFetch
from tests.cast import make_connection
from tests.factories import make_published_run
from tests.library.test_form_validation import valid_data

pytestmark = pytest.mark.django_db

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NASTY = [
    "",
    "\x00",
    "a\x00b",
    "%00",
    "\x1b[2J",
    "\u202egnp.exe",
    "{entity:@>999}",
    "{0}",
    "x" * 5000,
    "../../etc",
    "https://169.254.169.254/latest",
    "javascript:alert(1)",
    "' OR 1=1 --",
    "<script>x</script>",
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "[]",
    "{}",
    "\ud7ff",
    "👍" * 50,
    " ",
    "\r\n",
    "=HYPERLINK(1)",
]
CONTROLS = st.characters(min_codepoint=0, max_codepoint=31)
HOSTILE = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=80),
    st.builds(
        lambda a, b, c: a + b + c,
        st.text(max_size=5),
        st.text(CONTROLS, min_size=1, max_size=3),
        st.sampled_from(NASTY),
    ),  # control characters inside otherwise ordinary text
)
FORM_FIELDS = [
    "name",
    "service_url",
    "entity",
    "item_url",
    "odata_select",
    "odata_filter",
    "tenant",
    "token_version",
    "grant_type",
    "client_id",
    "client_secret",
    "secret_expires_on",
    "token_url",
    "authorize_url",
    "redirect_url",
    "scope",
    "resource",
    "team",
]


def assert_not_half_saved() -> None:
    """Every saved connection passed the form's own checks; no fetch or run is left open."""
    for connection in Connection.objects.all():
        assert "\x00" not in connection.name and len(connection.name) <= 100
        assert "{" not in connection.item_url.replace("{entity}", "").replace("{key}", "")
    assert not TokenFetch.objects.filter(finished_at__isnull=True).exists()


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the test is about input


@pytest.fixture
def world(login, admin_a, team_a):
    """An admin's client, a connection with one finished run (two records), its run."""
    connection = make_connection(team_a, "fuzzed")
    run = make_published_run(connection, {k: {"id": k, "displayName": k} for k in ("a", "b")})
    return login(admin_a), connection, run, team_a


@EXAMPLES
@given(fields=st.dictionaries(st.sampled_from(FORM_FIELDS), HOSTILE, max_size=6), edit=st.booleans())
def test_the_connection_form_never_fails_and_never_half_saves(world, fields: dict[str, str], edit: bool):
    client, connection, _, team = world
    data: dict[str, Any] = {**valid_data(team, name="fuzz"), **fields}
    url = reverse("connections:edit", args=[connection.pk]) if edit else reverse("connections:new")
    before = Connection.objects.count(), AuditEntry.objects.count()
    response = client.post(url, data)
    assert response.status_code in (200, 302), response.status_code
    saved = response.status_code == 302
    assert Connection.objects.count() == before[0] + (1 if saved and not edit else 0)
    if not saved:  # a refused form writes nothing at all, not even an audit entry
        assert AuditEntry.objects.count() == before[1]
    assert_not_half_saved()
    Connection.objects.exclude(pk=connection.pk).delete()


@EXAMPLES
@given(username=HOSTILE, password=HOSTILE, next_url=HOSTILE)
@example(username="a\x00b", password="x", next_url="/")
def test_the_log_in_form_never_fails(client, fast_hashing, username: str, password: str, next_url: str):
    response = client.post(
        reverse("login") + "?" + _query({"next": next_url}), {"username": username, "password": password}
    )
    assert response.status_code in (200, 302, 400, 403)


@EXAMPLES
@given(
    params=st.dictionaries(
        st.sampled_from(["state", "code", "error", "error_description", "session_state"]), HOSTILE, max_size=4
    )
)
@example(params={"state": "\x00", "error": "access_denied\x00"})
def test_the_oauth_callback_never_fails_and_never_leaves_a_fetch_open(world, params: dict[str, str]):
    client = world[0]
    response = client.get(reverse("connections:oauth_callback") + "?" + _query(params))
    assert response.status_code in (200, 302, 400, 404)
    assert_not_half_saved()


PAGES = [
    "list",
    "detail",
    "audit_trail",
    "token_panel",
    "sync_list",
    "sync_panel",
    "sync_detail",
    "sync_changes",
    "sync_export",
    "sync_progress",
    "schedule_panel",
    "schedule_form",
    "edit",
    "delete",
    "new",
]


@EXAMPLES
@given(
    page=st.sampled_from(PAGES),
    params=st.dictionaries(
        st.one_of(st.sampled_from(["q", "page", "kind", "format", "team", "next", "sort"]), HOSTILE),
        HOSTILE,
        max_size=4,
    ),
)
def test_every_page_takes_any_query_parameters(world, page: str, params: dict[str, str]):
    client, connection, run, _ = world
    args = {
        "list": [],
        "new": [],
        "sync_detail": [connection.pk, run.pk],
        "sync_changes": [connection.pk, run.pk],
        "sync_export": [connection.pk, run.pk],
        "sync_progress": [connection.pk, run.pk],
    }.get(page, [connection.pk])
    response = client.get(reverse(f"connections:{page}", args=args) + "?" + _query(params))
    assert response.status_code < 500, (page, params, response.status_code)
    if response.streaming:
        b"".join(response.streaming_content)  # an export is produced to the end


def _query(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in params.items()})
