"""Certificates that cannot work are not taken silently: an RSA key under 2048 bits is refused with
Entra's reason, and a certificate valid only from a later date is saved with that date said — a
connection that signs in with its client secret keeps it until then."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from connections.models import Connection, ConnectionCertificate
from tests.cast import make_connection
from tests.factories import detail, make_cert

pytestmark = pytest.mark.django_db


def pem_pair(bits: int = 2048, starts_in_days: int = -1, days: int = 365) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"rsa {bits}")])
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=starts_in_days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def upload(client, connection, pem: bytes):
    return client.post(
        reverse("connections:certificate", args=[connection.pk]),
        {"assertion_form": "PS256", "certificate_file": SimpleUploadedFile("both.pem", pem)},
    )


def test_an_rsa_1024_certificate_is_refused_with_entras_reason_and_nothing_is_saved(login, admin_a, team_a):
    connection = make_connection(team_a, "short key")
    response = upload(login(admin_a), connection, pem_pair(bits=1024))

    page = response.content.decode()
    assert response.status_code == 200
    assert "RSA key size 1024 is less than the minimum required 2048 bits" in page and "AADSTS700027" in page
    assert not ConnectionCertificate.objects.filter(connection=connection).exists()
    assert Connection.objects.get(pk=connection.pk).credential_type == "secret"


def test_a_certificate_valid_only_later_keeps_the_client_secret_until_then_and_says_so(login, admin_a, team_a):
    connection = make_connection(team_a, "early certificate")
    client = login(admin_a)
    starts = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=10)).strftime("%Y-%m-%d")

    response = upload(client, connection, pem_pair(starts_in_days=10, days=40))

    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert response.status_code == 302
    assert (
        len(said) == 1
        and f"valid only from {starts}" in said[0]
        and "keeps signing in with its client secret" in said[0]
    )
    assert ConnectionCertificate.objects.filter(connection=connection).exists()
    assert Connection.objects.get(pk=connection.pk).credential_type == "secret"
    page = detail(client, connection)
    assert f"valid only from {starts}" in page and "Entra ID refuses sign-ins with it until then" in page
    assert "Use the certificate</button>" not in page  # not before it is valid
    refused = client.post(reverse("connections:use_certificate", args=[connection.pk]), follow=True)
    assert f"valid only from {starts}" in refused.content.decode()
    assert Connection.objects.get(pk=connection.pk).credential_type == "secret"


def test_a_certificate_only_connection_is_switched_and_warned_with_the_date(login, admin_a, team_a):
    connection = make_connection(team_a, "certificate only", secret="", credential_type="certificate")
    starts = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=10)).strftime("%Y-%m-%d")

    response = upload(login(admin_a), connection, pem_pair(starts_in_days=10, days=40))

    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(said) == 1 and f"valid only from {starts}" in said[0] and "cannot get a new token before that" in said[0]
    assert Connection.objects.get(pk=connection.pk).credential_type == "certificate"


def test_a_valid_certificate_saved_aside_can_be_switched_to(login, admin_a, team_a):
    from connections import credentials
    from microsoft import certificates

    connection = make_connection(team_a, "switch later")
    cert = make_cert()
    credentials.save_certificate(
        connection, certificates.load(certificate=cert.cert_pem, private_key=cert.key_pem), "PS256", None
    )
    Connection.objects.filter(pk=connection.pk).update(credential_type="secret")
    client = login(admin_a)
    assert "Use the certificate</button>" in detail(client, connection)

    client.post(reverse("connections:use_certificate", args=[connection.pk]))

    assert Connection.objects.get(pk=connection.pk).credential_type == "certificate"


def test_a_short_key_saved_before_uploads_were_checked_is_explained_when_entra_refuses_it(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, operator_a, login
):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from connections import tokens

    pem = pem_pair(bits=1024)
    cert = x509.load_pem_x509_certificate(pem)
    key = load_pem_private_key(pem[pem.index(b"-----BEGIN PRIVATE KEY") :], None)
    app = sandbox_app(roles=["User.Read.All"])
    clean_sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/certificates", {"certificate": pem.decode()})
    connection = sandbox_connection(team_a, app, certificate=make_cert())
    ConnectionCertificate.objects.filter(connection=connection).update(  # as an older release stored it
        private_key=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        thumbprint_sha1=cert.fingerprint(hashes.SHA1()).hex().upper(),
        thumbprint_sha256=cert.fingerprint(hashes.SHA256()).hex().upper(),
    )

    outcome = tokens.fetch_token(connection, force=True)

    assert not outcome.ok and outcome.diagnosis.key == "token.certificate_key_too_short"
    page = detail(login(operator_a), connection)
    assert "The certificate&#x27;s key is too short for Entra ID" in page
    assert "RSA key size 1024 is less than the minimum required 2048 bits" in page
