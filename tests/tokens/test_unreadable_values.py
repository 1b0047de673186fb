"""Values no configured key decrypts (a key removed before rotating) never crash a job: the
cached token keeps working, an unreadable token is fetched anew, and an unreadable secret is
explained ("re-enter it") without anything being sent."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from connections.encryption.fields import Ciphertext
from connections.models import Connection, ConnectionToken, TokenFetch

pytestmark = pytest.mark.django_db(transaction=True)


def foreign_ciphertext(text: str) -> Ciphertext:
    """Encrypted under a key the dashboard does not have."""
    return Ciphertext(Fernet(Fernet.generate_key()).encrypt(text.encode()).decode())


@pytest.fixture
def users_connection(clean_sandbox, sandbox_app, sandbox_connection, team_a):
    app = sandbox_app(roles=["User.Read.All", "Application.Read.All"])
    return sandbox_connection(team_a, app, name="users", entity="users")


def test_an_unreadable_secret_with_a_cached_token_still_tests_fine(users_connection, operator_a, login, run_job):
    client = login(operator_a)
    assert run_job(client, users_connection, "token_fetch").state == "succeeded"
    Connection.objects.filter(pk=users_connection.pk).update(client_secret=foreign_ciphertext("old secret"))

    job = run_job(client, users_connection, "test")

    assert job.state == "succeeded", job.error
    assert job.result["status"] == 200
    # the grants could not be re-read without the secret's hint: the last known ones stay
    assert ConnectionToken.objects.get(connection=users_connection).granted == ["Application.Read.All", "User.Read.All"]


def test_an_unreadable_token_is_fetched_anew(users_connection, operator_a, login, run_job):
    client = login(operator_a)
    assert run_job(client, users_connection, "token_fetch").state == "succeeded"
    ConnectionToken.objects.filter(pk=users_connection.pk).update(access_token=foreign_ciphertext("eyJold"))
    fetches = TokenFetch.objects.filter(connection=users_connection).count()

    job = run_job(client, users_connection, "test")

    assert job.state == "succeeded", job.error
    assert TokenFetch.objects.filter(connection=users_connection).count() == fetches + 1


def test_unreadable_secret_and_token_are_explained(clean_sandbox, users_connection, operator_a, login, run_job):
    client = login(operator_a)
    assert run_job(client, users_connection, "token_fetch").state == "succeeded"
    Connection.objects.filter(pk=users_connection.pk).update(client_secret=foreign_ciphertext("old secret"))
    ConnectionToken.objects.filter(pk=users_connection.pk).update(access_token=foreign_ciphertext("eyJold"))
    clean_sandbox.control.delete("/_sandbox/requests")

    job = run_job(client, users_connection, "test")

    assert job.state == "failed"
    assert job.result["diagnosis"]["key"] == "token.secret_unreadable"
    assert (
        "re-enter" in " ".join(step["text"] for step in job.result["diagnosis"]["steps"]).lower()
        or "enter the client secret again" in job.result["diagnosis"]["steps"][0]["text"]
    )
    assert clean_sandbox.control.get("/_sandbox/requests")["token_requests"] == {}  # nothing was sent


def test_a_token_job_whose_connection_is_deleted_meanwhile_ends_quietly(clean_sandbox, users_connection):
    """The task body runs after the connection (and its job) were deleted: no crash, no rows."""
    from connections import tasks
    from connections.models import Job

    job = Job.objects.create(kind="token_fetch", connection=users_connection)
    connection_id = str(users_connection.pk)
    Connection.objects.filter(pk=connection_id).delete()

    assert tasks.fetch_token.run(str(job.pk), connection_id) == {"ok": False}
    assert tasks.test_connection.run(str(job.pk), connection_id) == {"ok": False}
    assert not TokenFetch.objects.exists()


def test_a_connection_deleted_while_its_token_job_runs_ends_quietly(clean_sandbox, users_connection, monkeypatch):
    from connections import tasks
    from connections.models import Job

    job = Job.objects.create(kind="token_fetch", connection=users_connection)
    connection_id = str(users_connection.pk)

    def delete_then_answer(job_id):  # the connection goes away right before the token request
        Connection.objects.filter(pk=connection_id).delete()

    monkeypatch.setattr(tasks, "_user", delete_then_answer)
    assert tasks.fetch_token.run(str(job.pk), connection_id) == {"ok": False, "deleted": True}
    assert not ConnectionToken.objects.exists() and not TokenFetch.objects.exists()
