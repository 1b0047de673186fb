"""Celery's reliability settings for acks-late tasks, as deployed (Redis): a task held by a dead worker
comes back only after the visibility timeout, which outlasts the longest task, while the reaper ends
such runs within two minutes; a stopped broker costs a request about two seconds."""

from __future__ import annotations

from cryptography.fernet import Fernet

from tests.foundation.test_settings import _manage

PRINT = (
    "from django.conf import settings as s; o = s.CELERY_BROKER_TRANSPORT_OPTIONS; "
    "print(o['visibility_timeout'], s.CELERY_TASK_TIME_LIMIT, s.SYNC_STALE_AFTER_SECONDS, o['socket_timeout'], "
    "s.CELERY_BROKER_CONNECTION_TIMEOUT, s.CELERY_TASK_ACKS_LATE, s.CELERY_TASK_PUBLISH_RETRY)"
)


def test_the_visibility_timeout_outlasts_tasks_and_the_reaper_comes_long_before(tmp_path):
    result = _manage(
        "shell",
        "-c",
        PRINT,
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        VAR_DIR=str(tmp_path),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    assert result.returncode == 0, result.stderr
    visibility, time_limit, stale, socket_timeout, connect, acks_late, publish_retry = (
        result.stdout.strip().splitlines()[-1].split()
    )
    assert int(visibility) > int(time_limit) >= 60 * 30
    assert int(stale) <= 120 < int(visibility) / 10
    assert float(socket_timeout) <= 2 and float(connect) <= 2
    assert acks_late == "True" and publish_retry == "False"
