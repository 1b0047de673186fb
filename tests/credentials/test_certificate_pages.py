"""The certificate upload page: PEM (one or two files) or PKCS#12, every bad upload a field error and
nothing saved, facts shown, key never shown; roles; the wrong-audience diagnosis; log redaction."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from connections import credentials, tokens
from connections.models import ConnectionCertificate
from connections.policy import outbound_policy
from graphconn.redaction import redact
from microsoft import certificates, diagnoses, outbound, tokenclient
from tests.cast import make_connection
from tests.factories import make_cert, make_sandbox_app

pytestmark = pytest.mark.django_db

# A throwaway SM2 certificate and key (openssl ecparam -name SM2): a key type the library cannot read.
SM2_CERT = """-----BEGIN CERTIFICATE-----
MIIBcTCCARegAwIBAgIUZtOO8324Vfhg8ZpielrpWwm9WZcwCgYIKoEcz1UBg3Uw
DjEMMAoGA1UEAwwDc20yMB4XDTI2MTIwMTIzNDg1MVoXDTI2MTIzMTIzNDg1MVow
DjEMMAoGA1UEAwwDc20yMFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEjkGFDauf
BnJG27+BBD3gfD6Kmme+7Csd5477HWL5sBIamsrsQ4CshoEDSckwFhPRADiSxCRB
4BDTJuuNSu0KBKNTMFEwHQYDVR0OBBYEFKfcpM0GlJSsHsroDrYZzYV3JQ2BMB8G
A1UdIwQYMBaAFKfcpM0GlJSsHsroDrYZzYV3JQ2BMA8GA1UdEwEB/wQFMAMBAf8w
CgYIKoEcz1UBg3UDSAAwRQIhAMvjmv+MXrWBEp9KnGofBtNM0tl6vjDc9aVsx4nS
JfGGAiAIajmuoDz7Uj/iuv7/1Sf5MiMLiaJAdZ54/GFCbzIgvQ==
-----END CERTIFICATE-----
"""
SM2_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgpivKfbS3pKmUvGzs
Iytzr4/g9kFYpFptzQb+qLdt1p6hRANCAASOQYUNq58Gckbbv4EEPeB8PoqaZ77s
Kx3njvsdYvmwEhqayuxDgKyGgQNJyTAWE9EAOJLEJEHgENMm641K7QoE
-----END PRIVATE KEY-----
"""


def upload(client, connection, **files):
    data = {"assertion_form": files.pop("assertion_form", "PS256"), "pkcs12_password": files.pop("password", "")}
    data.update({name: SimpleUploadedFile(f"{name}.bin", content) for name, content in files.items()})
    return client.post(reverse("connections:certificate", args=[connection.pk]), data)


def test_pem_in_one_file_or_two_and_pkcs12_are_accepted(login, admin_a, team_a):
    cert = make_cert(cn="upload forms")
    conn = make_connection(team_a, "certs")
    client = login(admin_a)
    for files in (
        {"certificate_file": cert.cert_pem + cert.key_pem},
        {"certificate_file": cert.cert_pem, "private_key_file": cert.key_pem, "assertion_form": "RS256"},
        {"pkcs12_file": cert.pkcs12("s3cret-pfx"), "password": "s3cret-pfx"},
    ):
        response = upload(client, conn, **files)
        assert response.status_code == 302, response.content.decode()[:1500]
    saved = ConnectionCertificate.objects.get(connection=conn)
    conn.refresh_from_db()
    assert conn.credential_type == "certificate" and saved.thumbprint_sha1 == cert.thumbprint
    page = client.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    for fact in ("CN=upload forms", cert.thumbprint, saved.thumbprint_sha256, f"{saved.not_after:%Y-%m-%d}"):
        assert fact in page
    assert "PRIVATE KEY" not in page and "s3cret-pfx" not in page


@pytest.mark.parametrize(
    "files,field,words",
    [
        ({"pkcs12_file": b"not a pfx", "password": "x"}, "pkcs12_password", "password is wrong"),
        ({"certificate_file": b"hello"}, "certificate_file", "not an X.509 certificate"),
        ({"certificate_file": "cert"}, "certificate_file", "No private key found"),
        ({"certificate_file": "cert", "private_key_file": "other key"}, "private_key_file", "does not belong"),
        ({}, "certificate_file", "Upload the certificate"),
        ({"certificate_file": b"x" * (certificates.MAX_UPLOAD_BYTES + 1)}, "certificate_file", "too large"),
        ({"certificate_file": "expired cert"}, "certificate_file", "This certificate expired on"),
        ({"certificate_file": "sm2 both"}, "certificate_file", "Only RSA keys"),
        ({"certificate_file": "sm2 cert", "private_key_file": "sm2 key"}, "private_key_file", "Only RSA keys"),
        ({"certificate_file": "sm2 cert", "private_key_file": "other key"}, "certificate_file", "Only RSA keys"),
    ],
)
def test_a_bad_upload_is_a_field_error_and_saves_nothing(login, admin_a, team_a, files, field, words):
    cert, other, expired = make_cert(), make_cert(key_index=1), make_cert(days=-1)
    parts = {
        "cert": cert.cert_pem,
        "other key": other.key_pem,
        "expired cert": expired.cert_pem + expired.key_pem,
        "sm2 both": (SM2_CERT + SM2_KEY).encode(),
        "sm2 cert": SM2_CERT.encode(),
        "sm2 key": SM2_KEY.encode(),
    }
    files = {k: parts.get(v, v) if isinstance(v, str) and k != "password" else v for k, v in files.items()}
    conn = make_connection(team_a, "bad uploads")
    response = upload(login(admin_a), conn, **files)
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors.get(field, [])), response.context["form"].errors
    assert not ConnectionCertificate.objects.exists()
    conn.refresh_from_db()
    assert conn.credential_type == "secret"


