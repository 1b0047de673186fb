"""Journey 5: every token-endpoint failure is explained on the detail page in plain words, with the
next step; transient failures are retried, a hanging endpoint times out with a clear error."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from connections import tokens
from connections.models import AuditEntry, ConnectionToken
from tests.factories import GRAPH, detail, make_sandbox_app, token_requests

BAD_SECRET = "Xy7~not.the-right-secret-value-0123456789"


def _wrong_secret(sandbox, app):
    return {"secret": BAD_SECRET}


def _expired_secret(sandbox, app):
    past = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    expired = make_sandbox_app(sandbox, display_name="expired", secret_expires=past)
    return {"client_id": expired["client_id"], "secret": expired["client_secret"]}


def _secret_id_pasted(sandbox, app):
    return {"secret": app["secret_id"]}


def _unknown_app(sandbox, app):
    return {"client_id": str(uuid.uuid4())}


def _unknown_tenant(sandbox, app):
    tenant = "no-such-tenant.onmicrosoft.com"
    return {"tenant": tenant, "token_url": f"{sandbox.base_url}/{tenant}/oauth2/v2.0/token"}


def _bad_scope(sandbox, app):
    return {"scope": f"{GRAPH}/User.Read.All"}


def _bad_resource(sandbox, app):
    return {"version": "v1", "resource": f"{GRAPH}/v1.0"}


CASES = [
    (_wrong_secret, "token.bad_secret", "The client secret is wrong"),
    (_expired_secret, "token.secret_expired", "The client secret has expired"),
    (_secret_id_pasted, "token.secret_id_pasted", "The secret&#x27;s ID was saved instead of the secret&#x27;s value"),
    (_unknown_app, "token.app_not_found", "The app is not known in this tenant"),
    (_unknown_tenant, "token.tenant_not_found", "The tenant does not exist (in this cloud)"),
    (_bad_scope, "token.invalid_scope", "The scope is not valid"),
    (_bad_resource, "token.invalid_resource", "The resource is not valid"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change, key, title", CASES, ids=[c[1] for c in CASES])
def test_token_error_is_diagnosed_on_the_detail_page(
    change, key, title, clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, run_job
):
    app = sandbox_app(roles=["User.Read.All"])
    fields = change(clean_sandbox, app)
    conn = sandbox_connection(team_a, app, **fields)
    secret = fields.get("secret") or app["client_secret"]
    client = login(operator_a)

    job = run_job(client, conn, "token_fetch")

    assert job.state == "failed"
    assert job.result["diagnosis"]["key"] == key
    assert ConnectionToken.objects.get(connection=conn).state == "error"
    page = detail(client, conn)
    assert f'data-diagnosis="{key}"' in page and title in page
    assert '<ol class="steps">' in page  # what to do next
    assert secret not in page and secret not in str(job.result) and secret not in job.error
    listing = client.get(reverse("connections:list")).content.decode()
    assert f"The last token request failed: {title}" in listing
    failed = AuditEntry.objects.get(connection=conn, action="token_fetched", detail__startswith="failed: ")
    assert secret not in failed.detail


@pytest.mark.django_db(transaction=True)
def test_a_503_then_200_token_endpoint_succeeds_after_a_retry(
    clean_sandbox, sandbox_connection, team_a, operator_a, login, run_job
):
    conn = sandbox_connection(team_a)
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": f"/{clean_sandbox.tenant_id}/oauth2/v2.0/token", "status": 503, "count": 1}
    )

    job = run_job(login(operator_a), conn, "token_fetch")

    assert job.state == "succeeded", job.error
    assert ConnectionToken.objects.get(connection=conn).is_valid
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 2


@pytest.mark.django_db
def test_a_hanging_token_endpoint_times_out_with_a_clear_error(clean_sandbox, sandbox_connection, team_a, settings):
    settings.GRAPH_HTTP_TIMEOUT = 0.5
    conn = sandbox_connection(team_a)
    clean_sandbox.control.post(
        "/_sandbox/faults", {"path": f"/{clean_sandbox.tenant_id}/oauth2/v2.0/token", "delay_ms": 2500, "count": 1}
    )

    outcome = tokens.fetch_token(conn, force=True)

    assert not outcome.ok
    assert outcome.diagnosis.key == "token.timeout"
    assert outcome.diagnosis.title == "The token endpoint did not answer in time"
    assert "within 0.5 s" in outcome.diagnosis.explanation
    assert ConnectionToken.objects.get(connection=conn).state == "error"
