"""Team scoping and roles on every URL of the project, found by walking the URL resolver.

URLs added later (tokens, OAuth, jobs, runs) are covered automatically: their converters are
filled with objects of the other team (uuid kwargs named like a model get an object of that
model; any other uuid gets the connection).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from connections.models import Connection, Job
from tests.factories import make_channel, make_run

pytestmark = pytest.mark.django_db

SKIPPED_PREFIXES = ("admin/", "accounts/", "healthz")
FORM_POST = re.compile(r"<form[^>]*method=[\"']?post[^>]*>", re.I)
ACTION = re.compile(r"action=[\"']([^\"']*)[\"']", re.I)


def _walk(patterns: list, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def project_routes() -> list[tuple[str, URLPattern]]:
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith(SKIPPED_PREFIXES) or route.startswith("^"):
            continue
        if getattr(pattern.callback, "login_required", True) is False:
            continue  # declared public with @login_not_required
        routes.append((route, pattern))
    assert len(routes) >= 5, "the connection library's URLs should be found"
    return routes


# How to make a team-owned object for a uuid kwarg other than the connection's own id. Add an
# entry when a URL takes a new kind of id; unknown names get the connection's id (still 404).
OBJECT_MAKERS = {
    "job_id": lambda connection: Job.objects.create(kind="sync", connection=connection).pk,
    "run_id": lambda connection: make_run(connection, status="succeeded").pk,
    "channel_id": lambda connection: make_channel(connection.team).pk,
}


def _object_for(name: str, team_connection: Connection) -> Any:
    maker = OBJECT_MAKERS.get(name)
    return maker(team_connection) if maker else team_connection.pk


def concrete_url(route: str, team_connection: Connection) -> tuple[str, bool]:
    """The route with its converters filled from ``team_connection``'s team; and whether it had any."""
    out, has_kwargs = route, False
    for match in re.finditer(r"<(?:(\w+):)?(\w+)>", route):
        kind, name = match.group(1) or "str", match.group(2)
        has_kwargs = True
        value = _object_for(name, team_connection) if kind == "uuid" else 1 if kind == "int" else "x"
        out = out.replace(match.group(0), str(value), 1)
    return "/" + out, has_kwargs


def state_snapshot() -> dict[str, Any]:
    """Row counts of every model of the app and every connection's last update."""
    counts = {m._meta.label: m._base_manager.count() for m in apps.get_app_config("connections").get_models()}
    counts["updates"] = sorted(str(u) for u in Connection.objects.values_list("updated_at", flat=True))
    return counts


def test_other_teams_objects_answer_404_on_every_url(login, admin_a, connection_a, connection_b):
    client = login(admin_a)
    checked = 0
    for route, _ in project_routes():
        url, has_kwargs = concrete_url(route, connection_b)
        if not has_kwargs:
            continue
        statuses = {method: getattr(client, method)(url).status_code for method in ("get", "post")}
        assert set(statuses.values()) <= {404, 405}, f"{url}: {statuses} (another team's object must be 404)"
        assert 404 in statuses.values(), f"{url}: {statuses}"
        checked += 1
    assert checked >= 4
    assert Connection.objects.filter(pk=connection_b.pk).exists()


def test_a_viewer_cannot_change_anything_and_sees_no_buttons(login, viewer_a, connection_a):
    client = login(viewer_a)
    for route, _ in project_routes():
        url, _ = concrete_url(route, connection_a)
        before = state_snapshot()
        post = client.post(url)
        assert post.status_code in (403, 405), f"POST {url} by a viewer -> {post.status_code}"
        get = client.get(url)
        assert get.status_code in (200, 400, 403, 404, 405), f"GET {url} by a viewer -> {get.status_code}"
        assert state_snapshot() == before, f"{url} changed data for a viewer"
        if get.status_code == 200 and get["Content-Type"].startswith("text/html"):
            html = get.content.decode()
            logout = reverse("logout")
            forms = [ACTION.search(tag) for tag in FORM_POST.findall(html)]
            targets = [m.group(1) if m else url for m in forms]
            assert [t for t in targets if t != logout] == [], f"{url} shows a viewer POST forms: {targets}"
            assert "hx-post" not in html, f"{url} shows a viewer an hx-post button"


