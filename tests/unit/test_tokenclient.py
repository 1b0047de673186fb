"""The token client's pure parts: forms, both response shapes, error bodies, PKCE and URLs."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from microsoft.tokenclient import (
    TokenError,
    TokenRequest,
    admin_consent_url,
    authorize_url,
    default_scope_or_resource,
    new_pkce,
    new_state,
    parse_token_response,
    portal_api_permissions_url,
    tenant_urls,
)

NOW = datetime(2020, 1, 8, 21, 53, 14, tzinfo=timezone.utc)
CLIENT = "6731de76-14a6-49ae-97bc-6eba6914391e"


def test_v2_response_uses_expires_in():
    result = parse_token_response(
        {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "eyJ.a.b"}, NOW
    )

    assert result.expires_at == NOW + timedelta(seconds=3599)
    assert result.expires_in == 3599 and result.ext_expires_in == 3599
    assert result.scope is None and result.refresh_token is None


def test_v1_response_reads_string_numbers_and_expires_on():
    result = parse_token_response(
        {
            "token_type": "Bearer",
            "expires_in": "3599",
            "ext_expires_in": "3599",
            "expires_on": "1578523094",
            "not_before": "1578519194",
            "resource": "https://graph.microsoft.com",
            "access_token": "eyJ.a.b",
        },
        NOW,
    )

    assert result.expires_at == datetime.fromtimestamp(1578523094, timezone.utc)
    assert result.not_before == datetime.fromtimestamp(1578519194, timezone.utc)
    assert result.resource == "https://graph.microsoft.com"
    assert result.ext_expires_in == 3599


def test_delegated_response_keeps_refresh_and_id_tokens_out_of_repr():
    result = parse_token_response(
        {
            "token_type": "Bearer",
            "expires_in": 3599,
            "access_token": "AT-SECRET",
            "scope": "https://graph.microsoft.com/User.Read openid",
            "refresh_token": "RT-SECRET",
            "id_token": "ID-SECRET",
        },
        NOW,
    )

    assert result.refresh_token == "RT-SECRET" and result.id_token == "ID-SECRET"
    assert result.scope == "https://graph.microsoft.com/User.Read openid"
    assert not any(s in repr(result) for s in ("AT-SECRET", "RT-SECRET", "ID-SECRET"))


def test_error_body_is_split_into_fields():
    err = TokenError.from_body(
        400,
        {
            "error": "invalid_grant",
            "error_description": "AADSTS70008: The provided authorization code or refresh token has expired."
            "\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2016-01-09 02:02:12Z",
            "error_codes": [70002, 70008],
            "timestamp": "2016-01-09 02:02:12Z",
            "trace_id": "t-1",
            "correlation_id": "c-1",
            "error_uri": "https://login.microsoftonline.com/error?code=70008",
            "suberror": "bad_token",
        },
    )

    assert err.description == "AADSTS70008: The provided authorization code or refresh token has expired."
    assert err.codes == [70002, 70008] and err.code == 70002
    assert (err.trace_id, err.correlation_id, err.suberror) == ("t-1", "c-1", "bad_token")
    assert err.timestamp == datetime(2016, 1, 9, 2, 2, 12, tzinfo=timezone.utc)
    assert err.kind == "aadsts" and err.status == 400


def test_error_without_codes_takes_the_code_from_the_text():
    err = TokenError.from_body(400, {"error": "invalid_scope", "error_description": "AADSTS70011: bad"})

    assert err.codes == [70011] and err.trace_id is None and err.timestamp is None


def test_request_forms_per_grant_type_and_hidden_secrets():
    cc = TokenRequest("https://x/t", CLIENT, "SECRET", scope="https://graph.microsoft.com/.default")
    code = TokenRequest(
        "https://x/t",
        CLIENT,
        "SECRET",
        "authorization_code",
        scope="https://graph.microsoft.com/.default",
        code="CODE",
        redirect_uri="https://dash/cb",
        code_verifier="VERIFIER",
    )
    refresh = TokenRequest(
        "https://x/t", CLIENT, "SECRET", "refresh_token", resource="https://graph.microsoft.com", refresh_token="RT"
    )

    assert cc.form() == {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": "SECRET",
        "scope": "https://graph.microsoft.com/.default",
    }
    assert code.form()["scope"] == "https://graph.microsoft.com/.default openid profile offline_access"
    assert (code.form()["code"], code.form()["code_verifier"]) == ("CODE", "VERIFIER")
    assert refresh.form()["refresh_token"] == "RT" and refresh.form()["resource"] == "https://graph.microsoft.com"
    assert not any(s in repr(code) + repr(refresh) for s in ("SECRET", "CODE", "VERIFIER", "RT'"))
    with pytest.raises(ValueError):
        TokenRequest("https://x/t", CLIENT, grant_type="password").form()


def test_pkce_pair_is_s256_and_state_is_random():
    verifier, challenge = new_pkce()

    assert 43 <= len(verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected
    assert new_state() != new_state() and len(new_state()) >= 32


def test_authorize_url_v2_and_v1():
    v2 = authorize_url(
        "https://login.microsoftonline.com/t/oauth2/v2.0/authorize",
        CLIENT,
        "https://dash/cb",
        "https://graph.microsoft.com/.default",
        "STATE",
        "CHALLENGE",
        v1=False,
        prompt="consent",
    )
    v1 = authorize_url(
        "https://login.microsoftonline.com/t/oauth2/authorize",
        CLIENT,
        "https://dash/cb",
        "https://graph.microsoft.com",
        "STATE",
        "CHALLENGE",
        v1=True,
    )

    q2 = {k: v[0] for k, v in parse_qs(urlsplit(v2).query).items()}
    q1 = {k: v[0] for k, v in parse_qs(urlsplit(v1).query).items()}
    assert q2 == {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": "https://dash/cb",
        "response_mode": "query",
        "state": "STATE",
        "code_challenge": "CHALLENGE",
        "code_challenge_method": "S256",
        "prompt": "consent",
        "scope": "https://graph.microsoft.com/.default openid profile offline_access",
    }
    assert q1["resource"] == "https://graph.microsoft.com" and "scope" not in q1


def test_tenant_urls_for_both_versions_and_a_sandbox_host():
    assert tenant_urls("contoso.onmicrosoft.com", "v2") == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
    )
    assert tenant_urls("t", "v1", login_host="https://127.0.0.1:8765/") == (
        "https://127.0.0.1:8765/t/oauth2/token",
        "https://127.0.0.1:8765/t/oauth2/authorize",
    )
    with pytest.raises(ValueError):
        tenant_urls("t", "v3")


@pytest.mark.parametrize(
    "service_url, scope, resource",
    [
        ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/.default", "https://graph.microsoft.com"),
        ("https://graph.microsoft.com/beta", "https://graph.microsoft.com/.default", "https://graph.microsoft.com"),
        ("https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/.default", "https://graph.microsoft.us"),
        (
            "https://dod-graph.microsoft.us/v1.0",
            "https://dod-graph.microsoft.us/.default",
            "https://dod-graph.microsoft.us",
        ),
        (
            "https://microsoftgraph.chinacloudapi.cn/v1.0",
            "https://microsoftgraph.chinacloudapi.cn/.default",
            "https://microsoftgraph.chinacloudapi.cn",
        ),
        ("https://127.0.0.1:8765/v1.0", "https://graph.microsoft.com/.default", "https://graph.microsoft.com"),
    ],
)
def test_default_scope_and_resource_follow_the_cloud(service_url, scope, resource):
    assert default_scope_or_resource("v2", service_url) == scope
    assert default_scope_or_resource("v1", service_url) == resource


def test_admin_consent_urls():
    assert admin_consent_url("login.microsoftonline.com", "common", CLIENT) == (
        f"https://login.microsoftonline.com/organizations/v2.0/adminconsent?client_id={CLIENT}"
        "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
    )
    assert admin_consent_url(
        "https://login.microsoftonline.com", "contoso.com", CLIENT, redirect_uri="https://dash/cb", v2=False
    ) == (
        f"https://login.microsoftonline.com/contoso.com/adminconsent?client_id={CLIENT}"
        "&redirect_uri=https%3A%2F%2Fdash%2Fcb"
    )


@pytest.mark.parametrize(
    "cloud, host",
    [
        ("global", "portal.azure.com"),
        ("usgov", "portal.azure.us"),
        ("usdod", "portal.azure.us"),
        ("china", "portal.azure.cn"),
    ],
)
def test_portal_api_permissions_url_per_cloud(cloud, host):
    assert portal_api_permissions_url(CLIENT, cloud) == (
        f"https://{host}/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/CallAnAPI/appId/{CLIENT}"
    )


def test_errors_survive_pickling_for_workers():
    import pickle

    from microsoft.outbound import DisallowedURL, OutboundError

    err = TokenError.from_body(
        401,
        {
            "error": "invalid_client",
            "error_description": "AADSTS7000215: x",
            "error_codes": [7000215],
            "trace_id": "t",
            "timestamp": "2016-01-09 02:02:12Z",
        },
    )
    copy = pickle.loads(pickle.dumps(err))
    outbound_copy = pickle.loads(pickle.dumps(OutboundError("timeout", "No answer")))
    disallowed_copy = pickle.loads(pickle.dumps(DisallowedURL("Host x is not allowed")))

    assert (copy.description, copy.code, copy.status, copy.trace_id, copy.timestamp) == (
        err.description,
        7000215,
        401,
        "t",
        err.timestamp,
    )
    assert (outbound_copy.kind, outbound_copy.message) == ("timeout", "No answer")
    assert (disallowed_copy.kind, disallowed_copy.message) == ("disallowed", "Host x is not allowed")
