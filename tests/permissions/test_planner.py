"""The least-privilege planner: the permission set, the manifest block, az commands and consent
URLs per cloud; the pages (standalone and per connection) and the over-privilege note."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from graphpermissions import GRAPH_APP_ID
from microsoft import planner
from tests.permissions.test_reference import raw_id

CLIENT = "6731de76-14a6-49ae-97bc-6eba6914391e"
TENANT = "contoso.onmicrosoft.com"
REDIRECT = "https://dash.example/connections/oauth/callback"


def test_users_groups_and_sign_ins_need_exactly_three_application_permissions():
    plan = planner.plan(["users", "groups", "auditLogs/signIns"], "app")

    assert set(plan.names) == {"User.Read.All", "Group.ReadBasic.All", "AuditLog.Read.All"}
    why = {n.permission.name: n.entities for n in plan.needs}
    assert why == {
        "User.Read.All": ("Users",),
        "Group.ReadBasic.All": ("Groups",),
        "AuditLog.Read.All": ("Sign-in logs",),
    }
    assert all(n.permission.admin_consent for n in plan.needs)


def test_the_manifest_block_carries_the_references_ids_as_roles():
    plan = planner.plan(["users", "groups", "auditLogs/signIns"], "app")

    block = json.loads(plan.manifest())["requiredResourceAccess"]

    assert [b["resourceAppId"] for b in block] == [GRAPH_APP_ID]
    assert {(a["id"], a["type"]) for a in block[0]["resourceAccess"]} == {
        (raw_id("User.Read.All", "application"), "Role"),
        (raw_id("Group.ReadBasic.All", "application"), "Role"),
        (raw_id("AuditLog.Read.All", "application"), "Role"),
    }
    assert raw_id("User.Read.All", "application") == "df021288-bdef-4463-88db-98f22de89214"


def test_delegated_plans_use_scope_ids():
    plan = planner.plan(["users", "groups", "auditLogs/signIns"], "delegated")

    access = json.loads(plan.manifest())["requiredResourceAccess"][0]["resourceAccess"]
    assert {(a["id"], a["type"]) for a in access} == {
        (raw_id(name, "delegated"), "Scope") for name in ("User.Read.All", "Group.ReadBasic.All", "AuditLog.Read.All")
    }


def test_admin_consent_urls_for_the_global_cloud_and_us_government():
    plan = planner.plan(["users", "groups", "auditLogs/signIns"], "app")

    urls = dict(plan.consent_urls(TENANT, CLIENT, REDIRECT))

    assert urls["Global (worldwide)"] == (
        f"https://login.microsoftonline.com/{TENANT}/v2.0/adminconsent?client_id={CLIENT}"
        "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        "&redirect_uri=https%3A%2F%2Fdash.example%2Fconnections%2Foauth%2Fcallback"
    )
    assert urls["US Government (GCC High)"] == (
        f"https://login.microsoftonline.us/{TENANT}/v2.0/adminconsent?client_id={CLIENT}"
        "&scope=https%3A%2F%2Fgraph.microsoft.us%2F.default"
        "&redirect_uri=https%3A%2F%2Fdash.example%2Fconnections%2Foauth%2Fcallback"
    )
    assert "scope=https%3A%2F%2Fdod-graph.microsoft.us%2F.default" in urls["US Government (DoD)"]
    assert urls["China (21Vianet)"].startswith(f"https://login.chinacloudapi.cn/{TENANT}/v2.0/adminconsent?")
    assert dict(plan.consent_urls("", CLIENT, None))["Global (worldwide)"].startswith(
        "https://login.microsoftonline.com/organizations/v2.0/adminconsent?"
    )


def test_az_commands_add_every_permission_then_consent_per_cloud():
    plan = planner.plan(["users", "groups", "auditLogs/signIns"], "app")

    lines = plan.az_commands(CLIENT).splitlines()
    assert lines[0].startswith(f"az ad app permission add --id {CLIENT} --api {GRAPH_APP_ID} --api-permissions ")
    assert set(lines[0].split("--api-permissions ")[1].split()) == {
        f"{raw_id(n, 'application')}=Role" for n in ("User.Read.All", "Group.ReadBasic.All", "AuditLog.Read.All")
    }
    assert lines[1] == f"az ad app permission admin-consent --id {CLIENT}"
    assert plan.az_commands(CLIENT, "usgov").splitlines()[0] == "az cloud set --name AzureUSGovernment"


def test_a_permission_covering_another_entity_is_not_added_twice():
    assert planner.plan(["groups", "groups/{id}/members"], "app").names == ("Group.ReadBasic.All",)
    assert planner.plan(["users", "users/adele@contoso.com/messages"], "app").names == (
        "Mail.ReadBasic.All",
        "User.Read.All",
    )


def test_what_cannot_be_planned_is_said():
    plan = planner.plan(["me/messages", "contoso/custom/things", "users"], "app")

    assert plan.names == ("User.Read.All",)
    assert plan.impossible == ("My mail messages (signed-in user)",)
    assert plan.unknown == ("contoso/custom/things",)


def test_removable_says_what_an_app_token_carries_beyond_the_plan():
    users = planner.plan(["users"], "app")

    assert planner.removable(["Directory.ReadWrite.All"], users) == ([], [("Directory.ReadWrite.All", "User.Read.All")])
    assert planner.removable(["User.Read.All", "Group.Read.All"], users) == (["Group.Read.All"], [])
    assert planner.removable(["User.Read.All", "Application.Read.All"], users) == ([], [])  # the dashboard's own use


# -- pages -----------------------------------------------------------------------------------------


@pytest.mark.smoke
@pytest.mark.django_db
def test_the_standalone_planner_page_shows_the_set_and_copy_ready_blocks(login, viewer_a):
    client = login(viewer_a)
    url = reverse("connections:planner")

    empty = client.get(url)
    page = client.get(
        url,
        {
            "entities": ["users", "groups", "auditLogs/signIns"],
            "kind": "app",
            "tenant": TENANT,
            "client_id": CLIENT,
            "redirect_uri": REDIRECT,
        },
    ).content.decode()

    assert empty.status_code == 200 and "data-plan" not in empty.content.decode()
    for name in ("User.Read.All", "Group.ReadBasic.All", "AuditLog.Read.All"):
        assert f'data-permission="{name}"' in page
    assert "requiredResourceAccess" in page and "df021288-bdef-4463-88db-98f22de89214" in page
    assert f"az ad app permission admin-consent --id {CLIENT}" in page
    assert "login.microsoftonline.us/contoso.onmicrosoft.com/v2.0/adminconsent" in page
    assert 'id="plan-manifest" class="copy" data-copy="the manifest block"' in page and "js/copy.js" in page
    assert "Returns only basic properties (description, displayName" in page  # Group.ReadBasic.All


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, message",
    [
        ({"client_id": "not-a-guid", "kind": "app"}, "is a GUID"),
        ({"tenant": "bad tenant!", "kind": "app"}, "GUID or a domain"),
        ({"free_paths": "\n".join(f"users/{i}" for i in range(25)), "kind": "app"}, "At most 20 paths"),
        ({"kind": "robot"}, "Select a valid choice"),
    ],
)
def test_bad_planner_input_is_explained_not_a_500(login, viewer_a, params, message):
    response = login(viewer_a).get(reverse("connections:planner"), params)

    assert response.status_code == 200 and message in response.content.decode()


@pytest.mark.django_db
def test_free_paths_in_the_planner(login, viewer_a):
    page = (
        login(viewer_a)
        .get(
            reverse("connections:planner"),
            {"free_paths": "sites/contoso.sharepoint.com,1,2/lists/Documents/items\nteamz/nope", "kind": "app"},
        )
        .content.decode()
    )

    assert 'data-permission="Sites.Read.All"' in page and "does not know teamz/nope" in page


@pytest.mark.django_db
def test_a_free_path_that_is_not_a_url_is_unknown_not_a_500(login, viewer_a):
    response = login(viewer_a).get(reverse("connections:planner"), {"free_paths": "https://[x/users", "kind": "app"})

    assert response.status_code == 200 and "does not know https://[x/users" in response.content.decode()


@pytest.mark.django_db
def test_the_connection_planner_covers_the_apps_connections_and_another_team_gets_404(
    login, viewer_a, outsider, team_a, connection_factory
):
    first = connection_factory(team_a, "users", entity="users", client_id=CLIENT, tenant=TENANT)
    connection_factory(team_a, "groups", entity="groups", client_id=CLIENT, tenant=TENANT)
    connection_factory(team_a, "other app", entity="devices", tenant=TENANT)
    url = reverse("connections:connection_permissions", args=[first.pk])

    page = login(viewer_a).get(url).content.decode()

    assert 'data-permission="User.Read.All"' in page and 'data-permission="Group.ReadBasic.All"' in page
    assert 'data-permission="Device.Read.All"' not in page
    assert "This connection&#x27;s cloud" in page or "This connection's cloud" in page
    assert "Grant admin consent" not in page.split("data-plan-vs-token")[1].split("</section>")[0]  # viewer
    assert login(outsider).get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_token_panel_notes_roles_beyond_what_the_connection_reads(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, run_job
):
    broad = sandbox_connection(team_a, sandbox_app(roles=["Directory.ReadWrite.All", "Mail.Send"]), name="broad")
    exact = sandbox_connection(team_a, sandbox_app(roles=["User.Read.All"]), name="exact")
    client = login(operator_a)
    assert run_job(client, broad, "test").state == "succeeded"  # a warning, never a blocker
    assert run_job(client, exact, "token_fetch").state == "succeeded"

    page = client.get(reverse("connections:detail", args=[broad.pk])).content.decode()

    note = page.split("data-over-privilege>")[1].split("</p>")[0]
    assert "<strong>Mail.Send</strong> is not needed" in note
    assert (
        "<strong>Directory.ReadWrite.All</strong> could be replaced by the less privileged <strong>User.Read.All</strong>"
        in note
    )
    assert reverse("connections:connection_permissions", args=[broad.pk]) in note
    assert "data-over-privilege" not in client.get(reverse("connections:detail", args=[exact.pk])).content.decode()
    planned = client.get(reverse("connections:connection_permissions", args=[broad.pk])).content.decode()
    assert "data-unneeded" in planned and "data-replaceable" in planned and "Missing from the token" not in planned
    groups = sandbox_connection(team_a, sandbox_app(roles=["User.Read.All"]), name="groups", entity="groups")
    assert run_job(client, groups, "token_fetch").state == "succeeded"
    planned = client.get(reverse("connections:connection_permissions", args=[groups.pk])).content.decode()
    assert "Missing from the token: <strong>Group.ReadBasic.All</strong>" in planned


@pytest.mark.django_db(transaction=True)
def test_the_consent_button_says_it_grants_what_the_registration_lists_and_what_is_beyond_the_plan(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, run_job
):
    app = sandbox_app(roles=["Group.Read.All", "GroupMember.Read.All"])
    groups = sandbox_connection(team_a, app, name="groups", entity="groups")
    client = login(operator_a)
    assert run_job(client, groups, "token_fetch").state == "succeeded"

    page = client.get(reverse("connections:connection_permissions", args=[groups.pk])).content.decode()
    note = page.split("data-consent-scope>")[1].split("</p>")[0]
    assert "every application permission listed on the app registration" in note
    beyond = note.split("<strong>")[1].split("</strong>")[0]
    assert sorted(beyond.split(", ")) == ["Group.Read.All", "GroupMember.Read.All"] and "more than needed" in note
    assert "remove them under the app&#x27;s API permissions" in note or "remove them under the app's API" in note
