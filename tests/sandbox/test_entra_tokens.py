"""The token endpoints answer like Entra ID: shapes, numbers, timings, headers and AADSTS errors."""

from __future__ import annotations

import datetime as dt
import re

import jwt
import pytest

from graphsandbox.testing import RunningSandbox

# Every test starts from the sandbox's start state (tests in this file change grants and settings).
pytestmark = pytest.mark.usefixtures("clean_sandbox")

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_v2_client_credentials_answers_with_integer_numbers(sandbox: RunningSandbox) -> None:
    answer = sandbox.token_call(
        grant_type="client_credentials",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        scope=GRAPH_DEFAULT,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert list(body) == ["token_type", "expires_in", "ext_expires_in", "access_token"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store, no-cache"
    assert re.fullmatch(r"[0-9a-f-]{36}", answer.headers["x-ms-request-id"])
    token = claims(body["access_token"])
    assert token["exp"] - token["iat"] == 3900 and token["iat"] == token["nbf"]


def test_v1_client_credentials_answers_with_string_numbers_and_timing(sandbox: RunningSandbox) -> None:
    answer = sandbox.token_call(
        v2=False,
        grant_type="client_credentials",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        resource="https://graph.microsoft.com",
    )
    assert answer.status_code == 200
    body = answer.json()
    for key in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
        assert isinstance(body[key], str) and body[key].isdigit()
    assert body["resource"] == "https://graph.microsoft.com"
    assert body["expires_in"] == "3599"
    assert int(body["expires_on"]) - int(body["not_before"]) == 3600 + 300
    token = claims(body["access_token"])
    assert token["exp"] == int(body["expires_on"]) and token["nbf"] == int(body["not_before"])


def test_app_token_claims_look_like_graph_app_only_tokens(sandbox: RunningSandbox) -> None:
    token = sandbox.token()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"] == header["x5t"]
    c = claims(token)
    app = sandbox.control.get(f"apps/{sandbox.client_id}")
    assert c["aud"] == "https://graph.microsoft.com"
    assert c["iss"] == f"https://sts.windows.net/{sandbox.tenant_id}/"
    assert c["tid"] == sandbox.tenant_id and c["appid"] == sandbox.client_id
    assert c["idtyp"] == "app" and c["appidacr"] == "1" and c["ver"] == "1.0"
    assert c["oid"] == c["sub"] == app["service_principal_id"]
    assert c["roles"] == ["User.Read.All"] and "scp" not in c
    assert c["app_displayname"] == "graphconn demo"
    for key in ("uti", "rh", "aio"):
        assert isinstance(c[key], str) and c[key]


def test_domain_and_http_basic_client_authentication_work(sandbox: RunningSandbox) -> None:
    answer = sandbox.session().post(
        sandbox.token_url(sandbox.tenant_domain),
        auth=(sandbox.client_id, sandbox.client_secret),
        data={"grant_type": "client_credentials", "scope": GRAPH_DEFAULT},
        timeout=30,
    )
    assert answer.status_code == 200
    assert claims(answer.json()["access_token"])["tid"] == sandbox.tenant_id


def test_msal_extra_form_fields_are_ignored(sandbox: RunningSandbox) -> None:
    answer = sandbox.token_call(
        grant_type="client_credentials",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        scope=GRAPH_DEFAULT,
        **{
            "x-client-SKU": "MSAL.Python",
            "x-client-VER": "1.31.0",
            "x-ms-lib-capability": "retry-after, h429",
            "client_info": "1",
            "client-request-id": "abc",
        },
    )
    assert answer.status_code == 200


def _expect_error(answer, status: int, error: str, code: int, prefix: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: {prefix}")
    assert "\r\nTrace ID: " in body["error_description"]
    assert body["trace_id"] == answer.headers["x-ms-request-id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["error_description"].endswith(f"Timestamp: {body['timestamp']}")
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    return body


def test_wrong_secret_is_7000215(sandbox: RunningSandbox) -> None:
    answer = sandbox.token_call(
        grant_type="client_credentials",
        client_id=sandbox.client_id,
        client_secret="not-the-secret",
        scope=GRAPH_DEFAULT,
    )
    body = _expect_error(answer, 401, "invalid_client", 7000215, "Invalid client secret provided.")
    assert "not the client secret ID" in body["error_description"]


def test_secret_id_pasted_instead_of_value_is_7000215(sandbox: RunningSandbox) -> None:
    secret_id = sandbox.control.get(f"apps/{sandbox.client_id}")["secrets"][0]["secret_id"]
    answer = sandbox.token_call(
        grant_type="client_credentials", client_id=sandbox.client_id, client_secret=secret_id, scope=GRAPH_DEFAULT
    )
    _expect_error(answer, 401, "invalid_client", 7000215, "Invalid client secret provided.")


def test_expired_secret_is_7000222(clean_sandbox: RunningSandbox) -> None:
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).isoformat()
    created = clean_sandbox.control.post("apps", {"display_name": "old", "secret_expires": past})
    answer = clean_sandbox.token_call(
        grant_type="client_credentials",
        client_id=created["client_id"],
        client_secret=created["client_secret"],
        scope=GRAPH_DEFAULT,
    )
    body = _expect_error(answer, 401, "invalid_client", 7000222, "The provided client secret keys for app")
    assert created["client_id"] in body["error_description"]


def test_correlation_id_echoes_client_request_id(sandbox: RunningSandbox) -> None:
    answer = sandbox.session().post(
        sandbox.token_url(),
        headers={"client-request-id": "my-corr-id"},
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": "x",
            "scope": GRAPH_DEFAULT,
        },
        timeout=30,
    )
    assert answer.json()["correlation_id"] == "my-corr-id"


@pytest.mark.parametrize(
    "case, v2, form, status, error, code, prefix",
    [
        (
            "unknown app",
            True,
            {"client_id": "11111111-2222-3333-4444-555555555555"},
            400,
            "unauthorized_client",
            700016,
            "Application with identifier '11111111-2222-3333-4444-555555555555'",
        ),
        (
            "bad scope",
            True,
            {"scope": "User.Read.All"},
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        ),
        (
            "foreign resource scope",
            True,
            {"scope": "https://vault.azure.net/.default"},
            400,
            "invalid_resource",
            500011,
            "The resource principal named https://vault.azure.net was not found",
        ),
        (
            "missing scope",
            True,
            {"scope": None},
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        ),
        (
            "missing secret v2",
            True,
            {"client_secret": None},
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ),
        (
            "missing secret v1",
            False,
            {"client_secret": None},
            400,
            "invalid_request",
            90014,
            "'client_assertion' or 'client_secret' is required",
        ),
        (
            "bad resource v1",
            False,
            {"resource": "https://example.com"},
            400,
            "invalid_resource",
            500011,
            "The resource principal named https://example.com was not found",
        ),
        (
            "missing resource v1",
            False,
            {"resource": None},
            400,
            "invalid_resource",
            50001,
            "Resource identifier is not provided.",
        ),
        (
            "unsupported grant",
            True,
            {"grant_type": "password"},
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type 'password'.",
        ),
    ],
)
def test_token_errors(
    sandbox: RunningSandbox, case: str, v2: bool, form: dict, status: int, error: str, code: int, prefix: str
) -> None:
    base = {"grant_type": "client_credentials", "client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    base.update({"scope": GRAPH_DEFAULT} if v2 else {"resource": "https://graph.microsoft.com"})
    base.update(form)
    answer = sandbox.token_call(v2=v2, **{k: v for k, v in base.items() if v is not None})
    _expect_error(answer, status, error, code, prefix)


@pytest.mark.parametrize("tenant", ["00000000-1111-2222-3333-444444444444", "nobody.onmicrosoft.com"])
def test_unknown_tenant_is_90002(sandbox: RunningSandbox, tenant: str) -> None:
    answer = sandbox.token_call(
        tenant=tenant,
        grant_type="client_credentials",
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        scope=GRAPH_DEFAULT,
    )
    _expect_error(answer, 400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")


def test_token_lifetime_follows_settings(clean_sandbox: RunningSandbox) -> None:
    clean_sandbox.control.post("settings", {"token_lifetime_seconds": 600})
    body = clean_sandbox.token_call(
        grant_type="client_credentials",
        client_id=clean_sandbox.client_id,
        client_secret=clean_sandbox.client_secret,
        scope=GRAPH_DEFAULT,
    ).json()
    assert body["expires_in"] == 599
    c = claims(body["access_token"])
    assert c["exp"] - c["iat"] == 900


def test_openid_configuration_points_at_the_sandbox(sandbox: RunningSandbox) -> None:
    http = sandbox.session()
    for tenant in (sandbox.tenant_id, sandbox.tenant_domain):
        doc = http.get(f"{sandbox.base_url}/{tenant}/v2.0/.well-known/openid-configuration", timeout=30)
        assert doc.status_code == 200
        assert doc.headers["Cache-Control"] == "max-age=86400, private"
        body = doc.json()
        assert body["token_endpoint"] == f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/token"
        assert body["authorization_endpoint"] == f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/authorize"
        assert body["jwks_uri"] == f"{sandbox.base_url}/{sandbox.tenant_id}/discovery/v2.0/keys"
        assert body["id_token_signing_alg_values_supported"] == ["RS256"]
        assert body["msgraph_host"] == "graph.microsoft.com"
    v1 = http.get(f"{sandbox.base_url}/{sandbox.tenant_id}/.well-known/openid-configuration", timeout=30).json()
    assert v1["token_endpoint"] == f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/token"
    assert v1["issuer"] == f"https://sts.windows.net/{sandbox.tenant_id}/"
    missing = http.get(f"{sandbox.base_url}/nobody.onmicrosoft.com/v2.0/.well-known/openid-configuration", timeout=30)
    assert missing.status_code == 400 and missing.json()["error_codes"] == [90002]


def test_keys_verify_the_tokens(sandbox: RunningSandbox) -> None:
    http = sandbox.session()
    token = sandbox.token()
    kid = jwt.get_unverified_header(token)["kid"]
    for path in (
        f"{sandbox.tenant_id}/discovery/v2.0/keys",
        f"{sandbox.tenant_id}/discovery/keys",
        "common/discovery/keys",
    ):
        keys = http.get(f"{sandbox.base_url}/{path}", timeout=30).json()["keys"]
        key = next(k for k in keys if k["kid"] == kid)
        public = jwt.PyJWK(key).key
        verified = jwt.decode(token, public, algorithms=["RS256"], audience="https://graph.microsoft.com")
        assert verified["tid"] == sandbox.tenant_id
    instance = http.get(
        f"{sandbox.base_url}/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": f"{sandbox.base_url}/{sandbox.tenant_id}/oauth2/v2.0/authorize",
        },
        timeout=30,
    ).json()
    assert instance["tenant_discovery_endpoint"] == (
        f"{sandbox.base_url}/{sandbox.tenant_id}/v2.0/.well-known/openid-configuration"
    )


def test_same_seed_gives_same_demo_identity(sandbox: RunningSandbox) -> None:
    from graphsandbox.testing import start_sandbox

    again = start_sandbox(
        users=5, groups=3, seed=7, http=True, extra_args=("--demo-redirect-uri", "https://dash.example/callback")
    )
    try:
        assert (again.tenant_id, again.tenant_domain, again.client_id, again.client_secret) == (
            sandbox.tenant_id,
            sandbox.tenant_domain,
            sandbox.client_id,
            sandbox.client_secret,
        )
        assert again.base_url.startswith("http://") and again.ca_path is None
        assert again.token()
        demo = again.control.get(f"apps/{again.client_id}")
        assert "https://dash.example/callback" in demo["redirect_uris"]
    finally:
        again.stop()
    assert again.process.returncode == 0


def test_get_on_the_token_endpoint_is_refused(sandbox: RunningSandbox) -> None:
    answer = sandbox.session().get(sandbox.token_url(), timeout=30)
    assert answer.status_code == 400 and answer.json()["error_codes"] == [900561]
