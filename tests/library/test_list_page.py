"""The home page: every connection of the user's teams with its status, in a fixed number of queries."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, SyncRun
from tests.cast import make_connection, make_user
from tests.factories import make_run, make_token

pytestmark = pytest.mark.django_db


def add_connections(team, count: int) -> None:
    Connection.objects.bulk_create(
        Connection(
            team=team,
            name=f"Bulk {i:03}",
            tenant="contoso.com",
            client_id="6731de76-14a6-49ae-97bc-6eba6914391e",
            client_secret=f"bulk-secret-{i}",
            secret_expires_on=timezone.localdate() + datetime.timedelta(days=i % 40),
        )
        for i in range(count)
    )


@pytest.mark.parametrize("count", [3, 300])
def test_the_list_takes_a_fixed_number_of_queries(
    login, admin_a, team_a, team_b, outsider, count, django_assert_max_num_queries
):
    add_connections(team_a, count)
    add_connections(team_b, 5)
    first = Connection.objects.filter(team=team_a).order_by("name").first()
    make_run(first, status=SyncRun.Status.SUCCEEDED, rows=42, finished_at=timezone.now())
    client = login(admin_a)
    # session, user, teams, connections (with status), their newest runs, their schedules, can-create
    with django_assert_max_num_queries(7):
        response = client.get("/")
    assert response.status_code == 200
    assert len(response.context["connections"]) == count
    assert "42 rows" in response.content.decode()


def test_secret_expiry_badges_and_problems(login, admin_a, team_a):
    today = timezone.localdate()
    make_connection(team_a, "Far away", secret_expires_on=today + datetime.timedelta(days=90))
    make_connection(team_a, "Soon", secret_expires_on=today + datetime.timedelta(days=20))
    make_connection(team_a, "Very soon", secret_expires_on=today + datetime.timedelta(days=5))
    make_connection(team_a, "Expired", secret_expires_on=today - datetime.timedelta(days=1))
    make_connection(team_a, "No secret", secret="")
    response = login(admin_a).get("/")
    rows = {c.name: c for c in response.context["connections"]}
    assert rows["Far away"].problems == []
    assert rows["Soon"].secret_expiry_level() == "warn" and rows["Soon"].problems == []
    assert rows["Very soon"].secret_expiry_level() == "alarm" and len(rows["Very soon"].problems) == 1
    assert rows["Expired"].secret_expiry_level() == "expired"
    assert "The client secret has expired." in rows["Expired"].problems
    assert "No client secret is saved." in rows["No secret"].problems
    page = response.content.decode()
    assert ">20 days left<" in page and ">5 days left<" in page and "expired 1 day ago" in page
    assert [c.name for c in response.context["connections"]][:3] == ["Expired", "No secret", "Very soon"]
    assert all(c.token_state == "none" for c in rows.values())


def test_filter_by_team(login, team_a, team_b, connection_a, connection_b):
    from tests.cast import make_member

    both = make_member("both", team_a, "viewer")
    from connections.models import Membership

    Membership.objects.create(team=team_b, user=both, role="viewer")
    client = login(both)
    page = client.get("/").content.decode()
    assert "A users" in page and "B users" in page and 'name="team"' in page
    filtered = client.get("/", {"team": team_b.pk}).content.decode()
    assert "B users" in filtered and "A users" not in filtered


@pytest.mark.parametrize("team", ["99999999999999999999999999", "\x00", "abc", "-1", "１"])
def test_an_odd_team_filter_shows_every_team_instead_of_failing(login, admin_a, connection_a, team):
    response = login(admin_a).get("/", {"team": team})
    assert response.status_code == 200
    assert "A users" in response.content.decode()


def test_the_empty_state_explains_what_to_do(login, admin_a, viewer_a):
    page = login(admin_a).get("/").content.decode()
    assert "No connections" in page and "Register an app in Entra ID" in page
    assert reverse("connections:new") in page
    viewer_page = login(viewer_a).get("/").content.decode()
    assert "A team admin can add one" in viewer_page and reverse("connections:new") not in viewer_page


def test_the_empty_list_points_to_the_sandbox_portal_when_there_is_one(login, admin_a, settings):
    settings.GRAPH_SANDBOX_URL = "https://127.0.0.1:8765"
    page = login(admin_a).get("/").content.decode()
    assert 'href="https://127.0.0.1:8765/_sandbox/portal"' in page
    assert "Register an app in the sandbox portal</a> and create your first connection" in page
    settings.GRAPH_SANDBOX_URL = ""
    assert "_sandbox/portal" not in login(admin_a).get("/").content.decode()


def test_a_user_without_team_is_told_so(login, db):
    loner = make_user("loner")
    assert "not in a team yet" in login(loner).get("/").content.decode()


def test_the_detail_page_shows_the_profile_masked_and_the_panels(login, viewer_a, connection_a):
    page = login(viewer_a).get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
    assert "•••• saved" in page and connection_a.tenant in page and connection_a.token_url in page
    for panel in ('id="panel-token"', 'id="panel-syncs"', 'id="diagnostics"', 'id="profile"', 'id="audit"'):
        assert panel in page
    for link in ("#diagnostics", "#profile", "#audit"):  # each section has a URL of its own
        assert f'href="{link}"' in page


def test_the_health_board_words_each_state_counts_them_and_filters(login, admin_a, team_a):
    from connections.models import GraphRefusal

    later = timezone.now() + datetime.timedelta(hours=1)
    healthy = make_connection(team_a, "Healthy users")
    make_token(healthy, state="valid", expires_at=later)
    make_run(
        healthy, status=SyncRun.Status.SUCCEEDED, rows=10, added=1, changed=2, removed=3, finished_at=timezone.now()
    )
    failing = make_connection(team_a, "Failing groups", entity="groups")
    make_token(failing, state="error", error={"title": "The client secret is wrong"})
    refused = make_connection(team_a, "Refused devices", entity="devices")
    make_token(refused, state="valid", expires_at=later)
    GraphRefusal.objects.create(connection=refused, status=403, diagnosis={"title": "The token lacks Device.Read.All"})
    soon = make_connection(team_a, "Expiring soon", secret_expires_on=timezone.localdate() + datetime.timedelta(days=3))
    make_connection(team_a, "Brand new")
    client = login(admin_a)

    response = client.get("/")
    rows = response.context["connections"]
    assert [(c.name, c.health) for c in rows] == [
        ("Failing groups", "failing"),
        ("Refused devices", "failing"),
        ("Expiring soon", "attention"),
        ("Brand new", "never"),
        ("Healthy users", "healthy"),
    ]
    page = response.content.decode()
    assert (
        '<span class="health failing">Failing</span>' in page and '<span class="health healthy">Healthy</span>' in page
    )
    assert "<strong>2</strong> failing" in page and "<strong>1</strong> needs attention" in page
    assert "Graph refused the last read: The token lacks Device.Read.All." in page
    assert "The last token request failed: The client secret is wrong." in page
    assert "+1 ~2 &minus;3" in page and soon.name in page

    failing_only = client.get("/", {"state": "failing"}).context["connections"]
    assert {c.name for c in failing_only} == {"Failing groups", "Refused devices"}
    groups_only = client.get("/", {"entity": "groups"}).context["connections"]
    assert [c.name for c in groups_only] == ["Failing groups"]
    empty = client.get("/", {"state": "healthy", "entity": "groups"})
    assert empty.context["connections"] == [] and "No connection matches this filter" in empty.content.decode()
    odd = client.get("/", {"state": "\x00<script>", "entity": "x" * 5000})  # ignored, not an error
    assert odd.status_code == 200 and len(odd.context["connections"]) == 5
