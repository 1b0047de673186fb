"""The client secret never shows in a page, a log record or the audit log: create, edit, failed
validation and delete."""

from __future__ import annotations

import json
import logging

import pytest
from django.urls import reverse

from connections.models import AuditEntry, Connection
from tests.library.test_form_validation import valid_data

pytestmark = pytest.mark.django_db

FIRST = "Fz8Q~first.secret-VALUE_0123456789abcd"
SECOND = "Gy7Q~second.secret-VALUE_9876543210wxyz"
THIRD = "Hx6Q~third.secret-VALUE_never-saved-0000"


def test_the_secret_never_leaks(login, admin_a, team_a, caplog):
    caplog.set_level(logging.DEBUG)
    client = login(admin_a)
    pages: list[str] = []

    def visit(response) -> None:
        pages.append(response.content.decode())

    # create
    visit(client.post(reverse("connections:new"), valid_data(team_a, client_secret=FIRST), follow=True))
    connection = Connection.objects.get(name="Contoso users")
    detail = reverse("connections:detail", args=[connection.pk])
    edit = reverse("connections:edit", args=[connection.pk])
    visit(client.get(detail))
    visit(client.get("/"))
    visit(client.get(edit))
    # failed validation with a new secret typed: it is not echoed back, and the page says so
    failed = client.post(edit, valid_data(team_a, client_secret=THIRD, tenant="not a tenant"))
    visit(failed)
    assert "Re-type the client secret" in failed.content.decode()
    assert Connection.objects.get(pk=connection.pk).client_secret == FIRST
    failed_new = client.post(
        reverse("connections:new"), valid_data(team_a, name="Other", client_secret=THIRD, client_id="x")
    )
    visit(failed_new)
    # edit that replaces the secret
    visit(client.post(edit, valid_data(team_a, client_secret=SECOND), follow=True))
    assert Connection.objects.get(pk=connection.pk).client_secret == SECOND
    visit(client.get(edit))
    # delete
    visit(client.get(reverse("connections:delete", args=[connection.pk])))
    visit(client.post(reverse("connections:delete", args=[connection.pk]), follow=True))
    assert not Connection.objects.filter(pk=connection.pk).exists()

    audit_dump = json.dumps(list(AuditEntry.objects.values()), default=str)
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in (FIRST, SECOND, THIRD):
        for index, page in enumerate(pages):
            assert secret not in page, f"secret in page #{index}"
        assert secret not in logs
        assert secret not in audit_dump

    actions = list(AuditEntry.objects.order_by("at", "id").values_list("action", flat=True))
    assert actions == ["created", "secret_replaced", "deleted"]
    deleted = AuditEntry.objects.get(action="deleted")
    assert deleted.connection is None and deleted.connection_name == "Contoso users" and deleted.team == team_a


def test_the_edit_form_keeps_the_secret_when_left_blank(login, admin_a, team_a, connection_a):
    from tests.cast import SECRET_A

    client = login(admin_a)
    page = client.get(reverse("connections:edit", args=[connection_a.pk])).content.decode()
    assert "Saved — leave blank to keep it" in page and SECRET_A not in page
    response = client.post(
        reverse("connections:edit", args=[connection_a.pk]),
        valid_data(team_a, name="A users", client_secret="", entity="groups"),
    )
    assert response.status_code == 302
    connection = Connection.objects.get(pk=connection_a.pk)
    assert connection.client_secret == SECRET_A and connection.entity == "groups"
    entry = AuditEntry.objects.get()
    assert entry.action == "edited" and "entity" in entry.fields and "client_secret" not in entry.fields
    assert entry.changes["entity"] == ["users", "groups"]
    assert entry.user == admin_a and entry.ip == "127.0.0.1"


@pytest.mark.parametrize("where", ["form", "admin"])
def test_the_error_report_of_a_crashed_save_masks_the_secret(
    login, admin_a, superuser, team_a, connection_a, monkeypatch, where
):
    """What the debug page or the admins' error mail would show after an unexpected error."""
    import sys

    from django.core.signals import got_request_exception
    from django.test import Client
    from django.views.debug import ExceptionReporter

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away")

    reports: list[str] = []

    def report(sender, request, **kwargs):
        reports.append(ExceptionReporter(request, *sys.exc_info(), is_email=True).get_traceback_text())

    monkeypatch.setattr("connections.library.audit.record", crash)
    got_request_exception.connect(report)
    client = Client(raise_request_exception=False)
    if where == "form":
        client.force_login(admin_a)
        url, data = reverse("connections:edit", args=[connection_a.pk]), valid_data(team_a, client_secret=FIRST)
    else:
        client.force_login(superuser)
        url = reverse("admin:connections_connection_change", args=[connection_a.pk])
        data = {**valid_data(team_a), "item_url": "{entity}/{key}", "new_client_secret": FIRST}
    try:
        assert client.post(url, data).status_code == 500
    finally:
        got_request_exception.disconnect(report)
    assert "the database went away" in reports[0] and FIRST not in reports[0]
