"""What the API answers, as a script would use it: connection health, runs with items, search,
changes and exports, credentials expiring soon, the planner, diagnoses in plain words — and
every answer matches the OpenAPI document."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from openapi_spec_validator import validate

from tests.api.schema import conforms, document, loaded
from tests.cast import make_connection
from tests.factories import make_published_run, make_run, make_schedule, make_token, sandbox_listing

pytestmark = pytest.mark.django_db

PEOPLE = {str(n): {"id": str(n), "displayName": f"Person {n:03}", "mail": f"p{n}@example.test"} for n in range(1, 121)}


@pytest.fixture
def schema(db):
    return loaded()


@pytest.fixture
def runs(connection_a):
    first = make_published_run(connection_a, PEOPLE)
    now = dict(PEOPLE)
    now["5"] = {**now["5"], "displayName": "=HYPERLINK(1)"}
    del now["7"]
    now["200"] = {"id": "200", "displayName": "Zoë Ångström", "mail": "zoe@example.test"}
    # Counts as the store would publish them (the factory writes snapshots, not change sets).
    second = make_published_run(
        connection_a,
        now,
        previous=first,
        added=1,
        changed=1,
        removed=1,
        started_at=timezone.now() - timedelta(seconds=4),
        finished_at=timezone.now(),
    )
    return first, second


def test_the_openapi_document_validates_and_has_docs():
    from django.test import Client

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicated keys in the document: {keys}"
        return dict(pairs)

    json.loads(Client().get("/api/v1/schema").content, object_pairs_hook=no_duplicates)
    validate(document())
    assert Client().get("/api/v1/docs").status_code == 200


def test_connections_carry_health_token_credential_last_and_next_run(
    api_as, viewer_a, connection_a, runs, schema, team_a
):
    connection_a.secret_expires_on = timezone.localdate() + timedelta(days=5)
    connection_a.save()
    make_token(connection_a, state="valid", expires_at=timezone.now() + timedelta(minutes=50))
    make_schedule(connection_a)
    response = api_as(viewer_a).get("/connections")
    conforms(schema, "get", "/api/v1/connections", response)
    row = response.json()["items"][0]
    assert row["team"] == "team-a" and row["role"] == "viewer"
    assert row["token_state"] == "valid" and row["token_expires_at"]
    assert row["credential"] == {
        "type": "secret",
        "ends_on": str(connection_a.secret_expires_on),
        "days_left": 5,
        "level": "7",
        "source": "manual",
    }
    assert row["last_run"]["id"] == str(runs[1].pk) and row["last_run"]["status"] == "succeeded"
    assert row["next_run"] is not None
    assert row["health"] == "attention" and "The client secret expires within 7 days." in row["problems"]
    assert "client_secret" not in response.content.decode() and "cast-secret" not in response.content.decode()
    one = api_as(viewer_a).get(f"/connections/{connection_a.pk}")
    conforms(schema, "get", "/api/v1/connections/{pk}", one)
    assert one.json() == row
    failing = api_as(viewer_a).get("/connections", {"health": "failing"}).json()
    assert failing["count"] == 0


def test_problems_are_the_pages_diagnoses_with_title_severity_and_steps(api_as, viewer_a, connection_a, schema):
    from microsoft import diagnoses

    failed = make_run(connection_a, status="failed", error=diagnoses.sync.stale(timezone.now()).to_dict())
    response = api_as(viewer_a).get(f"/connections/{connection_a.pk}/problems")
    conforms(schema, "get", "/api/v1/connections/{pk}/problems", response)
    items = response.json()["items"]
    sync = next(item for item in items if item["source"] == "sync")
    assert sync["title"] == failed.error["title"] and sync["severity"] and sync["explanation"]
    assert all("title" in step or "text" in step for step in sync["steps"])
    run = api_as(viewer_a).get(f"/connections/{connection_a.pk}/runs/{failed.pk}").json()
    assert run["diagnosis"]["title"] == failed.error["title"]


def test_runs_list_and_one_run_with_counts(api_as, viewer_a, connection_a, runs, schema):
    api = api_as(viewer_a)
    listed = api.get(f"/connections/{connection_a.pk}/runs")
    conforms(schema, "get", "/api/v1/connections/{pk}/runs", listed)
    assert [r["id"] for r in listed.json()["items"]] == [str(runs[1].pk), str(runs[0].pk)]
    one = api.get(f"/connections/{connection_a.pk}/runs/{runs[1].pk}")
    conforms(schema, "get", "/api/v1/connections/{pk}/runs/{run_id}", one)
    body = one.json()
    assert (body["rows"], body["added"], body["changed"], body["removed"]) == (120, 1, 1, 1)
    assert 3.9 < body["duration_seconds"] < 4.1


def test_items_are_paged_and_searched_on_the_server(api_as, viewer_a, connection_a, runs, schema):
    api = api_as(viewer_a)
    base = f"/connections/{connection_a.pk}/runs/{runs[1].pk}/items"
    first = api.get(base, {"page_size": 50})
    conforms(schema, "get", "/api/v1/connections/{pk}/runs/{run_id}/items", first)
    page = first.json()
    assert (page["count"], page["pages"], len(page["items"])) == (120, 3, 50)
    assert page["columns"][0] == "id"
    keys = set()
    for number in (1, 2, 3):
        keys |= {item["id"] for item in api.get(base, {"page_size": 50, "page": number}).json()["items"]}
    assert len(keys) == 120 and "7" not in keys and "200" in keys
    found = api.get(base, {"q": "ZOë Ång"}).json()
    assert [item["id"] for item in found["items"]] == ["200"]
    assert api.get(base, {"q": "no-such-thing"}).json()["count"] == 0
    beyond = api.get(base, {"page": 99}).json()
    assert beyond["page"] == 3


def test_changes_show_added_changed_with_fields_and_removed(
    clean_sandbox, sandbox_connection, team_a, operator_a, viewer_a, api_as, sync_inline, schema
):
    users = sandbox_connection(team_a)
    first = sync_inline(users, operator_a)
    listed = sandbox_listing(clean_sandbox)
    changed, removed = listed[10], listed[20]
    clean_sandbox.control.patch(f"/_sandbox/users/{changed['id']}", {"officeLocation": "Moon Base 1"})
    clean_sandbox.control.delete(f"/_sandbox/users/{removed['id']}")
    added = clean_sandbox.control.post(
        "/_sandbox/users", {"displayName": "Nova", "userPrincipalName": "n@example.test"}
    )
    second = sync_inline(users, operator_a)

    api = api_as(viewer_a)
    base = f"/connections/{users.pk}/runs/{second.pk}/changes"
    response = api.get(base, {"kind": "changed"})
    conforms(schema, "get", "/api/v1/connections/{pk}/runs/{run_id}/changes", response)
    body = response.json()
    assert body["previous"] == str(first.pk) and body["count"] == 1
    assert body["items"][0]["key"] == changed["id"]
    assert {"field": "officeLocation", "before": changed.get("officeLocation"), "after": "Moon Base 1"} in body[
        "items"
    ][0]["fields"]
    assert [c["key"] for c in api.get(base, {"kind": "added"}).json()["items"]] == [added["id"]]
    assert [c["key"] for c in api.get(base, {"kind": "removed"}).json()["items"]] == [removed["id"]]
    first_changes = api.get(f"/connections/{users.pk}/runs/{first.pk}/changes").json()
    assert first_changes["count"] == 0 and first_changes["items"] == []


def test_exports_stream_csv_and_json_lines(api_as, viewer_a, connection_a, runs, schema):
    api = api_as(viewer_a)
    base = f"/connections/{connection_a.pk}/runs/{runs[1].pk}/export"
    as_csv = api.get(base)
    assert as_csv.streaming and as_csv["Content-Type"].startswith("text/csv")
    text = b"".join(as_csv.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 120 and next(r for r in rows if r["id"] == "5")["displayName"] == "'=HYPERLINK(1)"
    as_jsonl = api.get(base, {"format": "jsonl"})
    lines = [json.loads(line) for line in b"".join(as_jsonl.streaming_content).decode().splitlines()]
    assert len(lines) == 120 and {"id": "200", "displayName": "Zoë Ångström", "mail": "zoe@example.test"} in lines
    conforms(schema, "get", "/api/v1/connections/{pk}/runs/{run_id}/export", api.get(base, {"format": "jsonl"}))
    running = make_run(connection_a, status="running")
    refused = api.get(f"/connections/{connection_a.pk}/runs/{running.pk}/export")
    assert refused.status_code == 409 and "running" in refused.json()["detail"]
    conforms(schema, "get", "/api/v1/connections/{pk}/runs/{run_id}/export", refused)


def test_credentials_expiring_within_30_days_in_one_call(api_as, admin_a, team_a, schema):
    from connections.models import AppCredential

    today = timezone.localdate()
    soon = make_connection(team_a, "soon", secret_expires_on=today + timedelta(days=12))
    make_connection(team_a, "later", secret_expires_on=today + timedelta(days=200))
    make_connection(team_a, "unknown")
    entra = make_connection(team_a, "entra")
    AppCredential.objects.create(
        connection=entra,
        kind="secret",
        key_id="k1",
        display_name="ci",
        hint="Abc",
        end_at=timezone.now() + timedelta(days=3),
        in_use=True,
    )
    api = api_as(admin_a)
    every = api.get("/credentials")
    conforms(schema, "get", "/api/v1/credentials", every)
    assert every.json()["count"] == 4
    response = api.get("/credentials", {"expires_within_days": 30})
    conforms(schema, "get", "/api/v1/credentials", response)
    items = {item["connection_name"]: item for item in response.json()["items"]}
    assert set(items) == {"soon", "entra"}
    assert items["soon"]["credential"]["days_left"] == 12
    assert items["entra"]["credential"]["source"] == "entra"
    assert items["entra"]["app_credentials"][0]["days_left"] == 3
    assert "Abc" not in response.content.decode()  # Graph's hint is part of the secret: never sent
    assert str(soon.pk) in response.content.decode()


def test_the_planner_answers_for_a_list_of_entities_and_paths(api_as, viewer_a, schema):
    response = api_as(viewer_a).get("/planner", {"paths": ["users", "groups", "no/such/thing"]})
    conforms(schema, "get", "/api/v1/planner", response)
    plan = response.json()
    assert "User.Read.All" in plan["permissions"] or "User.ReadBasic.All" in plan["permissions"]
    assert "no/such/thing" in plan["unknown"]
    assert "requiredResourceAccess" in plan["manifest"]
    delegated = api_as(viewer_a).get("/planner", {"paths": ["users"], "kind": "delegated"}).json()
    assert delegated["token_kind"] == "delegated"


def test_error_answers_match_the_document_too(api_as, viewer_a, outsider, connection_a, runs, schema):
    response = api_as(outsider).get(f"/connections/{connection_a.pk}")
    conforms(schema, "get", "/api/v1/connections/{pk}", response)
    forbidden = api_as(viewer_a).post(f"/connections/{connection_a.pk}/sync")
    conforms(schema, "post", "/api/v1/connections/{pk}/sync", forbidden)
    invalid = api_as(viewer_a).get(f"/connections/{connection_a.pk}/runs/{runs[1].pk}/items", {"page": 0})
    conforms(schema, "get", "/api/v1/connections/{pk}/runs/{run_id}/items", invalid)
