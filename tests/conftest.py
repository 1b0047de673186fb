"""Shared fixtures: the cast (tests/cast.py), the factories (tests/factories.py: sandbox apps and
connections, runs, the buttons), the Graph sandbox, the broker and a real worker."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.worker import WorkerProcess, test_database_url

# The cast's fixtures (teams, users per role, connections, login) and the factories' (sandbox apps
# and connections, run_job, wait_for_run, receiver, ...), for every test package.
pytest_plugins = ["tests.cast", "tests.factories"]

# A diagnosis whose steps offer an action its registered kind does not declare raises (here and in
# the worker, which inherits the environment).
os.environ["DIAGNOSES_STRICT"] = "1"


@pytest.fixture(scope="session", autouse=True)
def broker_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Points the tests' producer and the worker at a broker of their own for this session.

    Filesystem broker: a fresh folder. Redis: the configured server with a queue and key
    prefix unique to this run, so parallel runs and leftovers never mix. Autouse, so no test can
    queue a task on the default broker before the session's broker is set.
    """
    from graphconn.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = tmp_path_factory.mktemp("broker")
        options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.1,
        }
        for key in ("data_folder_in", "processed_folder", "control_folder"):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
        app.conf.broker_transport_options = options
        throttle_store = _own_throttle_budget(str(folder / "throttle.sqlite3"), "")
        return {"CELERY_BROKER_URL": "filesystem://", "BROKER_DIR": str(folder), **throttle_store}
    run = uuid.uuid4().hex[:8]
    queue, prefix = f"graphconn-test-{run}", f"graphconn-test-{run}:"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    app.conf.task_default_queue = queue
    options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": prefix}
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    app.conf.broker_transport_options = options
    throttle_store = _own_throttle_budget("", f"{prefix}throttle:")
    return {
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_QUEUE": queue,
        "CELERY_KEY_PREFIX": prefix,
        **throttle_store,
    }


def _own_throttle_budget(store: str, prefix: str) -> dict[str, str]:
    """This session's Graph throttle budget (a file of its own, or its own Redis keys), shared by the
    tests and their worker, so parallel runs never draw from each other's budget."""
    from connections import throttle

    settings.GRAPH_THROTTLE_STORE = store
    settings.GRAPH_THROTTLE_PREFIX = prefix or settings.GRAPH_THROTTLE_PREFIX
    throttle.configure()
    return {"GRAPH_THROTTLE_STORE": store, "GRAPH_THROTTLE_PREFIX": settings.GRAPH_THROTTLE_PREFIX}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    """The Graph/Entra ID sandbox over HTTPS in a subprocess; the dashboard trusts and allows it."""
    from graphsandbox.testing import start_sandbox

    running = start_sandbox(users=250, groups=30, seed=7)
    host = urlsplit(running.base_url)
    settings.GRAPH_SANDBOX_URL = running.base_url
    settings.GRAPH_CA_BUNDLE = running.ca_path
    settings.APP_PERMISSIONS_URL_TEMPLATE = running.portal_url
    settings.GRAPH_ALLOWED_HOSTS = [*settings.GRAPH_ALLOWED_HOSTS, f"{host.hostname}:{host.port}"]
    yield running
    running.stop()


@pytest.fixture
def clean_sandbox(sandbox):
    """The sandbox back in its start state (apps, grants, directory, faults, request log)."""
    sandbox.control.post("/_sandbox/reset", {})
    return sandbox


@pytest.fixture(scope="session")
def webhook_receiver(sandbox) -> Iterator[object]:
    """A local HTTPS receiver for alert webhooks (tests/receiver.py), allowed as a webhook host."""
    from tests.receiver import WebhookReceiver

    receiver = WebhookReceiver(sandbox.state_dir)
    settings.ALERT_WEBHOOK_HOSTS = [*settings.ALERT_WEBHOOK_HOSTS, receiver.host]
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def worker_mail_dir(tmp_path_factory) -> Path:
    """Where the worker's email backend writes mails (a file each), for tests to read."""
    return tmp_path_factory.mktemp("worker-mail")


@pytest.fixture(scope="session")
def live_worker(
    django_db_setup, django_db_blocker, sandbox, broker_env, tmp_path_factory, webhook_receiver, worker_mail_dir
) -> Iterator[WorkerProcess]:
    """One real Celery worker process for the session, on the test database and broker."""
    env = {
        **os.environ,
        **broker_env,
        "DATABASE_URL": test_database_url(),
        "GRAPH_SANDBOX_URL": sandbox.base_url,
        "GRAPH_CA_BUNDLE": sandbox.ca_path,
        "APP_PERMISSIONS_URL_TEMPLATE": sandbox.portal_url,
        "WORKER_HEARTBEAT_SECONDS": "1",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
        "ALERT_WEBHOOK_HOSTS": ",".join(settings.ALERT_WEBHOOK_HOSTS),
        "EMAIL_URL": "filemail://",
        "EMAIL_FILE_PATH": str(worker_mail_dir),
    }
    worker = WorkerProcess(env, tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    with django_db_blocker.unblock():
        worker.wait_ready()
    yield worker
    worker.stop()


@pytest.fixture
def wait_for_job():
    """Polls a Job until it finishes (the way the status pages do) and returns it."""
    from connections.models import Job

    def wait(job_id, timeout: float = 60) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = Job.objects.get(pk=job_id)
            if job.is_finished:
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} still {Job.objects.get(pk=job_id).state} after {timeout} s")

    return wait
