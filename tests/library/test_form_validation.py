"""The connection form: each bad input is a field error and saves nothing; defaults and helpers."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from connections.models import AuditEntry, Connection

pytestmark = pytest.mark.django_db

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "6731de76-14a6-49ae-97bc-6eba6914391e"


def valid_data(team: Any, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Contoso users",
        "team": team.pk,
        "service_url": "https://graph.microsoft.com/v1.0",
        "entity": "users",
        "item_url": "{entity}/{key}",
        "odata_select": "id,displayName,mail",
        "odata_filter": "accountEnabled eq true",
        "tenant": TENANT,
        "token_version": "v2",
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": "Qx98Q~form.secret-value_abcdefghijklmn",
        "secret_expires_on": "",
        "token_url": "",
        "authorize_url": "",
        "redirect_url": "",
        "scope": "",
        "resource": "",
    }
    data.update(overrides)
    return data


BAD_INPUTS = [
    ("service_url", "http://graph.microsoft.com/v1.0", "https"),
    ("service_url", "https://evil.example.com/v1.0", "GRAPH_ALLOWED_HOSTS"),
    ("service_url", "https://10.0.0.5/v1.0", "IP address"),
    ("service_url", "http://169.254.169.254/latest/meta-data", "https"),
    ("service_url", "https://169.254.169.254/metadata", "IP address"),
    ("service_url", "https://user:pw@graph.microsoft.com/v1.0", "user name"),
    ("service_url", "https://graph.microsoft.com:8443/v1.0", "Port 8443"),
    ("service_url", "https://[::1]/v1.0", "IP address"),
    ("token_url", "http://login.microsoftonline.com/x/oauth2/v2.0/token", "https"),
    ("token_url", "https://169.254.169.254/token", "IP address"),
    ("token_url", "https://login.microsoftonline.com.evil.example/t", "GRAPH_ALLOWED_HOSTS"),
    ("authorize_url", "https://user:pw@login.microsoftonline.com/x", "user name"),
    ("authorize_url", "https://login.microsoftonline.com:444/x", "Port 444"),
    ("tenant", "not a tenant", "GUID"),
    ("tenant", "72f988bf-86f1-41af-91ab", "GUID"),
    ("tenant", "contoso", "domain"),
    ("tenant", "10.0.0.1", "domain"),
    ("client_id", "my-app", "GUID"),
    ("client_id", "6731de76-14a6-49ae-97bc-6eba6914391", "GUID"),
    ("client_id", "6731de76x14a6-49ae-97bc-6eba6914391e", "GUID"),
    ("name", "n" * 101, "100"),
    ("name", "", "required"),
    ("item_url", "{entity}", "{key}"),
    ("item_url", "items/{key}", "{entity}"),
    ("item_url", "{entity}/{key}/{other}", "placeholders"),
    ("entity", "https://evil.example.com/users", "path"),
    ("entity", "users/../../admin", "path"),
    ("entity", "users?$top=1", "path"),
    ("entity", "//evil.example.com/x", "path"),
    ("odata_select", "id; drop", "commas"),
    ("redirect_url", "javascript:alert(1)", "callback"),
    ("service_url", "https://[::1/v1.0", "invalid port or host name"),
    ("service_url", "https://graph.microsoft.com/v1.0?x=1", "without ? or #"),
    ("service_url", "https://graph.microsoft.com/v1.0#top", "without ? or #"),
    ("token_url", "https://login.microsoftonline.com:0/x/oauth2/v2.0/token", "Port 0"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUTS, ids=[f"{f}={v[:40]}" for f, v, _ in BAD_INPUTS])
def test_bad_input_is_a_field_error_and_saves_nothing(login, admin_a, team_a, field, value, message):
    before = (Connection.objects.count(), AuditEntry.objects.count())
    response = login(admin_a).post(reverse("connections:new"), valid_data(team_a, **{field: value}))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, f"no error on {field}: {errors.as_data()}"
    assert message.lower() in " ".join(errors[field]).lower()
    assert (Connection.objects.count(), AuditEntry.objects.count()) == before
    assert "was not saved" in response.content.decode()


def test_a_duplicate_name_in_the_team_is_refused(login, admin_a, team_a, connection_a):
    response = login(admin_a).post(reverse("connections:new"), valid_data(team_a, name="a USERS"))
    assert "already exists in Team A" in " ".join(response.context["form"].errors["name"])
    assert Connection.objects.filter(team=team_a).count() == 1


def test_the_same_name_is_fine_in_another_team(login, outsider, team_b, connection_a):
    response = login(outsider).post(reverse("connections:new"), valid_data(team_b, name="A users"))
    assert response.status_code == 302
    assert Connection.objects.filter(name="A users").count() == 2


def test_a_failed_edit_changes_nothing(login, admin_a, team_a, connection_a):
    before = Connection.objects.filter(pk=connection_a.pk).values().get()
    response = login(admin_a).post(
        reverse("connections:edit", args=[connection_a.pk]),
        valid_data(team_a, name="Renamed", service_url="https://169.254.169.254/v1.0"),
    )
    assert "service_url" in response.context["form"].errors
    after = Connection.objects.filter(pk=connection_a.pk).values().get()
    assert after["name"] == "A users" and after["service_url"] == before["service_url"]
    assert after["client_secret"].token == before["client_secret"].token
    assert not AuditEntry.objects.exists()


def test_blank_urls_scope_and_redirect_are_filled_for_v2(login, admin_a, team_a):
    response = login(admin_a).post(reverse("connections:new"), valid_data(team_a, grant_type="authorization_code"))
    assert response.status_code == 302
    connection = Connection.objects.get(name="Contoso users")
    assert connection.token_url == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
    assert connection.authorize_url == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize"
    assert connection.scope == "https://graph.microsoft.com/.default"
    assert connection.redirect_url == "http://127.0.0.1:8000/connections/oauth/callback"
    assert connection.created_by == admin_a
    assert response["Location"] == reverse("connections:detail", args=[connection.pk])


def test_v1_fills_the_resource_and_the_v1_endpoint(login, admin_a, team_a):
    login(admin_a).post(
        reverse("connections:new"), valid_data(team_a, token_version="v1", tenant="contoso.onmicrosoft.com")
    )
    connection = Connection.objects.get(name="Contoso users")
    assert connection.token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/token"
    assert connection.resource == "https://graph.microsoft.com"


def test_national_cloud_urls_come_from_its_login_host(login, admin_a, team_a):
    login(admin_a).post(reverse("connections:new"), valid_data(team_a, service_url="https://graph.microsoft.us/v1.0"))
    connection = Connection.objects.get(name="Contoso users")
    assert connection.token_url.startswith("https://login.microsoftonline.us/")
    assert connection.scope == "https://graph.microsoft.us/.default"


def test_the_sandbox_option_fills_the_sandboxs_urls(login, admin_a, team_a, settings):
    settings.GRAPH_SANDBOX_URL = "https://127.0.0.1:9443"
    settings.GRAPH_ALLOWED_HOSTS = [*settings.GRAPH_ALLOWED_HOSTS, "127.0.0.1:9443"]
    client = login(admin_a)
    page = client.get(reverse("connections:new")).content.decode()
    assert "Use the sandbox" in page and 'data-sandbox-url="https://127.0.0.1:9443"' in page
    response = client.post(reverse("connections:new"), valid_data(team_a, service_url="https://127.0.0.1:9443/v1.0"))
    assert response.status_code == 302
    connection = Connection.objects.get(name="Contoso users")
    assert connection.token_url == f"https://127.0.0.1:9443/{TENANT}/oauth2/v2.0/token"
    assert connection.scope == "https://graph.microsoft.com/.default"


def test_no_sandbox_option_without_a_sandbox(login, admin_a, team_a, settings):
    settings.GRAPH_SANDBOX_URL = ""
    assert "Use the sandbox" not in login(admin_a).get(reverse("connections:new")).content.decode()


def test_a_guid_shaped_secret_saves_with_a_warning(login, admin_a, team_a):
    response = login(admin_a).post(
        reverse("connections:new"),
        valid_data(team_a, client_secret="0d5e3b2a-9c1f-4e8d-b7a6-5f4e3d2c1b0a"),
        follow=True,
    )
    assert Connection.objects.filter(name="Contoso users").exists()
    page = response.content.decode()
    assert "looks like a GUID" in page and "secret&#x27;s ID" in page


def test_a_secret_is_required_on_create(login, admin_a, team_a):
    response = login(admin_a).post(reverse("connections:new"), valid_data(team_a, client_secret=""))
    assert "client_secret" in response.context["form"].errors
    assert not Connection.objects.exists()


def test_free_entity_paths_and_conventions_are_accepted(login, admin_a, team_a):
    data = valid_data(team_a, entity="groups/{id}/members", item_url="{entity}('{key}')", odata_select="")
    assert login(admin_a).post(reverse("connections:new"), data).status_code == 302
    connection = Connection.objects.get(name="Contoso users")
    assert connection.entity == "groups/{id}/members" and connection.item_url == "{entity}('{key}')"


def test_the_form_offers_the_catalogue_and_three_fieldsets(login, admin_a, team_a):
    page = login(admin_a).get(reverse("connections:new")).content.decode()
    assert page.count("<fieldset") == 3
    assert '<option value="users">Users</option>' in page and '<option value="groups">Groups</option>' in page
    assert "js/profile-form.js" in page


@pytest.mark.parametrize(
    "token_url, version, field, value",
    [
        (f"https://login.microsoftonline.com/{TENANT}/oauth2/token", "v1", "resource", "https://graph.microsoft.com"),
        (
            f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
            "v2",
            "scope",
            "https://graph.microsoft.com/.default",
        ),
    ],
)
def test_a_pasted_token_endpoint_gives_tenant_version_and_scope_or_resource(
    login, admin_a, team_a, token_url, version, field, value
):
    data = valid_data(team_a, tenant="", token_version="v2" if version == "v1" else "v1", token_url=token_url)
    response = login(admin_a).post(reverse("connections:new"), data)
    assert response.status_code == 302, response.context["form"].errors
    connection = Connection.objects.get(name="Contoso users")
    assert (connection.tenant, connection.token_version, connection.token_url) == (TENANT, version, token_url)
    assert getattr(connection, field) == value


def test_a_token_endpoint_of_another_tenant_or_no_tenant_at_all_is_explained(login, admin_a, team_a):
    client = login(admin_a)
    other = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    errors = client.post(reverse("connections:new"), valid_data(team_a, token_url=other)).context["form"].errors
    assert "This token endpoint is for tenant contoso.onmicrosoft.com" in errors["token_url"][0]
    errors = client.post(reverse("connections:new"), valid_data(team_a, tenant="")).context["form"].errors
    assert "or paste the OAuth 2.0 token endpoint" in errors["tenant"][0]
    assert not Connection.objects.exists()
