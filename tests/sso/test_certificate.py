"""The dashboard proves itself to Entra with a certificate instead of a client secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from connections.models import ClaimMapping, Membership
from connections.sso.config import EntraSignIn
from tests.factories import make_cert

from .conftest import ROLES


def key_file(tmp_path: Path, cert) -> str:
    path = tmp_path / "graphconn-sign-in.pem"
    path.write_bytes(cert.key_pem + cert.cert_pem)
    return str(path)


@pytest.fixture
def ada(sso_app, entra_user, team_a):
    ClaimMapping.objects.create(claim="roles", value=ROLES[0], team=team_a, role="admin")
    return entra_user("Ada Admin", role=ROLES[0], app=sso_app)


def test_sign_in_with_a_registered_certificate_and_no_secret(clean_sandbox, sso_app, ada, sign_in, settings, tmp_path):
    cert = make_cert()
    clean_sandbox.control.post(
        f"/_sandbox/apps/{sso_app['client_id']}/certificates", {"certificate": cert.cert_pem.decode()}
    )
    settings.OIDC_RP_CLIENT_SECRET = ""
    settings.OIDC_RP_CLIENT_CERTIFICATE_FILE = key_file(tmp_path, cert)

    assert sign_in(Client(), ada).status_code == 302
    assert Membership.objects.get(user__entra_identity__object_id=ada["id"]).role == "admin"


def test_a_certificate_the_app_does_not_know_is_explained(sso_app, ada, sign_in, settings, tmp_path):
    cert = make_cert()
    settings.OIDC_RP_CLIENT_CERTIFICATE_FILE = key_file(tmp_path, cert)

    response = sign_in(Client(), ada)

    text = response.content.decode()
    assert response.status_code == 502 and "AADSTS700027" in text and "OIDC_RP_CLIENT_CERTIFICATE_FILE" in text
    assert "PRIVATE KEY" not in text
    assert not get_user_model().objects.filter(entra_identity__isnull=False).exists()


def test_a_certificate_file_without_its_key_is_a_start_up_problem(tmp_path):
    cert = make_cert()
    path = tmp_path / "cert-only.pem"
    path.write_bytes(cert.cert_pem)
    settings = type(
        "S",
        (),
        {
            "OIDC_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "OIDC_RP_CLIENT_ID": "0b5c7e1d-1111-2222-3333-444455556666",
            "OIDC_RP_CLIENT_CERTIFICATE_FILE": str(path),
        },
    )
    problems = EntraSignIn.from_settings(settings).problems()
    assert len(problems) == 1 and problems[0].startswith(
        f"OIDC_RP_CLIENT_CERTIFICATE_FILE {path}: No private key found"
    )
    settings.OIDC_RP_CLIENT_CERTIFICATE_FILE = str(tmp_path / "missing.pem")
    assert "cannot be read" in EntraSignIn.from_settings(settings).problems()[0]
