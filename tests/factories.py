"""Factories and helpers every test package shares: apps in the sandbox tenant, connections pointing at
the sandbox (v1/v2, client secret or certificate, client-credentials or authorization-code), self-signed
certificates, published sync runs, tokens, schedules and alert channels; and the few things tests do the
way a person does (press a button, answer Entra's sign-in or consent page, add alert channels on the page).

Plain functions take keyword arguments; the fixtures (``sandbox_app``, ``sandbox_connection``,
``run_job``, ``wait_for_run``, ``sync_inline``, ``cert_factory``, ``receiver``) reach every package
through ``pytest_plugins`` in tests/conftest.py. The cast (teams, users per role, the two plain connections) is in
tests/cast.py.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.test import Client
from django.urls import reverse

from tests.cast import make_connection

GRAPH = "https://graph.microsoft.com"
CALLBACK = "http://testserver/connections/oauth/callback"
SIGN_IN_SCOPES = ["User.Read", "offline_access", "openid", "profile"]  # what a sign-in app is consented for
JOB_ID = re.compile(r'id="job-([0-9a-f-]{36})"')
RUN_ID = re.compile(r'data-run="([0-9a-f-]{36})"')


# Certificates ----------------------------------------------------------------------------------

# One key per test session: RSA key generation is the slow part.
_KEYS: list[rsa.RSAPrivateKey] = []


def _key(index: int) -> rsa.RSAPrivateKey:
    while len(_KEYS) <= index:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[index]


@dataclass(frozen=True)
class Cert:
    cert_pem: bytes
    key_pem: bytes
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def thumbprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()

    def pkcs12(self, password: str) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            b"graphconn", self.key, self.certificate, None, serialization.BestAvailableEncryption(password.encode())
        )


def make_cert(cn: str = "graphconn test", days: int = 365, key_index: int = 0) -> Cert:
    """A self-signed certificate for ``CN=cn``, valid from yesterday for ``days`` days."""
    key = _key(key_index)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Cert(cert.public_bytes(serialization.Encoding.PEM), key_pem, key, cert)


# The sandbox tenant ----------------------------------------------------------------------------


def make_sandbox_app(sandbox: Any, *, certificate: Cert | None = None, **fields: Any) -> dict[str, Any]:
    """A new app registration in the sandbox tenant (``roles=[...]``, ``requested_roles=[...]``,
    ``redirect_uris=[...]``, ``scopes=[...]``, ``secret_expires=...``, ``display_name=...``); its ids
    and secret. ``certificate``: that certificate is registered on the app too."""
    app = sandbox.control.post("/_sandbox/apps", {"display_name": "graphconn test app", **fields})
    if certificate is not None:
        sandbox.control.post(
            f"/_sandbox/apps/{app['client_id']}/certificates", {"certificate": certificate.cert_pem.decode()}
        )
    return app


def make_sandbox_connection(
    sandbox: Any,
    team: Any,
    app: dict[str, Any] | None = None,
    *,
    version: str = "v2",
    delegated: bool = False,
    name: str = "sandbox users",
    secret: str | None = None,
    credential: str = "secret",
    certificate: Cert | None = None,
    assertion_form: str = "PS256",
    **fields: Any,
) -> Any:
    """A saved profile on ``sandbox``'s tenant for ``app`` (a ``make_sandbox_app`` answer; None: the
    sandbox's demo app, User.Read.All).

    ``version``: "v2" (scope) or "v1" (resource) token endpoint; ``delegated``: authorization code
    instead of client credentials; ``secret``: another client secret than the app's. ``credential=
    "certificate"``: no client secret at all (the assertion alone must do); ``certificate``: that one
    uploaded to the connection (implies ``credential="certificate"``, with ``assertion_form``). Other
    keywords are Connection fields.
    """
    v2 = version == "v2"
    if certificate is not None:
        credential = "certificate"
    if credential == "certificate":
        secret = ""
    elif not secret:
        secret = app["client_secret"] if app else sandbox.client_secret
    base = f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/{'v2.0/' if v2 else ''}"
    values: dict[str, Any] = {
        "tenant": sandbox.tenant_id,
        "client_id": app["client_id"] if app else sandbox.client_id,
        "service_url": sandbox.graph_url,
        "credential_type": credential,
        "token_version": version,
        "token_url": base + "token",
        "authorize_url": base + "authorize",
        "scope": f"{GRAPH}/.default" if v2 else "",
        "resource": "" if v2 else GRAPH,
        "grant_type": "authorization_code" if delegated else "client_credentials",
        "redirect_url": CALLBACK,
        "entity": "users",
        **fields,
    }
    connection = make_connection(team, name, secret=secret, **values)
    if certificate is not None:
        from connections import credentials
        from microsoft import certificates

        credentials.save_certificate(
            connection,
            certificates.load(certificate=certificate.cert_pem, private_key=certificate.key_pem),
            assertion_form,
            None,
        )
    return connection


def sandbox_listing(sandbox: Any, entity: str = "users", **params: str) -> list[dict[str, Any]]:
    """Every item of ``entity`` as the sandbox itself lists it (demo token with every directory role)."""
    app = sandbox.control.post("/_sandbox/apps", {"display_name": "lister", "roles": ["Directory.Read.All"]})
    session = sandbox.session()
    session.headers["Authorization"] = f"Bearer {sandbox.token(app['client_id'], app['client_secret'])}"
    items: list[dict[str, Any]] = []
    url: str | None = f"{sandbox.graph_url}/{entity}"
    query: dict[str, str] | None = {"$top": "999", **params}
    while url:
        body = session.get(url, params=query, timeout=10).json()
        items += body["value"]
        url, query = body.get("@odata.nextLink"), None
    return items


def token_requests(sandbox: Any, client_id: str) -> int:
    """How many token requests the sandbox has answered for ``client_id`` since the last reset."""
    return int(sandbox.control.get("/_sandbox/requests")["token_requests"].get(client_id, 0))


def answer_entra_page(sandbox: Any, url: str, action: str = "accept") -> str:
    """What a person does on the sandbox's sign-in or admin-consent page at ``url``: submit the form
    with ``action`` (picking the first account listed, when the page asks for one); the path of the
    callback the browser is sent back to."""
    http = sandbox.session()
    page = http.get(url, timeout=30)
    assert page.status_code == 200, page.text[:300]
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    form = {k: v.replace("&amp;", "&").replace("&#x27;", "'") for k, v in form.items()}
    users = re.findall(r'name="user" value="([^"]+)"', page.text)
    if users:
        form["user"] = users[0]
    answer = http.post(url.split("?")[0], data={**form, "action": action}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:300]
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK)
    return location.removeprefix("http://testserver")


# Rows ------------------------------------------------------------------------------------------


def make_published_run(connection: Any, items: dict[str, dict[str, Any]], **fields: Any) -> Any:
    """A succeeded run of ``connection`` whose snapshot is ``items`` (key → item), written the way
    the sync store publishes: the stream's next sequence number and one version per item."""
    from connections.models import SyncRun, SyncVersion
    from connections.syncs import store

    run = SyncRun.objects.create(
        connection=connection,
        entity=fields.pop("entity", "users"),
        status="succeeded",
        rows=len(items),
        pages=1,
        **fields,
    )
    seq = (
        SyncRun.objects.filter(stream=run.stream)
        .exclude(seq=None)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
        or 0
    ) + 1
    SyncRun.objects.filter(pk=run.pk).update(seq=seq)
    run.seq = seq
    SyncVersion.objects.filter(stream=run.stream, valid_to=None).update(valid_to=seq)
    SyncVersion.objects.bulk_create(
        SyncVersion(stream=run.stream, key=key, valid_from=seq, data=item, digest=store.digest(item))
        for key, item in items.items()
    )
    return run


