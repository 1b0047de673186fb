"""A sync's refusal is the connection's Graph refusal, exactly like Test connection's: the Diagnostics
panel explains it, Re-fetch token reassesses it (still missing, then carried), and a read that works
removes it. Also: upgrading moves the refusal each token row held into its new home."""

from __future__ import annotations

import pytest
from django.db import connection as db
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from connections import jobs
from connections.models import GraphRefusal
from tests.factories import press_sync

pytestmark = pytest.mark.django_db(transaction=True)


def diagnostics_panel(client, conn) -> str:
    page = client.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    return page[page.index('id="diagnostics"') :]


def test_a_refused_sync_is_reassessed_by_refetch_and_cleared_by_the_next_read(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, live_worker, wait_for_run, wait_for_job
):
    app = sandbox_app(roles=["User.Read.All"], requested_roles=["Group.Read.All"])
    conn = sandbox_connection(team_a, app, name="groups", entity="groups")
    client = login(operator_a)

    failed = wait_for_run(press_sync(client, conn))

    assert failed.status == "failed" and failed.error["kept"] is True
    refusal = GraphRefusal.objects.get(connection=conn)
    assert (refusal.source, refusal.status, refusal.entity) == ("sync", 403, "groups")
    assert refusal.token_permissions == ["User.Read.All"] and refusal.diagnosis["title"] == failed.error["title"]
    panel = diagnostics_panel(client, conn)
    assert 'data-diagnosis="graph.permission_missing"' in panel and "Graph answered 403" in panel
    assert "No problems recorded" not in panel

    still = wait_for_job(jobs.start(conn, "token_refetch", operator_a).pk, timeout=30)
    assert still.state == "succeeded", still.error
    assert still.result["reassessed"]["key"] == "graph.permission_still_missing"
    assert still.result["reassessed"]["title"] in diagnostics_panel(client, conn)

    clean_sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/grants", {"roles": ["Group.Read.All"]})
    carried = wait_for_job(jobs.start(conn, "token_refetch", operator_a).pk, timeout=30)
    assert carried.result["reassessed"]["key"] == "graph.permission_now_in_token"
    assert GraphRefusal.objects.get(connection=conn).resolved
    assert "The new token carries Group.Read.All" in diagnostics_panel(client, conn)

    synced = wait_for_run(press_sync(client, conn))

    assert synced.status == "succeeded", synced.error
    assert not GraphRefusal.objects.filter(connection=conn).exists()
    assert "No problems recorded" in diagnostics_panel(client, conn)


BEFORE = [("connections", "0012_merge_sync_store")]
AFTER = [("connections", "0014_graph_refusal")]


def migrate(targets):
    executor = MigrationExecutor(db)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def latest_schema_afterwards():
    """The tests after this one need every migration applied again."""
    yield
    executor = MigrationExecutor(db)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_upgrading_moves_each_token_rows_refusal_to_its_own_home_and_back(latest_schema_afterwards):
    old = migrate(BEFORE)
    Team, Connection = old.get_model("connections", "Team"), old.get_model("connections", "Connection")
    Token = old.get_model("connections", "ConnectionToken")
    team = Team.objects.create(name="migrating")
    refused = Connection.objects.create(team=team, name="groups", tenant="t", client_id="c", entity="groups")
    clean = Connection.objects.create(team=team, name="users", tenant="t", client_id="c", entity="users")
    at = timezone.now().replace(microsecond=0)
    stored = {
        "diagnosis": {"key": "graph.permission_missing", "title": "The token lacks Group.ReadBasic.All"},
        "status": 403,
        "body": {"error": {"code": "Authorization_RequestDenied"}},
        "headers": {"request-id": "r-1"},
        "token_permissions": ["User.Read.All"],
        "token_kind": "app",
        "entity": "groups",
        "granted": ["User.Read.All"],
    }
    Token.objects.create(connection=refused, state="valid", graph_error=stored, graph_error_at=at)
    Token.objects.create(connection=clean, state="valid")

    new = migrate(AFTER)

    Refusal = new.get_model("connections", "GraphRefusal")
    moved = Refusal.objects.get()
    assert moved.connection_id == refused.pk and moved.refused_at == at
    assert (moved.status, moved.entity, moved.token_kind, moved.resolved) == (403, "groups", "app", False)
    assert moved.diagnosis == stored["diagnosis"] and moved.body == stored["body"]
    assert moved.headers == stored["headers"] and moved.granted == ["User.Read.All"]
    assert moved.token_permissions == ["User.Read.All"]
    assert "graph_error" not in {f.name for f in new.get_model("connections", "ConnectionToken")._meta.fields}

    back = migrate(BEFORE)

    rows = {t.connection_id: t for t in back.get_model("connections", "ConnectionToken").objects.all()}
    assert rows[refused.pk].graph_error == stored and rows[refused.pk].graph_error_at == at
    assert rows[clean.pk].graph_error == {}
