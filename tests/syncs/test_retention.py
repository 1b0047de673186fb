"""Old sync runs are pruned per connection; the delta base and running runs always stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connections import tasks
from connections.models import SyncRun, SyncStage, SyncVersion
from connections.syncs import retention
from tests.factories import make_run

pytestmark = pytest.mark.django_db

S, F, R = SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED, SyncRun.Status.RUNNING


def make_runs(connection, statuses, entity="users"):
    """Runs oldest first, each with two items seen by it alone (a succeeded run's versions, the
    rows a failed or running run staged); returns them in the same order."""
    now = timezone.now()
    runs = []
    for age, status in enumerate(reversed(statuses)):
        run = make_run(connection, status=status, entity=entity, created_at=now - timedelta(hours=age))
        runs.append(run)
    runs.reverse()
    published = None
    for run in runs:
        if run.status == S:
            seq = (
                SyncRun.objects.filter(connection=connection)
                .exclude(seq=None)
                .order_by("-seq")
                .values_list("seq", flat=True)
                .first()
                or 0
            ) + 1
            SyncRun.objects.filter(pk=run.pk).update(seq=seq)
            run.seq = seq
            if published is not None:  # what the run before saw alone ends here
                SyncVersion.objects.filter(stream=run.stream, valid_to=None).update(valid_to=seq)
            SyncVersion.objects.bulk_create(
                SyncVersion(stream=run.stream, key=f"{run.pk}-{i}", valid_from=seq, data={"i": i}, digest="x" * 32)
                for i in range(2)
            )
            published = run
        else:
            SyncStage.objects.bulk_create(
                SyncStage(run=run, key=f"{run.pk}-{i}", data="{}", digest="x" * 32) for i in range(2)
            )
    return runs


def test_it_keeps_the_newest_runs_and_the_last_success(connection_a, connection_b):
    old_ok, old_fail, last_ok, fail1, fail2, running = make_runs(connection_a, [S, F, S, F, F, R])
    b_runs = make_runs(connection_b, [S, S])

    counts = retention.prune_sync_runs(keep=2)

    kept = set(SyncRun.objects.values_list("pk", flat=True))
    # newest two finished (fail2, fail1) + the delta base (last_ok) + the running one; B untouched
    assert kept == {fail2.pk, fail1.pk, last_ok.pk, running.pk, *(run.pk for run in b_runs)}
    assert counts == {"runs": 2, "records": 4}
    assert not old_ok.records.exists() and not SyncStage.objects.filter(run__in=[old_ok, old_fail]).exists()
    assert last_ok.records.count() == 2


def test_each_entity_keeps_its_own_delta_base(connection_a):
    users_ok = make_runs(connection_a, [S], entity="users")[0]
    make_runs(connection_a, [S, S, S], entity="groups")  # all newer than the users run
    retention.prune_sync_runs(keep=1)
    assert SyncRun.objects.filter(pk=users_ok.pk).exists()  # beyond the newest one, but the users base
    assert SyncRun.objects.filter(entity="groups").count() == 1


def test_the_beat_task_uses_the_setting(connection_a, settings):
    settings.SYNC_RUNS_KEPT = 1
    make_runs(connection_a, [S, S, S])
    assert tasks.prune_sync_runs.run() == {"runs": 2, "records": 4}
