"""Where a careful client could tell the sandbox from Entra and Graph, it answers as they do
(docs/microsoft-wire-facts.md): a certificate token says so in ``appidacr``, one application read
with ``$select=keyCredentials`` carries each certificate, an RSA-1024 assertion is refused, and a
later groups/delta round sends only membership changes."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from graphsandbox.testing import RunningSandbox
from tests.factories import Cert, make_cert

pytestmark = pytest.mark.usefixtures("clean_sandbox")
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def cert_with_key(bits: int) -> Cert:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"rsa {bits}")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return Cert(cert.public_bytes(serialization.Encoding.PEM), pem, key, cert)


def registered(sandbox: RunningSandbox, cert: Cert) -> dict:
    app = sandbox.control.post("apps", {"display_name": "cert app", "roles": ["Application.Read.All"]})
    sandbox.control.post(f"apps/{app['client_id']}/certificates", {"certificate": cert.cert_pem.decode()})
    return app


def assertion_token(sandbox: RunningSandbox, cert: Cert, client_id: str):
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    signed = jwt.encode(
        {
            "aud": sandbox.token_url(),
            "iss": client_id,
            "sub": client_id,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "exp": now + 600,
        },
        cert.key_pem,
        algorithm="RS256",
        headers={"x5t": jwt.utils.base64url_encode(bytes.fromhex(cert.thumbprint)).decode()},
    )
    return sandbox.token_call(
        client_id=client_id,
        grant_type="client_credentials",
        scope=GRAPH_DEFAULT,
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=signed,
    )


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_token_fetched_with_a_certificate_says_appidacr_2_and_with_a_secret_1(clean_sandbox: RunningSandbox):
    cert = make_cert()
    app = registered(clean_sandbox, cert)

    by_certificate = assertion_token(clean_sandbox, cert, app["client_id"])
    by_secret = clean_sandbox.token(app["client_id"], app["client_secret"])

    assert by_certificate.status_code == 200, by_certificate.text
    assert claims(by_certificate.json()["access_token"])["appidacr"] == "2"
    assert claims(by_secret)["appidacr"] == "1"


def test_an_rsa_1024_assertion_is_refused_as_entra_refuses_it(clean_sandbox: RunningSandbox):
    cert = cert_with_key(1024)
    app = registered(clean_sandbox, cert)

    response = assertion_token(clean_sandbox, cert, app["client_id"])

    body = response.json()
    assert response.status_code == 401 and body["error"] == "invalid_client" and body["error_codes"] == [700027]
    assert body["error_description"].startswith(
        "AADSTS700027: RSA key size 1024 is less than the minimum required 2048 bits."
    )


def test_one_application_read_with_select_key_credentials_carries_the_certificate(clean_sandbox: RunningSandbox):
    cert = make_cert(cn="listed key")
    app = registered(clean_sandbox, cert)
    http = clean_sandbox.session()
    http.headers["Authorization"] = f"Bearer {clean_sandbox.token(app['client_id'], app['client_secret'])}"
    one = f"{clean_sandbox.graph_url}/applications(appId='{app['client_id']}')"

    selected = http.get(one, params={"$select": "keyCredentials"}, timeout=10).json()
    unselected = http.get(one, timeout=10).json()
    listed = http.get(f"{clean_sandbox.graph_url}/applications", params={"$select": "appId,keyCredentials"}, timeout=10)

    key = selected["keyCredentials"][0]["key"]
    assert x509.load_der_x509_certificate(base64.b64decode(key)) == cert.certificate
    assert [c["key"] for c in unselected["keyCredentials"]] == [None]  # only with $select, as Graph
    mine = [a for a in listed.json()["value"] if a["appId"] == app["client_id"]]
    assert [c["key"] for c in mine[0]["keyCredentials"]] == [None]  # and only for one object


def test_a_later_groups_delta_round_sends_only_membership_changes(clean_sandbox: RunningSandbox):
    lister = clean_sandbox.control.post("apps", {"display_name": "groups", "roles": ["Directory.Read.All"]})
    http = clean_sandbox.session()
    http.headers["Authorization"] = f"Bearer {clean_sandbox.token(lister['client_id'], lister['client_secret'])}"
    url: str | None = f"{clean_sandbox.graph_url}/groups/delta?$select=displayName,members"
    groups: list[dict] = []
    while url:
        page = http.get(url, timeout=30).json()
        groups += page["value"]
        url, delta_link = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
    group = next(g for g in groups if len(g.get("members@delta", [])) >= 2)
    leaving, staying = group["members@delta"][0]["id"], group["members@delta"][1]["id"]
    joining = next(
        m["id"]
        for g in groups
        for m in g.get("members@delta", [])
        if m["id"] not in {x["id"] for x in group["members@delta"]}
    )
    clean_sandbox.control.delete(f"/_sandbox/groups/{group['id']}/members/{leaving}")
    clean_sandbox.control.post(f"/_sandbox/groups/{group['id']}/members", {"id": joining})

    changed = http.get(delta_link, timeout=30).json()["value"]

    assert [g["id"] for g in changed] == [group["id"]]
    members = {m["id"]: m.get("@removed") for m in changed[0]["members@delta"]}
    assert members == {leaving: {"reason": "deleted"}, joining: None}  # the unchanged ones are not sent again
    assert staying not in members