def make_run(connection: Any, **fields: Any) -> Any:
    """A sync run row of ``connection`` as given (``status=``, ``entity=``, ``rows=``, times…), nothing published."""
    from connections.models import SyncRun

    return SyncRun.objects.create(connection=connection, **fields)


def make_token(connection: Any, **fields: Any) -> Any:
    """The token row of ``connection`` as given (``state=``, ``expires_at=``, ``error=``, ``granted=``…)."""
    from connections.models import ConnectionToken

    return ConnectionToken.objects.create(connection=connection, **fields)


def make_schedule(connection: Any, **fields: Any) -> Any:
    """Schedules ``connection`` as the schedule form does (``kind=``, ``every=``, ``unit=``, ``cron=``,
    ``enabled=``, ``user=``); defaults: every hour."""
    from connections.syncs import schedules

    return schedules.save(connection, **{"kind": "interval", "every": 1, "unit": "hours", **fields})


def make_channel(team: Any, **fields: Any) -> Any:
    """An alert channel of ``team`` (default: an email channel to ops@example.test)."""
    from connections.models import NotificationChannel

    values = {"name": f"channel {uuid.uuid4()}", "kind": "email", "emails": "ops@example.test", **fields}
    return NotificationChannel.objects.create(team=team, **values)


# What a person does on the pages ---------------------------------------------------------------


