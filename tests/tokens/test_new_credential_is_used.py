"""Saving a new credential makes the next Test connection prove it: a token the old secret
obtained is not reused to say "Succeeded"."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from connections.library.forms import ConnectionForm
from connections.models import ConnectionToken
from tests.factories import token_requests

pytestmark = pytest.mark.django_db(transaction=True)


def edit_data(connection: Any, **changes: Any) -> dict[str, Any]:
    """The edit form as the page sends it back, unchanged but for ``changes``."""
    data = {name: getattr(connection, name) for name in ConnectionForm.Meta.fields if name != "team"}
    data.update(team=connection.team_id, secret_expires_on="", client_secret="", redirect_url="")
    data.update(changes)
    return data


def test_test_connection_after_a_wrong_secret_was_saved_fails(
    clean_sandbox, sandbox_connection, team_a, admin_a, login, run_job
):
    connection = sandbox_connection(team_a)
    client = login(admin_a)
    assert run_job(client, connection, "test").state == "succeeded"
    assert ConnectionToken.objects.get(connection=connection).is_valid

    response = client.post(
        reverse("connections:edit", args=[connection.pk]),
        edit_data(connection, client_secret="Wr0ng~secret-value_abcdefghijklmnopq"),
    )
    assert response.status_code == 302, response.context["form"].errors

    job = run_job(client, connection, "test")
    assert job.state == "failed", job.result
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 2  # the new secret was tried
    assert "AADSTS7000215" in str(job.result) or "secret" in str(job.result).lower()


def test_an_edit_that_keeps_the_credential_keeps_the_token(
    clean_sandbox, sandbox_connection, team_a, admin_a, login, run_job
):
    connection = sandbox_connection(team_a)
    client = login(admin_a)
    assert run_job(client, connection, "test").state == "succeeded"

    response = client.post(reverse("connections:edit", args=[connection.pk]), edit_data(connection, name="Renamed"))
    assert response.status_code == 302, response.context["form"].errors

    assert run_job(client, connection, "test").state == "succeeded"
    assert token_requests(clean_sandbox, clean_sandbox.client_id) == 1
