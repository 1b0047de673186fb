"""Beat's refresh_due_tokens: only tokens expiring within 5 minutes are renewed, by the worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from connections import tasks, tokens
from connections.models import AuditEntry, ConnectionToken, Job
from tests.factories import make_token

pytestmark = pytest.mark.django_db(transaction=True)


def test_beat_schedules_the_refresh_every_minute():
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "connections.refresh_due_tokens")
    assert entry["schedule"] in (60, 60.0, timedelta(minutes=1))


def test_refresh_due_tokens_renews_only_what_is_due(
    clean_sandbox, sandbox_connection, team_a, live_worker, wait_for_job
):
    due = sandbox_connection(team_a, name="due")
    fresh = sandbox_connection(team_a, name="fresh")
    for conn in (due, fresh):
        assert tokens.fetch_token(conn, force=False).ok
    soon = timezone.now() + timedelta(minutes=4)
    ConnectionToken.objects.filter(connection=due).update(expires_at=soon)
    fresh_before = ConnectionToken.objects.get(connection=fresh)
    signed_out = sandbox_connection(team_a, name="delegated, no refresh token", delegated=True)
    make_token(signed_out, state="valid", kind="delegated", expires_at=soon, access_token="placeholder.token.value")

    assert tasks.refresh_due_tokens() == {"queued": 1}
    job = Job.objects.get(kind="token_refresh")
    assert job.connection_id == due.pk
    assert wait_for_job(job.pk).state == "succeeded"

    renewed = ConnectionToken.objects.get(connection=due)
    assert renewed.is_valid and renewed.expires_at > soon + timedelta(minutes=30)
    assert due.token_fetches.filter(reason="refresh", ok=True).count() == 1
    assert AuditEntry.objects.filter(connection=due, detail__startswith="automatic refresh").exists()
    untouched = ConnectionToken.objects.get(connection=fresh)
    assert untouched.access_token == fresh_before.access_token
    assert ConnectionToken.objects.get(connection=signed_out).access_token == "placeholder.token.value"

    assert tasks.refresh_due_tokens() == {"queued": 0}  # nothing is due any more