def press(client: Client, connection: Any, button: str) -> str:
    """Press an operator button the way the page does (htmx POST); the queued job's id."""
    response = client.post(reverse(f"connections:{button}", args=[connection.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content[:500]
    found = JOB_ID.search(response.content.decode())
    assert found, response.content[:500]
    return found.group(1)


def press_sync(client: Client, connection: Any) -> Any:
    """Press Sync now as the page does (htmx POST); the run it started."""
    from connections.models import SyncRun

    response = client.post(reverse("connections:sync_start", args=[connection.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content[:500]
    found = RUN_ID.search(response.content.decode())
    assert found, response.content[:500]
    return SyncRun.objects.get(pk=found.group(1))


def follow_button(client: Client, connection: Any, button: str) -> str:
    """Press a button that sends the browser to Entra (``oauth_start``: Sign in with Microsoft,
    ``admin_consent``: Grant admin consent); the URL it is sent to."""
    response = client.post(reverse(f"connections:{button}", args=[connection.pk]))
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def start_sign_in(client: Client, connection: Any) -> str:
    """Press Sign in with Microsoft; the authorise URL the browser is sent to."""
    return follow_button(client, connection, "oauth_start")


def start_consent(client: Client, connection: Any) -> str:
    """Press Grant admin consent; the consent URL the browser is sent to."""
    return follow_button(client, connection, "admin_consent")


def detail(client: Client, connection: Any) -> str:
    """The connection's page, as its HTML."""
    response = client.get(reverse("connections:detail", args=[connection.pk]))
    assert response.status_code == 200
    return response.content.decode()


def audit_trail(client: Client, connection: Any) -> str:
    """The connection's audit trail as the detail page reads it when its section is opened."""
    response = client.get(reverse("connections:audit_trail", args=[connection.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def add_channels(client: Client, team: Any, receiver: Any, *, kind: str = "teams") -> None:
    """Add a webhook and an email channel through the page, as a team admin does."""
    for data in (
        {"team": team.pk, "name": "Ops hook", "kind": kind, "url": receiver.url("/hook")},
        {"team": team.pk, "name": "Ops mail", "kind": "email", "emails": "ops@example.test"},
    ):
        response = client.post(reverse("connections:channel_new"), data)
        assert response.status_code == 302, response.content.decode()[:3000]


def mails(folder: Path) -> list[str]:
    """The mails the worker's file email backend wrote to ``folder``, oldest first."""
    return [p.read_text(errors="replace") for p in sorted(folder.iterdir())] if folder.exists() else []


def wait_until(
    check: Callable[[], Any],
    timeout: float = 30.0,
    every: float = 0.1,
    action: Callable[[], Any] | None = None,
    what: str = "",
) -> Any:
    """Polls ``check`` every ``every`` seconds (calling ``action`` between tries) until it answers
    something true, and returns that; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}" if what else "timed out"
        if action:
            action()
        time.sleep(every)
    return value


# Fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def sandbox_app(clean_sandbox) -> Callable[..., dict[str, Any]]:
    """``sandbox_app(roles=[...], ...)``: ``make_sandbox_app`` on the (reset) session sandbox."""

    def create(**fields: Any) -> dict[str, Any]:
        return make_sandbox_app(clean_sandbox, **fields)

    return create


@pytest.fixture
def sandbox_connection(clean_sandbox) -> Callable[..., Any]:
    """``sandbox_connection(team, app=None, version="v2", delegated=False, **fields)``:
    ``make_sandbox_connection`` on the (reset) session sandbox."""

    def create(team: Any, app: dict[str, Any] | None = None, **fields: Any) -> Any:
        return make_sandbox_connection(clean_sandbox, team, app, **fields)

    return create


@pytest.fixture
def run_job(live_worker, wait_for_job) -> Callable[..., Any]:
    """``run_job(client, connection, button)``: press, then wait until the worker finishes it."""

    def run(client: Client, connection: Any, button: str, timeout: float = 30) -> Any:
        return wait_for_job(press(client, connection, button), timeout=timeout)

    return run


@pytest.fixture
def wait_for_run(live_worker) -> Callable[..., Any]:
    """``wait_for_run(run)``: the run, once the worker has finished it."""

    def wait(run: Any, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.is_finished:
                return run
            time.sleep(0.1)
        raise TimeoutError(f"run {run.pk} still {run.status} after {timeout} s: {run.message}")

    return wait


@pytest.fixture
def sync_inline(db) -> Callable[..., Any]:
    """``sync_inline(connection, user, page_size=None)``: start a run and run it here, to the end."""
    from connections import syncs
    from connections.models import SyncRun
    from connections.syncs import runner

    def run(connection: Any, user: Any, page_size: int | None = None) -> SyncRun:
        job = syncs.start(connection, user).job
        sync_run = SyncRun.objects.get(job=job)
        runner.run_sync(connection, sync_run, str(job.pk), page_size=page_size)
        sync_run.refresh_from_db()
        return sync_run

    return run


@pytest.fixture
def cert_factory() -> Callable[..., Cert]:
    return make_cert


@pytest.fixture
def receiver(webhook_receiver, worker_mail_dir):
    """The session's webhook receiver and the worker's mail folder, both emptied before and after."""
    webhook_receiver.clear()
    for path in worker_mail_dir.iterdir():
        path.unlink()
    yield webhook_receiver
    webhook_receiver.clear()
