"""Personal API tokens on the person's own page: shown once, stored as a hash, last-used time,
expiry and revoke; never in a page, log, audit entry or database column in plain text."""

from __future__ import annotations

import logging
import re

import pytest
from django.db import connection as db
from django.test import Client

from connections.models import ApiToken, AuditEntry
from tests.api.conftest import TokenClient

pytestmark = pytest.mark.django_db

VALUE = re.compile(r"gcp_[A-Za-z0-9_-]{43}")


def all_database_text() -> str:
    """Every row of every table, as text."""
    parts = []
    with db.cursor() as cursor:
        for table in db.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            parts.append(repr(cursor.fetchall()))
    return "\n".join(parts)


def test_a_person_creates_a_token_sees_it_once_and_uses_it(login, operator_a, connection_a, caplog):
    caplog.set_level(logging.DEBUG)
    page = login(operator_a)
    created = page.post("/accounts/tokens/new/", {"name": "nightly export", "days": 30})
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    html = created.content.decode()
    value = VALUE.search(html).group(0)
    assert "shown only this once" in html

    listing = page.get("/accounts/tokens/").content.decode()
    assert value not in listing and "nightly export" in listing and value[:12] in listing
    assert "never" in listing  # not used yet

    api = TokenClient(value)
    assert api.get("/connections").status_code == 200
    assert api.post(f"/connections/{connection_a.pk}/sync").status_code == 202
    token = ApiToken.objects.get()
    assert token.last_used_at is not None and token.owner == operator_a
    assert "never" not in page.get("/accounts/tokens/").content.decode().split("nightly export")[1].split("</tr>")[0]

    # Nowhere in plain text: not the database, the audit log, the logs, nor any page after the first.
    assert value not in all_database_text()
    assert value not in repr(list(AuditEntry.objects.values()))
    assert AuditEntry.objects.filter(action="api_token_created", user=operator_a).exists()
    assert value not in caplog.text
    assert value not in page.get("/").content.decode()


def test_a_revoked_token_stops_working_at_once(login, operator_a, token_for):
    made = token_for(operator_a)
    api = TokenClient(made.value)
    assert api.get("/connections").status_code == 200
    page = login(operator_a)
    page.post(f"/accounts/tokens/{made.token.pk}/revoke/")
    assert "revoked" in page.get("/accounts/tokens/").content.decode()
    assert api.get("/connections").status_code == 401
    assert AuditEntry.objects.filter(action="api_token_revoked").exists()


def test_someone_elses_token_cannot_be_revoked_or_seen(login, operator_a, viewer_a, token_for):
    theirs = token_for(viewer_a, name="viewer's script")
    page = login(operator_a)
    assert "viewer's script" not in page.get("/accounts/tokens/").content.decode()
    assert page.post(f"/accounts/tokens/{theirs.token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=theirs.token.pk).revoked_at is None


def test_bad_input_on_the_page_is_explained(login, operator_a, settings):
    page = login(operator_a)
    too_long = page.post("/accounts/tokens/new/", {"name": "x", "days": settings.API_TOKEN_MAX_DAYS + 1})
    assert too_long.status_code == 400 and f"At most {settings.API_TOKEN_MAX_DAYS} days" in too_long.content.decode()
    blank = page.post("/accounts/tokens/new/", {"name": "   ", "days": 5})
    assert blank.status_code == 400 and not ApiToken.objects.exists()


def test_a_token_acts_with_its_owners_roles_never_more(token_for, viewer_a, connection_a):
    from connections.models import Membership

    api = TokenClient(token_for(viewer_a).value)
    assert api.post(f"/connections/{connection_a.pk}/sync").status_code == 403
    Membership.objects.filter(user=viewer_a).update(role="operator")
    assert api.post(f"/connections/{connection_a.pk}/sync").status_code == 202
    Membership.objects.filter(user=viewer_a).delete()
    assert api.get(f"/connections/{connection_a.pk}").status_code == 404


def test_django_admin_lists_tokens_without_values(superuser, token_for, operator_a):
    made = token_for(operator_a, name="ci job")
    admin = Client()
    admin.force_login(superuser)
    html = admin.get("/admin/connections/apitoken/").content.decode()
    assert "ci job" in html and made.value not in html and made.token.digest not in html
    detail = admin.get(f"/admin/connections/apitoken/{made.token.pk}/change/").content.decode()
    assert made.value not in detail and made.token.digest not in detail


def test_the_tokens_page_needs_a_log_in(client):
    for method in ("get", "post"):
        response = getattr(client, method)("/accounts/tokens/new/" if method == "post" else "/accounts/tokens/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not ApiToken.objects.exists()