@pytest.mark.parametrize("name", ["connections:edit", "connections:delete"])
def test_operators_and_viewers_cannot_edit_or_delete(login, operator_a, viewer_a, connection_a, name):
    url = reverse(name, args=[connection_a.pk])
    for user in (operator_a, viewer_a):
        client = login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"name": "taken over"}).status_code == 403
    connection_a.refresh_from_db()
    assert connection_a.name == "A users"


def test_only_team_admins_may_create(login, operator_a, viewer_a, admin_a, connection_a):
    new = reverse("connections:new")
    for user in (operator_a, viewer_a):
        client = login(user)
        assert client.get(new).status_code == 403
        assert client.post(new, {"name": "x"}).status_code == 403
        page = client.get("/").content.decode()
        assert new not in page
        detail = client.get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
        assert reverse("connections:edit", args=[connection_a.pk]) not in detail
        assert reverse("connections:delete", args=[connection_a.pk]) not in detail
    admin_page = login(admin_a).get("/").content.decode()
    assert new in admin_page
    admin_detail = login(admin_a).get(reverse("connections:detail", args=[connection_a.pk])).content.decode()
    assert reverse("connections:edit", args=[connection_a.pk]) in admin_detail


def test_anonymous_visitors_are_sent_to_log_in(client, connection_a):
    login_url = reverse(settings.LOGIN_URL)
    for route, _ in project_routes():
        url, _ = concrete_url(route, connection_a)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, f"{method.upper()} {url} -> {response.status_code}"
            assert response["Location"].startswith(login_url), url


def test_the_list_shows_only_the_users_teams(login, admin_a, outsider, connection_a, connection_b):
    page_a = login(admin_a).get("/").content.decode()
    assert "A users" in page_a and "B users" not in page_a and "Team B" not in page_a
    page_b = login(outsider).get("/").content.decode()
    assert "B users" in page_b and "A users" not in page_b


def test_superusers_see_every_team(login, superuser, connection_a, connection_b):
    client = login(superuser)
    page = client.get("/").content.decode()
    assert "A users" in page and "B users" in page
    assert client.get(reverse("connections:edit", args=[connection_b.pk])).status_code == 200


def test_an_admin_cannot_create_in_or_move_to_another_team(login, admin_a, team_b, connection_a, outsider):
    from tests.library.test_form_validation import valid_data

    client = login(admin_a)
    response = client.post(reverse("connections:new"), {**valid_data(team_b), "name": "Sneaky"})
    assert response.status_code == 200 and "team" in response.context["form"].errors
    response = client.post(
        reverse("connections:edit", args=[connection_a.pk]), {**valid_data(team_b), "name": "A users"}
    )
    assert "team" in response.context["form"].errors
    assert not Connection.objects.filter(name="Sneaky").exists()
    assert Connection.objects.get(pk=connection_a.pk).team_id != team_b.pk


def test_unknown_ids_answer_404(login, admin_a, connection_a):
    assert login(admin_a).get(reverse("connections:detail", args=[uuid.uuid4()])).status_code == 404


def test_the_one_scoping_rule_answers_for_every_page(rf, viewer_a, operator_a, superuser, connection_a, connection_b):
    """``get_connection_for_user`` (the detail page's read): own team's connection with the role,
    another team's 404, a malformed id 404, a role too low 403, and an account switched off
    (whatever its session says) nothing."""
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from connections.library.access import get_connection_for_user
    from connections.models import Role

    def request_of(user):
        request = rf.get("/")
        request.user = user
        return request

    assert get_connection_for_user(request_of(operator_a), connection_a.pk).can.operate
    assert get_connection_for_user(request_of(superuser), connection_b.pk).can.admin
    with pytest.raises(Http404):
        get_connection_for_user(request_of(operator_a), connection_b.pk)
    with pytest.raises(Http404):
        get_connection_for_user(request_of(operator_a), "not-a-uuid")
    with pytest.raises(PermissionDenied):
        get_connection_for_user(request_of(viewer_a), connection_a.pk, Role.OPERATOR)
    viewer_a.is_active = False
    with pytest.raises(Http404):
        get_connection_for_user(request_of(viewer_a), connection_a.pk)
    assert not Connection.objects.for_user(request_of(viewer_a)).exists()
