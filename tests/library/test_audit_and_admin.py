"""The audit log (who did what, never a secret) and Django admin (secret write-only, log read-only)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from connections.library import audit
from connections.models import AuditEntry, Connection, Job
from tests.cast import SECRET_A

pytestmark = pytest.mark.django_db


def test_record_takes_the_ip_from_remote_addr_not_a_forged_header(admin_a, connection_a, settings):
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.1")
    request.user = admin_a
    entry = audit.record(request, connection_a, audit.Action.TESTED, detail="client_secret=" + SECRET_A)
    assert entry.ip == "203.0.113.9" and entry.username == "admin_a" and entry.team == connection_a.team
    assert SECRET_A not in entry.detail
    settings.AUDIT_TRUST_X_FORWARDED_FOR = True
    assert audit.record(request, connection_a, audit.Action.TESTED).ip == "198.51.100.1"


def test_record_never_stores_secret_values(operator_a, connection_a):
    entry = audit.record(
        operator_a,
        connection_a,
        audit.Action.EDITED,
        fields=["client_secret", "name"],
        changes={"client_secret": ("old", SECRET_A), "name": ("a", "b")},
    )
    assert entry.fields == ["client_secret", "name"]
    assert entry.changes == {"name": ["a", "b"]} and entry.ip is None


def test_entries_survive_the_connection_and_stay_team_scoped(login, admin_a, outsider, connection_a):
    audit.record(admin_a, connection_a, audit.Action.TOKEN_FETCHED)
    connection_a.delete()
    entry = AuditEntry.objects.get()
    assert entry.connection is None and entry.connection_name == "A users"
    assert AuditEntry.objects.for_user(admin_a).count() == 1
    assert AuditEntry.objects.for_user(outsider).count() == 0


def test_admin_connection_form_never_renders_the_secret_and_blank_keeps_it(login, superuser, connection_a):
    client = login(superuser)
    url = reverse("admin:connections_connection_change", args=[connection_a.pk])
    page = client.get(url).content.decode()
    assert SECRET_A not in page and "•••• saved" in page
    data = {
        "name": "A users",
        "team": connection_a.team_id,
        "service_url": connection_a.service_url,
        "entity": "groups",
        "item_url": "{entity}/{key}",
        "odata_select": "",
        "odata_filter": "",
        "tenant": connection_a.tenant,
        "token_version": "v2",
        "grant_type": "client_credentials",
        "client_id": connection_a.client_id,
        "token_url": connection_a.token_url,
        "authorize_url": "",
        "redirect_url": connection_a.redirect_url,
        "scope": connection_a.scope,
        "resource": "",
        "new_client_secret": "",
        "secret_expires_on": "",
    }
    assert client.post(url, data).status_code == 302
    connection = Connection.objects.get(pk=connection_a.pk)
    assert connection.entity == "groups" and connection.client_secret == SECRET_A
    assert client.post(url, {**data, "new_client_secret": "replaced-in-admin"}).status_code == 302
    assert Connection.objects.get(pk=connection_a.pk).client_secret == "replaced-in-admin"
    assert list(AuditEntry.objects.order_by("id").values_list("action", flat=True)) == ["edited", "secret_replaced"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("token_url", "https://169.254.169.254/latest/meta-data", "is an IP address"),
        ("service_url", "https://graph.evil.example/v1.0", "is not in GRAPH_ALLOWED_HOSTS"),
        ("item_url", "{0}/{entity}/{key}", "Only the placeholders {entity} and {key} may be used."),
        ("tenant", "not a tenant", "Enter the directory (tenant) ID"),
    ],
)
def test_the_admin_form_checks_fields_like_the_dashboard_form(login, superuser, connection_a, field, value, message):
    client = login(superuser)
    url = reverse("admin:connections_connection_change", args=[connection_a.pk])
    data = {
        "name": "A users",
        "team": connection_a.team_id,
        "service_url": connection_a.service_url,
        "entity": "users",
        "item_url": "{entity}/{key}",
        "odata_select": "",
        "odata_filter": "",
        "tenant": connection_a.tenant,
        "token_version": "v2",
        "grant_type": "client_credentials",
        "client_id": connection_a.client_id,
        "token_url": connection_a.token_url,
        "authorize_url": "",
        "redirect_url": connection_a.redirect_url,
        "scope": connection_a.scope,
        "resource": "",
        "new_client_secret": "",
        "secret_expires_on": "",
        field: value,
    }
    response = client.post(url, data)
    assert response.status_code == 200 and message in response.content.decode()
    assert getattr(Connection.objects.get(pk=connection_a.pk), field) != value
    assert not AuditEntry.objects.exists()


def test_admin_audit_log_and_jobs_are_read_only(login, superuser, connection_a):
    audit.record(superuser, connection_a, audit.Action.CREATED)
    job = Job.objects.create(kind="sync", connection=connection_a)
    client = login(superuser)
    entry = AuditEntry.objects.get()
    assert client.get(reverse("admin:connections_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:connections_auditentry_add")).status_code == 403
    assert (
        client.post(reverse("admin:connections_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    assert client.get(reverse("admin:connections_job_changelist")).status_code == 200
    assert client.post(reverse("admin:connections_job_delete", args=[job.pk]), {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists() and Job.objects.filter(pk=job.pk).exists()


def test_admin_team_page_lists_members(login, superuser, admin_a, team_a):
    page = login(superuser).get(reverse("admin:connections_team_change", args=[team_a.pk])).content.decode()
    assert "admin_a" in page or str(admin_a.pk) in page
