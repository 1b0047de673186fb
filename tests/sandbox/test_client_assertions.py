"""The sandbox accepts client assertions (private_key_jwt) signed with a certificate registered on the
app — from MSAL for Python, Microsoft's own client, in both forms — and refuses bad ones in Entra's words."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt
import msal
import pytest

from graphsandbox.testing import RunningSandbox
from tests.factories import make_cert

pytestmark = pytest.mark.usefixtures("clean_sandbox")
GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def app_with_certificate(sandbox: RunningSandbox, cert, register: bool = True) -> dict:
    app = sandbox.control.post("apps", {"display_name": "cert app", "roles": ["User.Read.All"]})
    if register:
        sandbox.control.post(f"apps/{app['client_id']}/certificates", {"certificate": cert.cert_pem.decode()})
    return app


@pytest.mark.parametrize("form", ["sha1", "sha256"])
def test_msal_gets_a_token_with_a_registered_certificate(clean_sandbox: RunningSandbox, form: str) -> None:
    cert = make_cert()
    app = app_with_certificate(clean_sandbox, cert)
    credential = {"private_key": cert.key_pem.decode()}
    if form == "sha1":  # RS256 with x5t
        credential["thumbprint"] = cert.thumbprint
    else:  # PS256 with x5t#S256 (MSAL computes it from the certificate)
        credential["public_certificate"] = cert.cert_pem.decode()
    client = msal.ConfidentialClientApplication(
        app["client_id"],
        client_credential=credential,
        authority=f"{clean_sandbox.base_url}/{clean_sandbox.tenant_id}",
        instance_discovery=False,
        http_client=clean_sandbox.session(),
    )

    result = client.acquire_token_for_client(GRAPH_DEFAULT)

    assert "access_token" in result, result


def _assertion(cert, client_id: str, aud: str, *, lifetime: int = 600, start: int = 0, key=None) -> str:
    now = int(dt.datetime.now(dt.timezone.utc).timestamp()) + start
    x5t = jwt.utils.base64url_encode(bytes.fromhex(cert.thumbprint)).decode()
    return jwt.encode(
        {"aud": aud, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()), "nbf": now, "exp": now + lifetime},
        key or cert.key_pem,
        algorithm="RS256",
        headers={"x5t": x5t},
    )


def _call(sandbox: RunningSandbox, client_id: str, assertion: str):
    return sandbox.token_call(
        client_id=client_id,
        grant_type="client_credentials",
        scope=GRAPH_DEFAULT[0],
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=assertion,
    )


@pytest.mark.parametrize(
    "case,code,words",
    [
        ("unknown", 700027, "The key was not found."),
        ("wrong_key", 700027, "did not match the expected signature value"),
        ("expired", 700024, "not within its valid time range"),
        ("audience", 50027, "audience claim"),
    ],
)
def test_bad_assertions_get_entras_answers(clean_sandbox: RunningSandbox, case: str, code: int, words: str) -> None:
    cert = make_cert()
    app = app_with_certificate(clean_sandbox, cert, register=case != "unknown")
    aud = clean_sandbox.token_url()
    key = make_cert(key_index=1).key_pem if case == "wrong_key" else None
    assertion = _assertion(
        cert,
        app["client_id"],
        "https://login.example.com/x/oauth2/v2.0/token" if case == "audience" else aud,
        start=-3600 if case == "expired" else 0,
        key=key,
    )

    response = _call(clean_sandbox, app["client_id"], assertion)

    body = response.json()
    assert response.status_code == 401 and body["error"] == "invalid_client"
    assert body["error_codes"] == [code] and words in body["error_description"]
    if code == 700027:
        assert cert.thumbprint in body["error_description"]


def test_the_portal_uploads_a_certificate_and_graph_lists_it(clean_sandbox: RunningSandbox) -> None:
    cert = make_cert(cn="portal upload")
    app = clean_sandbox.control.post("apps", {"display_name": "portal app", "roles": ["Application.Read.All"]})
    session = clean_sandbox.session()
    page = session.post(
        f"{clean_sandbox.base_url}/_sandbox/portal/apps/{app['client_id']}/certificates",
        data={"certificate": cert.cert_pem.decode()},
        allow_redirects=True,
    )
    assert page.status_code == 200 and cert.thumbprint in page.text
    bad = session.post(
        f"{clean_sandbox.base_url}/_sandbox/portal/apps/{app['client_id']}/certificates",
        data={"certificate": "not a certificate"},
    )
    assert bad.status_code == 400 and "not an X.509 certificate" in bad.text

    session.headers["Authorization"] = f"Bearer {clean_sandbox.token(app['client_id'], app['client_secret'])}"
    listed = session.get(
        f"{clean_sandbox.graph_url}/applications(appId='{app['client_id']}')",
        params={"$select": "passwordCredentials,keyCredentials"},
    ).json()
    assert [k["customKeyIdentifier"] for k in listed["keyCredentials"]] == [cert.thumbprint]
    assert listed["keyCredentials"][0]["type"] == "AsymmetricX509Cert"
    assert listed["passwordCredentials"][0]["hint"] == app["client_secret"][:3]
    by_object = session.get(f"{clean_sandbox.graph_url}/applications/{app['object_id']}").json()
    assert by_object["keyCredentials"][0]["keyId"] == listed["keyCredentials"][0]["keyId"]

    deleted = session.post(
        f"{clean_sandbox.base_url}/_sandbox/portal/apps/{app['client_id']}/delete-credential",
        data={"key_id": listed["keyCredentials"][0]["keyId"]},
    )
    assert deleted.status_code == 200 and cert.thumbprint not in deleted.text
    assert clean_sandbox.control.get(f"apps/{app['client_id']}")["certificates"] == []


def test_owned_by_reads_only_the_apps_the_caller_owns(clean_sandbox: RunningSandbox) -> None:
    app = clean_sandbox.control.post("apps", {"display_name": "owner", "roles": ["Application.ReadWrite.OwnedBy"]})
    session = clean_sandbox.session()
    session.headers["Authorization"] = f"Bearer {clean_sandbox.token(app['client_id'], app['client_secret'])}"
    own = f"{clean_sandbox.graph_url}/applications(appId='{app['client_id']}')"
    assert session.get(own).status_code == 404
    assert session.get(f"{clean_sandbox.graph_url}/applications").json()["value"] == []

    clean_sandbox.control.post(f"apps/{app['client_id']}/owners", {})

    assert session.get(own).json()["appId"] == app["client_id"]
    assert [a["appId"] for a in session.get(f"{clean_sandbox.graph_url}/applications").json()["value"]] == [
        app["client_id"]
    ]
