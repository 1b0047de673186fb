"""A schema-driven fuzz run over the whole API: Schemathesis generates requests from the served
OpenAPI document — valid and invalid ones, for objects that exist and ones that do not — and
every answer must be no 5xx and match its declared status, content type and schema; afterwards
nothing is half-saved. Slow: CI runs it with the full suite on PostgreSQL."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from connections.models import AuditEntry, Job, SyncRun
from tests.api.schema import for_fuzzing
from tests.factories import make_published_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

EXAMPLES = 25  # per operation: bounded, so the run stays short
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_api_survives_schema_driven_fuzzing(token_for, operator_a, connection_a, connection_b, settings_):
    settings_.LOGIN_FAILURE_LIMIT = 10_000  # invalid cases knock with no token on purpose
    run = make_published_run(connection_a, {str(n): {"id": str(n), "displayName": f"P{n}"} for n in range(30)})
    job = Job.objects.create(kind="test", connection=connection_a, state="succeeded", result={"ok": True})
    headers = {"Authorization": f"Bearer {token_for(operator_a).value}"}
    real = {"pk": str(connection_a.pk), "run_id": str(run.pk), "job_id": str(job.pk)}
    schema = for_fuzzing()
    calls: list[str] = []

    for operation in (result.ok() for result in schema.get_all_operations()):
        names = {p.name for p in operation.path_parameters}
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters={n: real[n] for n in names}),
        ]

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @given(case=st.one_of(*strategies))
        def exercise(case):
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            calls.append(f"{case.method} {case.formatted_path} {response.status_code}")

        exercise()

    assert len(calls) >= 300, calls[:20]
    statuses = {call.split()[-1] for call in calls}
    assert {"200", "202", "404", "422"} <= statuses, statuses

    # Nothing half-saved: each run has its job, each job of the API's was audited.
    assert not SyncRun.objects.filter(job__isnull=True).exclude(pk=run.pk).exists()
    started = Job.objects.exclude(pk=job.pk).count()
    audited = AuditEntry.objects.filter(detail__contains="through the API").count()
    assert audited >= started


@pytest.fixture
def settings_(settings):
    return settings


@pytest.fixture(autouse=True)
def keep_test_connection():
    """The WSGI handler closes the database connection after each request; the test database lives
    in that connection (as Django's test client arranges, keep it open while the test runs)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
