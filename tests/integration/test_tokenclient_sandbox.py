"""The token client against the sandbox over real HTTPS: both endpoint versions, every AADSTS case
the sandbox produces (parsed and diagnosed), retries, time-outs and refused transports."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from microsoft import claims, outbound
from microsoft.diagnoses import (
    Context,
    diagnose_graph_error,
    diagnose_token_error,
    looks_like_guid,
)
from microsoft.tokenclient import TokenError, TokenRequest, request_token, tenant_urls
from tests.factories import make_sandbox_app

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_RESOURCE = "https://graph.microsoft.com"


def host_of(sandbox) -> str:
    return urlsplit(sandbox.base_url).netloc


def token_request(sandbox, version: str = "v2", *, tenant: str | None = None, **fields) -> TokenRequest:
    token_url, _ = tenant_urls(tenant or sandbox.tenant_id, version, login_host=host_of(sandbox))
    values = {"client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    values.update({"scope": GRAPH_SCOPE} if version == "v2" else {"resource": GRAPH_RESOURCE})
    values.update(fields)
    return TokenRequest(token_url=token_url, **values)


def context(sandbox, req: TokenRequest, **overrides) -> Context:
    values = dict(
        connection_name="sandbox",
        tenant=urlsplit(req.token_url).path.split("/")[1],
        client_id=req.client_id,
        login_host=host_of(sandbox),
        entity_path="users",
        secret_looks_like_guid=looks_like_guid(req.client_secret or ""),
        scope_or_resource=req.scope or req.resource,
    )
    values.update(overrides)
    return Context(**values)


def test_v2_client_credentials_gives_a_typed_token(sandbox, sandbox_policy):
    before = datetime.now(timezone.utc)

    result = request_token(token_request(sandbox, "v2"), sandbox_policy)

    assert result.token_type == "Bearer"
    assert before <= result.issued_at <= datetime.now(timezone.utc)
    assert timedelta(minutes=50) < result.expires_at - result.issued_at <= timedelta(minutes=95)
    assert isinstance(result.ext_expires_in, int)
    assert result.refresh_token is None and result.resource is None
    assert result.request_id
    assert result.access_token not in repr(result)
    token = claims.decode(result.access_token)
    assert token.readable and token.grant_kind == "app"
    assert token.app_id == sandbox.client_id and token.tenant_id == sandbox.tenant_id


def test_v1_client_credentials_reads_string_numbers_and_expires_on(sandbox, sandbox_policy):
    result = request_token(token_request(sandbox, "v1"), sandbox_policy)

    token = claims.decode(result.access_token)
    assert result.resource == GRAPH_RESOURCE
    assert result.expires_at == token.expires_at  # expires_on and the JWT's exp agree
    assert result.not_before == token.not_before
    assert isinstance(result.ext_expires_in, int)
    assert token.audience == GRAPH_RESOURCE and token.version == "1.0"


def _case_wrong_secret(sandbox):
    return token_request(sandbox, client_secret="abc8Q~" + "x" * 34), {}


def _case_secret_id(sandbox):
    app = make_sandbox_app(sandbox, roles=["User.Read.All"])
    return token_request(sandbox, client_id=app["client_id"], client_secret=app["secret_id"]), {}


def _case_expired_secret(sandbox):
    expired = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    app = make_sandbox_app(sandbox, roles=["User.Read.All"], secret_expires=expired)
    return token_request(sandbox, client_id=app["client_id"], client_secret=app["client_secret"]), {}


def _case_unknown_app(sandbox):
    return token_request(sandbox, client_id=str(uuid.uuid4())), {}


def _case_unknown_tenant(sandbox):
    return token_request(sandbox, tenant="nosuchtenant.onmicrosoft.com"), {}


def _case_bad_scope(sandbox):
    return token_request(sandbox, scope="User.Read.All"), {}


def _case_bad_resource(sandbox):
    return token_request(sandbox, "v1", resource="https://graph.microsoft.com/v1.0"), {"endpoint_version": "v1"}


def _case_no_secret_v2(sandbox):
    return token_request(sandbox, client_secret=None), {}


def _case_no_secret_v1(sandbox):
    return token_request(sandbox, "v1", client_secret=None), {"endpoint_version": "v1"}


AADSTS_CASES = [
    # (case builder, HTTP status, error, AADSTS code, diagnosis key)
    (_case_wrong_secret, 401, "invalid_client", 7000215, "token.bad_secret"),
    (_case_secret_id, 401, "invalid_client", 7000215, "token.secret_id_pasted"),
    (_case_expired_secret, 401, "invalid_client", 7000222, "token.secret_expired"),
    (_case_unknown_app, 400, "unauthorized_client", 700016, "token.app_not_found"),
    (_case_unknown_tenant, 400, "invalid_request", 90002, "token.tenant_not_found"),
    (_case_bad_scope, 400, "invalid_scope", 70011, "token.invalid_scope"),
    (_case_bad_resource, 400, "invalid_resource", 500011, "token.invalid_resource"),
    (_case_no_secret_v2, 401, "invalid_client", 7000218, "token.missing_secret"),
    (_case_no_secret_v1, 400, "invalid_request", 90014, "token.missing_secret"),
]


@pytest.mark.parametrize(
    "build, status, error, code, key", AADSTS_CASES, ids=[c[0].__name__.removeprefix("_case_") for c in AADSTS_CASES]
)
def test_each_aadsts_error_is_parsed_and_diagnosed(sandbox, sandbox_policy, build, status, error, code, key):
    req, overrides = build(sandbox)

    with pytest.raises(TokenError) as caught:
        request_token(req, sandbox_policy)

    err = caught.value
    assert (err.kind, err.status, err.error, err.code) == ("aadsts", status, error, code)
    assert err.description.startswith(f"AADSTS{code}: ")
    assert "Trace ID" not in err.description and "Timestamp" not in err.description
    assert uuid.UUID(err.trace_id) and uuid.UUID(err.correlation_id)
    assert abs(err.timestamp - datetime.now(timezone.utc)) < timedelta(minutes=1)
    if req.client_secret:
        assert req.client_secret not in str(err)
    diagnosis = diagnose_token_error(err, context(sandbox, req, **overrides))
    assert diagnosis.key == key
    assert dict(diagnosis.evidence)["Trace ID"] == err.trace_id


def test_a_503_from_the_token_endpoint_is_retried(sandbox, sandbox_policy):
    req = token_request(sandbox)
    path = urlsplit(req.token_url).path
    sandbox.control.post("/_sandbox/faults", {"path": path, "status": 503, "count": 1, "retry_after": 0})

    result = request_token(req, sandbox_policy)

    assert result.access_token
    assert sandbox.control.get("/_sandbox/requests")["by_path"][path] == 2


def test_a_token_endpoint_that_keeps_failing_is_explained(sandbox, sandbox_policy):
    req = token_request(sandbox)
    sandbox.control.post(
        "/_sandbox/faults", {"path": urlsplit(req.token_url).path, "status": 503, "count": 10, "retry_after": 0}
    )

    with pytest.raises(TokenError) as caught:
        request_token(req, sandbox_policy)

    assert caught.value.status == 503 and caught.value.code == 90033
    assert diagnose_token_error(caught.value, context(sandbox, req)).key == "token.service_unavailable"


def test_a_hanging_token_endpoint_times_out_with_a_clear_error(sandbox, sandbox_policy):
    req = token_request(sandbox)
    path = urlsplit(req.token_url).path
    sandbox.control.post("/_sandbox/faults", {"path": path, "delay_ms": 2000, "count": 1})
    policy = dataclasses.replace(sandbox_policy, timeout=0.5)

    started = time.monotonic()
    with pytest.raises(TokenError) as caught:
        request_token(req, policy)

    assert time.monotonic() - started < 1.9  # not retried: the server got the request
    assert caught.value.kind == "timeout"
    assert str(caught.value) == f"No answer from {host_of(sandbox)} within 0.5 s."
    diagnosis = diagnose_token_error(caught.value, context(sandbox, req))
    assert diagnosis.key == "token.timeout"
    assert "within 0.5 s" in diagnosis.explanation


def test_an_html_answer_is_not_taken_for_a_token(sandbox, sandbox_policy):
    req = dataclasses.replace(token_request(sandbox), token_url=f"{sandbox.base_url}/")  # the portal page

    with pytest.raises(TokenError) as caught:
        request_token(req, sandbox_policy)

    assert caught.value.kind == "bad_response"
    assert str(caught.value) == (
        "The token endpoint answered with something that is not a token response (HTTP 200, text/html)."
    )


def test_an_untrusted_sandbox_certificate_is_refused(sandbox, sandbox_policy):
    req = token_request(sandbox)
    policy = dataclasses.replace(sandbox_policy, ca_bundle=None)

    with pytest.raises(TokenError) as caught:
        request_token(req, policy)

    assert caught.value.kind == "tls"
    assert diagnose_token_error(caught.value, context(sandbox, req)).key == "token.tls_untrusted"


def test_a_host_outside_the_policy_is_never_called(sandbox, sandbox_policy):
    req = token_request(sandbox)

    with pytest.raises(TokenError) as caught:
        request_token(req, outbound.OutboundPolicy())

    assert caught.value.kind == "disallowed"
    assert "is an IP address; only the exact addresses listed in GRAPH_ALLOWED_HOSTS" in str(caught.value)
    assert sandbox.control.get("/_sandbox/requests")["total"] == 0
    assert diagnose_token_error(caught.value, context(sandbox, req)).key == "token.host_not_allowed"


def _read_groups(sandbox, policy, access_token: str):
    return outbound.request(
        "GET",
        f"{sandbox.graph_url}/groups",
        policy=policy,
        params={"$top": "1"},
        headers={"Authorization": f"Bearer {access_token}"},
    )


def test_a_missing_grant_is_diagnosed_then_fixed_by_grant_and_refetch(sandbox, sandbox_policy):
    app = make_sandbox_app(sandbox, roles=["User.Read.All"])
    req = token_request(sandbox, client_id=app["client_id"], client_secret=app["client_secret"])
    ctx = context(sandbox, req, entity_path="groups")
    first = request_token(req, sandbox_policy)
    first_permissions = claims.permissions(claims.decode(first.access_token))

    denied = _read_groups(sandbox, sandbox_policy, first.access_token)
    before_grant = diagnose_graph_error(
        denied.status_code,
        denied.json(),
        denied.headers,
        ctx,
        first_permissions,
        "app",
        granted=frozenset({"User.Read.All"}),
    )
    sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/grants", {"roles": ["GroupMember.Read.All"]})
    granted = frozenset(sandbox.control.get(f"/_sandbox/apps/{app['client_id']}")["granted_roles"])
    still_denied = _read_groups(sandbox, sandbox_policy, first.access_token)
    after_grant = diagnose_graph_error(
        still_denied.status_code,
        still_denied.json(),
        still_denied.headers,
        ctx,
        first_permissions,
        "app",
        None,
        granted,
    )
    second = request_token(req, sandbox_policy)
    second_permissions = claims.permissions(claims.decode(second.access_token))

    assert denied.status_code == 403 and still_denied.status_code == 403
    assert before_grant.key == "graph.permission_not_granted"
    assert before_grant.missing == ("Group.ReadBasic.All",)
    assert dict(before_grant.evidence)["Request ID"] == denied.headers["request-id"]
    assert after_grant.key == "graph.granted_not_in_token"  # the saved token predates the grant
    assert claims.diff(first_permissions, second_permissions) == ({"GroupMember.Read.All"}, frozenset())
    assert _read_groups(sandbox, sandbox_policy, second.access_token).status_code == 200
