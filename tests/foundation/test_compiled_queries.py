"""Queries compiled once per process give what the queryset itself gives, for every call's values,
on the configured database; a query that depends on anything else is refused, not frozen."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection as db
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.library.status import with_status
from connections.models import Connection, Membership, SyncRun
from connections.models.compiled import CompiledQuery, NotCompilable
from tests.cast import make_connection, make_member
from tests.factories import make_run, make_token

pytestmark = pytest.mark.django_db


def _fields(rows, *names):
    return [tuple(getattr(row, name) for name in names) for row in rows]


def test_joined_column_picked_rows_are_the_querysets_own_for_each_value(team_a, team_b):
    first, second = make_connection(team_a, "First"), make_connection(team_b, "Second")
    make_token(first, state="valid", expires_at=timezone.now() + timedelta(hours=1))
    runs = CompiledQuery(
        lambda pk: (
            SyncRun.objects.filter(connection_id=pk)
            .select_related("started_by")
            .only("status", "rows", "started_by__username")[:3]
        ),
        uuid.UUID,
    )
    for index in range(5):
        make_run(first, status="succeeded", rows=index)
    make_run(second, status="failed", rows=99)

    for connection in (first, second):
        expected = list(
            connection.sync_runs.select_related("started_by").only("status", "rows", "started_by__username")[:3]
        )
        got = runs.fetch(connection.pk)
        assert _fields(got, "pk", "status", "rows", "connection_id") == _fields(
            expected, "pk", "status", "rows", "connection_id"
        )
        assert got and got[0].get_deferred_fields() == expected[0].get_deferred_fields()
    assert runs.fetch(uuid.uuid4()) == []

    # The custom iterable, select_related chains and annotations come through too.
    status = CompiledQuery(
        lambda pk: with_status(Connection.objects.select_related("team")).filter(pk=pk).annotate(owner=F("team__name")),
        uuid.UUID,
    )
    row = status.first(first.pk)
    assert (row.name, row.owner, row.token_state, row.last_sync_rows) == ("First", team_a.name, "valid", 4)
    with CaptureQueriesContext(db) as queries:
        assert row.team.name == team_a.name  # joined: no query
    assert len(queries) == 0


def test_an_integer_key_of_a_32_bit_column_is_found(viewer_a):
    # The stand-in must fit the column: PostgreSQL lookups out of an integer column's range find
    # nothing without asking the database, which would have compiled into "never anything".
    users = CompiledQuery(lambda pk: type(viewer_a).objects.filter(pk=pk), int)
    assert [user.username for user in users.fetch(viewer_a.pk)] == [viewer_a.username]
    assert users.fetch(viewer_a.pk + 1000) == []


def test_a_list_argument_compiles_once_per_length_and_an_empty_list_finds_nothing(team_a, team_b):
    make_connection(team_a, "A1"), make_connection(team_a, "A2"), make_connection(team_b, "B1")
    in_teams = CompiledQuery(lambda teams: Connection.objects.filter(team_id__in=teams).order_by("name"), [int])

    assert [c.name for c in in_teams.fetch([team_a.pk])] == ["A1", "A2"]
    assert [c.name for c in in_teams.fetch([team_b.pk])] == ["B1"]
    assert [c.name for c in in_teams.fetch([team_b.pk, team_a.pk])] == ["A1", "A2", "B1"]
    with CaptureQueriesContext(db) as queries:
        assert in_teams.fetch([]) == []
    assert len(queries) == 0


def test_related_objects_the_caller_holds_are_not_read_again(team_a):
    connection = make_connection(team_a, "Held")
    make_run(connection, status="succeeded")
    runs = CompiledQuery(lambda pk: SyncRun.objects.filter(connection_id=pk), uuid.UUID)

    (run,) = runs.fetch(connection.pk, related={"connection": connection})
    with CaptureQueriesContext(db) as queries:
        assert run.connection is connection
    assert len(queries) == 0


def test_a_query_that_reads_the_clock_is_refused_rather_than_frozen(team_a):
    connection = make_connection(team_a, "Clock")
    since_now = CompiledQuery(
        lambda pk: SyncRun.objects.filter(connection_id=pk, created_at__lte=timezone.now()), uuid.UUID
    )
    with pytest.raises(NotCompilable, match="depends on more than its arguments"):
        since_now.fetch(connection.pk)

    # Empty for its stand-ins (not for want of a list's items): nothing it found could be trusted.
    never = CompiledQuery(lambda pk: SyncRun.objects.filter(connection_id=pk, status__in=[]), uuid.UUID)
    with pytest.raises(NotCompilable, match="finds nothing"):
        never.fetch(connection.pk)

    unused = CompiledQuery(lambda pk: SyncRun.objects.all(), uuid.UUID)
    with pytest.raises(NotCompilable, match="does not reach"):
        unused.fetch(connection.pk)
    with pytest.raises(TypeError):
        unused.fetch()


@pytest.mark.django_db(transaction=True)
def test_each_thread_runs_it_on_its_own_database_connection(team_a, viewer_a):
    memberships = CompiledQuery(lambda user_id: Membership.objects.filter(user_id=user_id), int)
    assert [m.team_id for m in memberships.fetch(viewer_a.pk)] == [team_a.pk]  # compiled on this thread
    other = make_member("other", team_a, "operator")
    found, errors = [], []

    def read() -> None:
        try:
            found.extend(m.user_id for m in memberships.fetch(other.pk))
        except Exception as error:  # noqa: BLE001 — reported below
            errors.append(error)
        finally:
            db.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert (errors, found) == ([], [other.pk])
