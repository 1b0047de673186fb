"""Certificate credentials (private_key_jwt): tokens from the sandbox with both assertion forms, Entra's
refusals explained, and the private key never shown, logged, audited or stored in plain text."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import connection as db
from django.urls import reverse
from django.utils.html import escape

from connections import credentials, tokens
from connections.models import AuditEntry, ConnectionCertificate, ConnectionToken
from microsoft import certificates
from tests.factories import CALLBACK, GRAPH, SIGN_IN_SCOPES, answer_entra_page, make_cert, start_sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _header(assertion: str) -> dict:
    part = assertion.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def certificate_connection(
    sandbox,
    sandbox_app,
    sandbox_connection,
    team,
    cert,
    *,
    form="PS256",
    register=True,
    name="cert users",
    version="v2",
):
    app = sandbox_app(roles=["User.Read.All", "Application.Read.All"], certificate=cert if register else None)
    # No secret to fall back on: the assertion alone must do.
    conn = sandbox_connection(team, app, name=name, certificate=cert, assertion_form=form, version=version)
    return conn, app


@pytest.mark.parametrize(
    "form,header,version", [("PS256", "x5t#S256", "v2"), ("RS256", "x5t", "v2"), ("RS256", "x5t", "v1")]
)
def test_a_certificate_connection_gets_a_token_with_either_assertion_form(
    form, header, version, clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, run_job
):
    cert = make_cert()
    conn, app = certificate_connection(
        clean_sandbox, sandbox_app, sandbox_connection, team_a, cert, form=form, version=version
    )
    assertion = credentials.assertion_for(conn)
    assert _header(assertion)["alg"] == form and header in _header(assertion)
    assert set(_header(assertion)) == {"alg", "typ", header}

    job = run_job(login(operator_a), conn, "token_fetch")

    assert job.state == "succeeded", job.result
    token = ConnectionToken.objects.get(connection=conn)
    assert token.is_valid and token.claims["app_id"] == app["client_id"]
    page = login(operator_a).get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert cert.thumbprint in page and "CN=graphconn test" in page
    # Entra's list of the app's credentials was read after the fetch, the certificate matched as in use.
    assert "used by this connection" in page and "Certificate" in page


@pytest.mark.parametrize(
    "case,key",
    [
        ("unknown", "token.certificate_unknown"),
        ("wrong_key", "token.certificate_wrong_key"),
        ("clock", "token.assertion_time"),
    ],
)
def test_entras_refusals_of_an_assertion_are_explained(
    case, key, clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login, run_job
):
    cert = make_cert()
    conn, _ = certificate_connection(
        clean_sandbox, sandbox_app, sandbox_connection, team_a, cert, register=case != "unknown"
    )
    if case == "wrong_key":  # the saved key belongs to another certificate (an old key kept after a renewal)
        other = make_cert(key_index=1)
        ConnectionCertificate.objects.filter(connection=conn).update(private_key=other.key_pem.decode())
    if case == "clock":  # Entra's clock (or ours) is an hour off: the assertion is outside its time range
        clean_sandbox.control.post("/_sandbox/settings", {"clock_offset_seconds": 3600})

    job = run_job(login(operator_a), conn, "token_fetch")

    assert job.state == "failed"
    diagnosis = job.result["diagnosis"]
    assert diagnosis["key"] == key, diagnosis
    page = login(operator_a).get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert escape(diagnosis["title"]) in page
    codes = {"unknown": "AADSTS700027", "wrong_key": "AADSTS700027", "clock": "AADSTS700024"}
    assert codes[case] in page
    if case == "unknown":
        assert escape("upload this connection's certificate") in page


def test_the_private_key_is_never_shown_logged_audited_or_stored_in_plain_text(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, run_job, live_worker
):
    cert = make_cert(cn="leak check")
    app = sandbox_app(roles=["User.Read.All"], certificate=cert)
    conn = sandbox_connection(team_a, app, name="leak check", credential="certificate")
    client = login(admin_a)
    p12 = cert.pkcs12("pfx-password-123")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        reverse("connections:certificate", args=[conn.pk]),
        {
            "pkcs12_file": SimpleUploadedFile("cert.pfx", p12),
            "pkcs12_password": "pfx-password-123",
            "assertion_form": "PS256",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = run_job(client, conn, "token_fetch")
    assert job.state == "succeeded", job.result

    key_body = "".join(cert.key_pem.decode().splitlines()[1:-1])
    fragments = [key_body[:40], key_body[200:240], "pfx-password-123"]
    pages = [
        client.get(reverse(name, args=[conn.pk])).content.decode()
        for name in ("connections:detail", "connections:certificate", "connections:edit")
    ]
    with db.cursor() as cursor:
        cursor.execute("SELECT private_key FROM connections_connectioncertificate")
        stored = " ".join(row[0] for row in cursor.fetchall())
    audit = " ".join(f"{e.detail} {e.fields} {e.changes}" for e in AuditEntry.objects.all())
    log = live_worker.log_path.read_text(errors="replace")
    for fragment in fragments:
        assert fragment not in stored
        assert all(fragment not in page for page in pages)
        assert fragment not in audit
        assert fragment not in log
    assert stored and ConnectionCertificate.objects.get(connection=conn).private_key.startswith(
        "-----BEGIN PRIVATE KEY"
    )
    assert AuditEntry.objects.filter(action="certificate_uploaded", connection=conn).exists()


def test_sign_in_with_microsoft_redeems_the_code_with_a_certificate(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login
):
    cert = make_cert()
    app = sandbox_app(redirect_uris=[CALLBACK], scopes=SIGN_IN_SCOPES, certificate=cert)
    conn = sandbox_connection(
        team_a,
        app,
        delegated=True,
        name="cert sign-in",
        scope=f"{GRAPH}/User.Read",
        entity="me",
        credential="certificate",
    )
    client = login(operator_a)
    without = client.get(answer_entra_page(clean_sandbox, start_sign_in(client, conn)))  # no certificate uploaded yet
    assert without.status_code == 302
    assert ConnectionToken.objects.get(connection=conn).error["key"] == "token.certificate_missing"

    credentials.save_certificate(
        conn, certificates.load(certificate=cert.cert_pem, private_key=cert.key_pem), "PS256", None
    )
    done = client.get(answer_entra_page(clean_sandbox, start_sign_in(client, conn)))

    assert done.status_code == 302
    token = ConnectionToken.objects.get(connection=conn)
    assert token.is_valid and token.kind == "delegated" and token.refresh_token
    refreshed = tokens.fetch_token(conn, force=True, reason="refresh")  # refresh_token grant, signed too
    assert refreshed.ok, refreshed.diagnosis
