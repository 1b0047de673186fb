"""Upgrading from per-run records to versions keeps every run browsable, comparable and exportable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from connections.models import SyncRun, SyncVersion
from connections.syncs import results, store

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("connections", "0007_login_failures")]
AFTER = [("connections", "0010_drop_sync_records")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture(autouse=True)
def latest_schema_afterwards():
    """The tests after this one need every migration applied again."""
    yield
    migrate_to_latest()


def test_every_old_run_keeps_its_records_and_its_changes():
    old = migrate(BEFORE)
    Team, Connection = old.get_model("connections", "Team"), old.get_model("connections", "Connection")
    Run, Record = old.get_model("connections", "SyncRun"), old.get_model("connections", "SyncRecord")
    team = Team.objects.create(name="migrating")
    conn = Connection.objects.create(team=team, name="users", tenant="t", client_id="c", entity="users")
    now = timezone.now()
    states = [
        {"a": {"v": 1}, "b": {"v": 1}, "c": {"v": 1}},
        {"a": {"v": 1}, "b": {"v": 2}, "d": {"v": 1}},  # b changed, c removed, d added
        {"a": {"v": 1}, "b": {"v": 2}, "d": {"v": 1}},  # nothing changed
    ]
    runs = []
    for index, state in enumerate(states):
        run = Run.objects.create(
            connection=conn,
            status="succeeded",
            entity="users",
            rows=len(state),
            created_at=now + timedelta(minutes=index),
            finished_at=now + timedelta(minutes=index, seconds=5),
            previous=runs[-1] if runs else None,
            **({"added": 0, "changed": 0, "removed": 0} if runs else {}),
        )
        Record.objects.bulk_create(Record(run=run, key=k, data=d, digest=store.digest(d)) for k, d in state.items())
        runs.append(run)
    failed = Run.objects.create(connection=conn, status="failed", entity="users", created_at=now)

    migrate(AFTER)
    migrate_to_latest()  # the models below are today's: their later columns must exist

    for run, state in zip(runs, states, strict=True):
        new = SyncRun.objects.get(pk=run.pk)
        assert {v.key: v.data for v in new.records} == state
    assert SyncVersion.objects.count() == 6  # a, b, c, then b', d and c's tombstone: not 3 × 3 rows
    second = SyncRun.objects.get(pk=runs[1].pk)
    assert [c.key for c in results.changes(second, "changed")] == ["b"]
    assert [c.key for c in results.changes(second, "added")] == ["d"]
    assert [c.key for c in results.changes(second, "removed")] == ["c"]
    assert not SyncRun.objects.get(pk=failed.pk).records.exists()
