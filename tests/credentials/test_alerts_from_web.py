"""Alerts raised inside a web request reach the team's channels: the production web server
(gunicorn, which never registers a Celery task) records each alert, hands it to the broker by name,
and the worker delivers it to the local webhook receiver. The alert kinds a web request can raise:
a sign-in that fails or works again (token), and a certificate upload or switch (credential).
Sync and delta alerts are raised by the worker and beat only."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.urls import reverse

from connections.models import Alert
from tests.factories import GRAPH, SIGN_IN_SCOPES, add_channels, make_cert, wait_until
from tests.web import Browser, WebProcess, web_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def web(sandbox, broker_env, live_worker, django_db_blocker, tmp_path_factory) -> Iterator[WebProcess]:
    server = WebProcess(web_env(sandbox, broker_env), tmp_path_factory.mktemp("web") / "gunicorn.log")
    with django_db_blocker.unblock():
        server.start()
    yield server
    server.stop()


def entra_answer(sandbox, url: str, action: str) -> str:
    """A person on the sandbox's sign-in page (first account, ``action``); where Entra sends the browser."""
    http = sandbox.session()
    page = http.get(url, timeout=30)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    form = {k: v.replace("&amp;", "&").replace("&#x27;", "'") for k, v in form.items()}
    users = re.findall(r'name="user" value="([^"]+)"', page.text)
    if users:
        form["user"] = users[0]
    answer = http.post(url.split("?")[0], data={**form, "action": action}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:300]
    return answer.headers["Location"]


def sign_in(browser: Browser, sandbox, connection, action: str = "accept", code: str | None = None) -> str:
    """Sign in with Microsoft on the web server; ``code`` replaces the code Entra returned (a
    stale or forged one: Entra answers invalid_grant). The page the browser lands on."""
    page = reverse("connections:detail", args=[connection.pk])
    started = browser.post_form(page, {}, to=reverse("connections:oauth_start", args=[connection.pk]))
    assert started.status_code == 302, started.text[:500]
    callback = entra_answer(sandbox, started.headers["Location"], action)
    assert callback.startswith(browser.web.callback)
    if code is not None:
        query = dict(parse_qsl(urlsplit(callback).query))
        callback = f"{browser.web.callback}?{urlencode({**query, 'code': code})}"
    landed = browser.get(callback)
    assert landed.status_code == 200, landed.text[:500]
    return landed.text


def upload_certificate(browser: Browser, connection, cert) -> None:
    page = reverse("connections:certificate", args=[connection.pk])
    response = browser.post_form(
        page, {"assertion_form": "PS256"}, files={"certificate_file": ("both.pem", cert.cert_pem + cert.key_pem)}
    )
    assert response.status_code == 302, response.text[:1500]


def delivered(receiver, count: int) -> list[str]:
    """The events the webhook received, once ``count`` arrived (the worker delivers them)."""
    hooks = receiver.wait_for(count)
    assert len(hooks) >= count, [h["json"] for h in hooks]
    return [h["json"]["event"] for h in hooks]


def test_every_alert_a_web_request_raises_reaches_the_webhook(
    web, clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, receiver
):
    add_channels(login(admin_a), team_a, receiver, kind="webhook")
    app = sandbox_app(redirect_uris=[web.callback], scopes=SIGN_IN_SCOPES)
    connection = sandbox_connection(
        team_a,
        app,
        delegated=True,
        name="signed-in reader",
        scope=f"{GRAPH}/User.Read",
        entity="me",
        redirect_url=web.callback,
    )
    browser = web.browser(admin_a)

    assert "Signed in as" in sign_in(browser, clean_sandbox, connection)  # a first success alerts nothing
    sign_in(browser, clean_sandbox, connection, code="a-code-entra-never-issued")  # invalid_grant
    assert delivered(receiver, 1) == ["token_failed"]
    sign_in(browser, clean_sandbox, connection, action="cancel")  # still failing: no second alert
    assert "Signed in as" in sign_in(browser, clean_sandbox, connection)
    assert delivered(receiver, 2) == ["token_failed", "token_recovered"]

    upload_certificate(browser, connection, make_cert(cn="ends soon", days=5))
    assert delivered(receiver, 3)[2] == "credential_7"
    upload_certificate(browser, connection, make_cert(cn="renewed", days=365, key_index=1))
    assert delivered(receiver, 4)[3] == "credential_renewed"

    alerts = Alert.objects.filter(connection=connection).order_by("created_at")
    assert [a.event for a in alerts] == ["token_failed", "token_recovered", "credential_7", "credential_renewed"]
    assert all(a.sent_at is not None and a.send_failures == 0 for a in alerts)
    wait_until(lambda: len(receiver.received) == 4)  # and each once