def test_only_admins_upload_and_switch_back(login, admin_a, operator_a, viewer_a, team_a):
    cert = make_cert()
    conn = make_connection(team_a, "roles")
    for user in (operator_a, viewer_a):
        assert login(user).get(reverse("connections:certificate", args=[conn.pk])).status_code == 403
        assert upload(login(user), conn, certificate_file=cert.cert_pem + cert.key_pem).status_code == 403
    client = login(admin_a)
    assert upload(client, conn, certificate_file=cert.cert_pem + cert.key_pem).status_code == 302
    viewer_page = login(viewer_a).get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert cert.thumbprint in viewer_page and reverse("connections:certificate", args=[conn.pk]) not in viewer_page

    assert login(viewer_a).post(reverse("connections:use_secret", args=[conn.pk])).status_code == 403
    assert client.post(reverse("connections:use_secret", args=[conn.pk])).status_code == 302
    conn.refresh_from_db()
    assert conn.credential_type == "secret" and ConnectionCertificate.objects.filter(connection=conn).exists()


def test_a_new_connection_may_start_without_a_secret_when_it_uses_a_certificate(login, admin_a, team_a):
    data = {
        "name": "cert only",
        "team": team_a.pk,
        "service_url": "https://graph.microsoft.com/v1.0",
        "entity": "users",
        "item_url": "{entity}/{key}",
        "tenant": "contoso.onmicrosoft.com",
        "token_version": "v2",
        "grant_type": "client_credentials",
        "client_id": "6731de76-14a6-49ae-97bc-6eba6914391e",
        "credential_type": "certificate",
    }
    response = login(admin_a).post(reverse("connections:new"), data)
    assert response.status_code == 302
    page = login(admin_a).get(response["Location"]).content.decode()
    assert "No certificate is uploaded" in page


def test_a_wrong_audience_is_explained(sandbox, team_a):
    """The dashboard always signs for its token URL; a proxy or copied URL can still make them differ."""
    cert = make_cert()
    sandbox.control.post("/_sandbox/reset", {})
    app = make_sandbox_app(sandbox, display_name="aud", roles=["User.Read.All"], certificate=cert)
    loaded = certificates.load(certificate=cert.cert_pem, private_key=cert.key_pem)
    assertion = certificates.client_assertion(
        private_key_pem=loaded.private_key_pem,
        thumbprint_sha1=loaded.thumbprint_sha1,
        thumbprint_sha256=loaded.thumbprint_sha256,
        client_id=app["client_id"],
        audience="https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
    )
    request = tokenclient.TokenRequest(
        token_url=sandbox.token_url(),
        client_id=app["client_id"],
        client_assertion=assertion,
        scope="https://graph.microsoft.com/.default",
    )
    with pytest.raises(tokenclient.TokenError) as refused:
        tokenclient.request_token(request, outbound_policy())
    conn = make_connection(team_a, "aud", credential_type="certificate", token_url=sandbox.token_url())
    diagnosis = diagnoses.diagnose_token_error(refused.value, tokens.context_for(conn))
    assert diagnosis.key == "token.assertion_audience"
    assert "edit_connection" in [step.action for step in diagnosis.steps]


def test_a_private_key_in_a_log_message_is_redacted():
    key = make_cert().key_pem.decode()
    assert redact(f"loaded {key} from upload") == "loaded [redacted]\n from upload"


def test_a_private_key_no_configured_key_decrypts_is_explained_and_nothing_is_sent(team_a, settings):
    cert = make_cert()
    conn = make_connection(team_a, "unreadable key", credential_type="certificate")
    credentials.save_certificate(
        conn, certificates.load(certificate=cert.cert_pem, private_key=cert.key_pem), "PS256", None
    )
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    conn = type(conn).objects.get(pk=conn.pk)
    outcome = tokens.fetch_token(conn, force=True)
    assert not outcome.ok and outcome.diagnosis.key == "token.certificate_key_unreadable"
    assert "ConnectionCertificate" in dict(outcome.diagnosis.evidence)["Where"]
