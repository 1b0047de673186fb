"""Every failure the dashboard explains, table-driven: the right diagnosis, evidence and buttons."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from microsoft.diagnoses import (
    Action,
    Context,
    Diagnosis,
    PreviousAttempt,
    diagnose_graph_error,
    diagnose_token_error,
    diagnose_transport_error,
    looks_like_guid,
)
from microsoft.outbound import OutboundError
from microsoft.tokenclient import TokenError

TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
TRACE = "0a7c1b64-0f6c-4a8e-9c55-7b1d2c3e4f50"
CORRELATION = "3f2e1d0c-9b8a-4765-8432-10fedcba9876"
SECRET = "Xy8Q~not-a-real-secret-but-never-show-it~00"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln"


def ctx(**overrides) -> Context:
    values = dict(
        connection_name="Contoso HR sync",
        tenant=TENANT,
        client_id=CLIENT_ID,
        entity_path="users",
        now=datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc),
    )
    values.update(overrides)
    return Context(**values)


def entra_error(code: int, error: str, text: str, status: int = 400, **extra) -> TokenError:
    """A token error parsed from the body Entra ID sends (https://learn.microsoft.com/entra/identity-platform/reference-error-codes)."""
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {TRACE}\r\n"
        f"Correlation ID: {CORRELATION}\r\nTimestamp: 2025-03-01 11:59:58Z",
        "error_codes": [code],
        "timestamp": "2025-03-01 11:59:58Z",
        "trace_id": TRACE,
        "correlation_id": CORRELATION,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        **extra,
    }
    return TokenError.from_body(status, body)


def actions(diagnosis: Diagnosis) -> list[str | None]:
    return [step.action for step in diagnosis.steps]


def evidence(diagnosis: Diagnosis) -> dict[str, str]:
    return dict(diagnosis.evidence)


def all_text(diagnosis: Diagnosis) -> str:
    parts = [diagnosis.title, diagnosis.explanation]
    parts += [f"{a} {b}" for a, b in diagnosis.evidence]
    parts += [f"{s.text} {s.url or ''}" for s in diagnosis.steps]
    return "\n".join(parts)


# --- token endpoint ---------------------------------------------------------------------------

TOKEN_CASES = [
    # (id, error, context overrides, expected key, a phrase the admin must read, buttons expected)
    (
        "bad secret",
        entra_error(
            7000215,
            "invalid_client",
            "Invalid client secret provided. Ensure the secret being "
            "sent in the request is the client secret value, not the client secret ID, for a "
            f"secret added to app '{CLIENT_ID}'.",
            401,
        ),
        {},
        "token.bad_secret",
        "Value column, not its Secret ID",
        [Action.EDIT_SECRET, Action.REFETCH_TOKEN],
    ),
    (
        "secret id pasted",
        entra_error(7000215, "invalid_client", "Invalid client secret provided.", 401),
        {"secret_looks_like_guid": True},
        "token.secret_id_pasted",
        "Secret ID column",
        [Action.EDIT_SECRET, Action.REFETCH_TOKEN],
    ),
    (
        "expired secret",
        entra_error(
            7000222,
            "invalid_client",
            f"The provided client secret keys for app '{CLIENT_ID}' "
            "are expired. Visit the Azure portal to create new keys for your app: "
            "https://aka.ms/NewClientSecret",
            401,
        ),
        {"secret_expires_on": date(2025, 2, 1)},
        "token.secret_expired",
        "2025-02-01",
        [Action.EDIT_SECRET, Action.REFETCH_TOKEN],
    ),
    (
        "app not in tenant",
        entra_error(
            700016,
            "unauthorized_client",
            f"Application with identifier '{CLIENT_ID}' was not found in the directory '{TENANT}'.",
        ),
        {},
        "token.app_not_found",
        f"no application with ID {CLIENT_ID} in tenant {TENANT}",
        [Action.EDIT_CONNECTION, Action.ADMIN_CONSENT, Action.REFETCH_TOKEN],
    ),
    (
        "tenant not found",
        entra_error(90002, "invalid_request", "Tenant 'contoso.onmicrosft.com' not found."),
        {"tenant": "contoso.onmicrosft.com"},
        "token.tenant_not_found",
        "right cloud",
        [Action.EDIT_CONNECTION, Action.REFETCH_TOKEN],
    ),
    (
        "invalid scope",
        entra_error(
            70011,
            "invalid_scope",
            "The provided value for the input parameter 'scope' is not valid. The scope User.Read.All is not valid.",
        ),
        {"scope_or_resource": "User.Read.All"},
        "token.invalid_scope",
        "exactly https://graph.microsoft.com/.default",
        [Action.EDIT_CONNECTION, Action.REFETCH_TOKEN],
    ),
    (
        "invalid resource v2",
        entra_error(
            500011,
            "invalid_resource",
            "The resource principal named https://graph.microsoft.com/v1.0 was not found in the tenant named Contoso.",
        ),
        {"scope_or_resource": "https://graph.microsoft.com/v1.0", "endpoint_version": "v1"},
        "token.invalid_resource",
        "the resource for Microsoft Graph is https://graph.microsoft.com,",
        [Action.EDIT_CONNECTION, Action.REFETCH_TOKEN],
    ),
    (
        "invalid resource v1",
        entra_error(
            50001,
            "invalid_resource",
            "The application named https://graph.micro.com was not found in the tenant named Contoso.",
        ),
        {"scope_or_resource": "https://graph.micro.com", "endpoint_version": "v1"},
        "token.invalid_resource",
        "without /.default",
        [Action.EDIT_CONNECTION, Action.REFETCH_TOKEN],
    ),
    (
        "consent required",
        entra_error(
            65001,
            "invalid_grant",
            f"The user or administrator has not consented to use the "
            f"application with ID '{CLIENT_ID}' named 'HR sync'.",
            suberror="consent_required",
        ),
        {"grant_type": "authorization_code"},
        "token.consent_required",
        "administrator can grant consent",
        [Action.ADMIN_CONSENT, Action.SIGN_IN],
    ),
    (
        "code or refresh token expired",
        entra_error(
            70008, "invalid_grant", "The provided authorization code or refresh token has expired due to inactivity."
        ),
        {"grant_type": "refresh_token"},
        "token.sign_in_again",
        "not used for a while",
        [Action.SIGN_IN],
    ),
    (
        "refresh token inactive 90 days",
        entra_error(
            700082,
            "invalid_grant",
            "The refresh token has expired due to inactivity.\u00a0The "
            "token was issued on 2024-11-01T00:00:00Z and was inactive for 90.00:00:00.",
        ),
        {"grant_type": "refresh_token"},
        "token.sign_in_again",
        "90 days",
        [Action.SIGN_IN],
    ),
    (
        "grant revoked",
        entra_error(
            50173,
            "invalid_grant",
            "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
            suberror="bad_token",
        ),
        {"grant_type": "refresh_token"},
        "token.sign_in_again",
        "changed their password",
        [Action.SIGN_IN],
    ),
    (
        "missing secret v2",
        entra_error(
            7000218,
            "invalid_client",
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            401,
        ),
        {},
        "token.missing_secret",
        "carried none",
        [Action.EDIT_SECRET, Action.REFETCH_TOKEN],
    ),
    (
        "missing secret v1",
        entra_error(
            90014,
            "invalid_request",
            "'client_assertion' or 'client_secret' is required for the 'client_credentials' grant type.",
        ),
        {},
        "token.missing_secret",
        "carried none",
        [Action.EDIT_SECRET, Action.REFETCH_TOKEN],
    ),
    (
        "redirect uri mismatch",
        entra_error(
            50011,
            "invalid_request",
            "The redirect URI 'https://dash.example/cb' specified in "
            "the request does not match the redirect URIs configured for the application.",
        ),
        {"grant_type": "authorization_code", "redirect_uri": "https://dash.example/cb"},
        "token.redirect_uri_mismatch",
        "https://dash.example/cb",
        [None, Action.SIGN_IN],
    ),
    (
        "wrong cloud",
        entra_error(90038, "invalid_request", "Tenant is in another cloud."),
        {},
        "token.wrong_cloud",
        "separate",
        [Action.EDIT_CONNECTION, Action.REFETCH_TOKEN],
    ),
    (
        "unknown code",
        entra_error(53003, "invalid_grant", "Access has been blocked by Conditional Access policies."),
        {},
        "token.unknown",
        "Access has been blocked by Conditional Access policies.",
        [None, None, Action.REFETCH_TOKEN],
    ),
]


@pytest.mark.parametrize(
    "err, overrides, key, phrase, buttons", [c[1:] for c in TOKEN_CASES], ids=[c[0] for c in TOKEN_CASES]
)
def test_it_explains_each_token_endpoint_error(err, overrides, key, phrase, buttons):
    diagnosis = diagnose_token_error(err, ctx(**overrides))

    assert diagnosis.key == key
    assert diagnosis.severity == "error"
    assert phrase in diagnosis.explanation
    assert [a for a in actions(diagnosis) if a] == [b for b in buttons if b]
    shown = evidence(diagnosis)
    assert shown["HTTP status"].startswith(str(err.status))
    assert shown["AADSTS code"] == f"AADSTS{err.code}"
    assert shown["Trace ID"] == TRACE
    assert shown["Correlation ID"] == CORRELATION
    assert shown["Time"] == "2025-03-01 11:59:58 UTC"
    assert "Trace ID:" not in shown["Entra ID said"]  # the trailer lines are evidence rows instead


@pytest.mark.parametrize("err, overrides", [(c[1], c[2]) for c in TOKEN_CASES], ids=[c[0] for c in TOKEN_CASES])
def test_a_step_with_the_edit_button_names_that_button(err, overrides):
    """The page's button for these steps is "Edit connection"; a step must not send people looking
    for another control."""
    diagnosis = diagnose_token_error(err, ctx(**overrides))
    for step in diagnosis.steps:
        if step.action in (Action.EDIT_SECRET, Action.EDIT_CONNECTION) and "secret" in step.text.lower():
            assert "Replace secret" not in step.text
            assert "Edit connection" in step.text, step.text


def test_unknown_code_still_shows_the_code_description_and_lookup_link():
    err = entra_error(53003, "invalid_grant", "Access has been blocked by Conditional Access policies.")
    diagnosis = diagnose_token_error(err, ctx())

    assert "AADSTS53003" in diagnosis.title
    assert evidence(diagnosis)["Entra ID said"].startswith("AADSTS53003: Access has been blocked")
    assert diagnosis.steps[0].url == "https://login.microsoftonline.com/error?code=53003"


def test_secret_steps_link_the_apps_certificates_page_in_the_right_cloud():
    err = entra_error(7000222, "invalid_client", "The provided client secret keys are expired.", 401)

    global_steps = diagnose_token_error(err, ctx()).steps
    china_steps = diagnose_token_error(err, ctx(login_host="login.chinacloudapi.cn")).steps

    assert global_steps[0].url == (
        "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/"
        f"Credentials/appId/{CLIENT_ID}"
    )
    assert china_steps[0].url.startswith("https://portal.azure.cn/")


TRANSPORT_CASES = [
    ("unreachable", "Could not reach login.microsoftonline.com: connection refused", "token.unreachable", "firewall"),
    ("timeout", "No answer from login.microsoftonline.com within 10 s.", "token.timeout", "within 10 s"),
    ("tls", "TLS certificate of login.microsoftonline.com is not trusted.", "token.tls_untrusted", "GRAPH_CA_BUNDLE"),
    (
        "disallowed",
        "Host login.evil.example is not in GRAPH_ALLOWED_HOSTS.",
        "token.host_not_allowed",
        "GRAPH_ALLOWED_HOSTS",
    ),
    (
        "redirect",
        "login.microsoftonline.com redirected more than 3 times.",
        "token.too_many_redirects",
        "more than 3 times",
    ),
]


@pytest.mark.parametrize("kind, message, key, phrase", TRANSPORT_CASES, ids=[c[0] for c in TRANSPORT_CASES])
def test_it_explains_transport_failures_of_the_token_endpoint(kind, message, key, phrase):
    diagnosis = diagnose_token_error(TokenError(message, kind=kind), ctx())

    assert diagnosis.key == key
    assert phrase in diagnosis.explanation
    assert message in diagnosis.explanation
    assert evidence(diagnosis)["HTTP status"] == "no answer"
    assert evidence(diagnosis)["Time"] == "2025-03-01 12:00:00 UTC"


def test_a_graph_transport_failure_is_named_for_graph():
    err = OutboundError("unreachable", "Could not reach graph.microsoft.com: connection refused")

    diagnosis = diagnose_transport_error(err, ctx())

    assert diagnosis.key == "graph.unreachable"
    assert diagnosis.title == "Could not reach Microsoft Graph"


def test_an_html_answer_from_the_token_endpoint_says_so():
    err = TokenError(
        "The token endpoint answered with something that is not a token response (HTTP 502, text/html).",
        kind="bad_response",
        status=502,
    )

    diagnosis = diagnose_token_error(err, ctx())

    assert diagnosis.key == "token.bad_response"
    assert "(HTTP 502, text/html)" in diagnosis.explanation
    assert evidence(diagnosis)["HTTP status"] == "502 Bad Gateway"


def test_guid_shaped_secrets_are_recognised():
    assert looks_like_guid("  0f8fad5b-d9cb-469f-a165-70867728950e ")
    assert not looks_like_guid(SECRET)
    assert not looks_like_guid("")


# --- Graph ------------------------------------------------------------------------------------


def graph_body(code: str, message: str, request_id: str = "b1e4c6a1-5f7e-4d1c-9a2b-3c4d5e6f7a8b") -> dict:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": "2025-03-01T12:00:05", "request-id": request_id, "client-request-id": request_id},
        }
    }


DENIED = graph_body("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
HEADERS = {"request-id": "b1e4c6a1-5f7e-4d1c-9a2b-3c4d5e6f7a8b", "Date": "Sat, 01 Mar 2025 12:00:05 GMT"}


def graph(
    status: int,
    body: dict | None,
    *,
    token_permissions=(),
    token_kind="app",
    previous=None,
    granted=None,
    headers=HEADERS,
    **overrides,
) -> Diagnosis:
    return diagnose_graph_error(
        status, body, headers, ctx(**overrides), frozenset(token_permissions), token_kind, previous, granted
    )


def test_every_graph_diagnosis_shows_status_code_request_id_and_time():
    diagnosis = graph(403, DENIED, entity_path="groups")

    shown = evidence(diagnosis)
    assert shown["HTTP status"] == "403 Forbidden"
    assert shown["Graph code"] == "Authorization_RequestDenied"
    assert shown["Request ID"] == "b1e4c6a1-5f7e-4d1c-9a2b-3c4d5e6f7a8b"
    assert shown["Time"] == "2025-03-01T12:00:05 UTC"
    assert shown["Graph said"] == "Insufficient privileges to complete the operation."


FORBIDDEN_CASES = [
    # (id, entity, token perms, kind, granted, previous key, expected key, missing, phrases)
    (
        "no roles at all",
        "groups",
        [],
        "app",
        None,
        None,
        "graph.permission_missing",
        ("Group.ReadBasic.All",),
        [
            "no permissions at all",
            "Directory.Read.All, Group.Read.All, Directory.ReadWrite.All or Group.ReadWrite.All would also work",
            "per Microsoft's permission reference",
            "not a Delegated one",
        ],
    ),
    (
        "other roles only",
        "users",
        ["Group.Read.All"],
        "app",
        None,
        None,
        "graph.permission_missing",
        ("User.Read.All",),
        ["needs the application permission User.Read.All (the least privileged one"],
    ),
    (
        "not granted yet",
        "devices",
        [],
        "app",
        frozenset({"User.Read.All"}),
        None,
        "graph.permission_not_granted",
        ("Device.Read.All",),
        ["has not granted it to this app yet"],
    ),
    (
        "granted but token predates grant",
        "groups",
        ["User.Read.All"],
        "app",
        frozenset({"User.Read.All", "GroupMember.Read.All"}),
        None,
        "graph.granted_not_in_token",
        ("Group.ReadBasic.All",),
        ["already shows GroupMember.Read.All as granted", "fetched before"],
    ),
    (
        "granted higher permission counts",
        "groups",
        [],
        "app",
        frozenset({"Directory.Read.All"}),
        None,
        "graph.granted_not_in_token",
        ("Group.ReadBasic.All",),
        ["already shows Directory.Read.All"],
    ),
    (
        "granted, re-fetched, still absent",
        "groups",
        [],
        "app",
        frozenset({"GroupMember.Read.All"}),
        "graph.granted_not_in_token",
        "graph.grant_not_in_new_tokens",
        ("Group.ReadBasic.All",),
        ["has not reached", "few minutes"],
    ),
    (
        "not granted, re-fetched",
        "groups",
        [],
        "app",
        frozenset(),
        "graph.permission_missing",
        "graph.permission_not_granted",
        ("Group.ReadBasic.All",),
        ["re-fetching the token did not help"],
    ),
    (
        "unknown grants, re-fetched",
        "groups",
        [],
        "app",
        None,
        "graph.permission_missing",
        "graph.permission_still_missing",
        ("Group.ReadBasic.All",),
        ["still does not carry Group.ReadBasic.All", "not reached new tokens yet", "few minutes"],
    ),
    (
        "audit logs",
        "auditLogs/directoryAudits",
        [],
        "app",
        None,
        None,
        "graph.permission_missing",
        ("AuditLog.Read.All",),
        ["Directory.Read.All would also work"],
    ),
    (
        "free path members",
        "groups/0f8fad5b-d9cb-469f-a165-70867728950e/members",
        ["User.Read.All"],
        "app",
        None,
        None,
        "graph.permission_missing",
        ("GroupMember.ReadBasic.All",),
        ["Group members"],
    ),
    (
        "free path list items",
        "sites/contoso.sharepoint.com,1,2/lists/Documents/items",
        [],
        "app",
        None,
        None,
        "graph.permission_missing",
        ("Sites.Read.All",),
        ["Sites.ReadWrite.All would also work"],
    ),
    (
        "mail of a user",
        "users/adele@contoso.com/messages",
        [],
        "app",
        None,
        None,
        "graph.permission_missing",
        ("Mail.ReadBasic.All",),
        ["Mail.ReadWrite or Mail.Read would also work"],
    ),
    (
        "delegated lacks scope",
        "users",
        ["User.Read"],
        "delegated",
        None,
        None,
        "graph.permission_missing",
        ("User.Read.All",),
        ["delegated permission User.Read.All"],
    ),
    (
        "delegated token, app permission granted",
        "users",
        ["User.Read"],
        "delegated",
        frozenset({"User.Read.All"}),
        None,
        "graph.wrong_token_kind",
        ("User.Read.All",),
        ["granted User.Read.All as an application permission", "switch the connection to client credentials"],
    ),
    (
        "app token on /me",
        "me/messages",
        ["Mail.Read"],
        "app",
        None,
        None,
        "graph.needs_delegated",
        ("Mail.ReadBasic",),
        ["on behalf of a signed-in user"],
    ),
]


@pytest.mark.parametrize(
    "entity, perms, kind, granted, previous_key, key, missing, phrases",
    [c[1:] for c in FORBIDDEN_CASES],
    ids=[c[0] for c in FORBIDDEN_CASES],
)
def test_a_403_names_the_missing_permission(entity, perms, kind, granted, previous_key, key, missing, phrases):
    previous = PreviousAttempt(previous_key) if previous_key else None

    diagnosis = graph(
        403, DENIED, token_permissions=perms, token_kind=kind, previous=previous, granted=granted, entity_path=entity
    )

    assert diagnosis.key == key
    assert diagnosis.missing == missing
    for phrase in phrases:
        assert phrase in diagnosis.explanation
    assert Action.REFETCH_TOKEN in actions(diagnosis) or Action.SIGN_IN in actions(diagnosis)


def test_a_missing_permission_links_the_portal_and_admin_consent_then_refetch():
    diagnosis = graph(403, DENIED, entity_path="groups", redirect_uri="https://dash.example/oauth/callback")

    portal, consent, refetch = diagnosis.steps
    assert portal.url == (
        "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/"
        f"ApplicationMenuBlade/~/CallAnAPI/appId/{CLIENT_ID}"
    )
    assert "Application permissions, and add Group.ReadBasic.All" in portal.text
    assert consent.url == (
        f"https://login.microsoftonline.com/{TENANT}/v2.0/adminconsent?client_id={CLIENT_ID}"
        "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        "&redirect_uri=https%3A%2F%2Fdash.example%2Foauth%2Fcallback"
    )
    assert refetch.action == Action.REFETCH_TOKEN


def test_national_cloud_links_use_that_clouds_portal_and_login_host():
    diagnosis = graph(
        403,
        DENIED,
        entity_path="groups",
        login_host="login.microsoftonline.us",
        graph_service_url="https://graph.microsoft.us/v1.0",
    )

    portal, consent, _ = diagnosis.steps
    assert portal.url.startswith("https://portal.azure.us/")
    assert consent.url.startswith(f"https://login.microsoftonline.us/{TENANT}/v2.0/adminconsent?")
    assert "scope=https%3A%2F%2Fgraph.microsoft.us%2F.default" in consent.url


def test_the_sandbox_portal_page_replaces_the_azure_portal_link():
    diagnosis = graph(
        403,
        DENIED,
        entity_path="groups",
        login_host="127.0.0.1:8765",
        permissions_page_url="https://127.0.0.1:8765/_sandbox/portal",
    )

    portal, consent, _ = diagnosis.steps
    assert portal.url == "https://127.0.0.1:8765/_sandbox/portal"
    assert consent.url.startswith(f"https://127.0.0.1:8765/{TENANT}/v2.0/adminconsent?")


def test_after_a_refetch_it_shows_what_was_gained():
    previous = PreviousAttempt("graph.permission_missing", frozenset({"User.Read.All"}))

    diagnosis = graph(
        403, DENIED, token_permissions=["User.Read.All", "Device.Read.All"], previous=previous, entity_path="groups"
    )

    assert evidence(diagnosis)["Gained since the previous token"] == "Device.Read.All"


def test_previous_attempt_is_built_from_a_stored_diagnosis():
    first = graph(403, DENIED, entity_path="groups")
    stored = Diagnosis.from_dict(first.to_dict())

    again = graph(403, DENIED, entity_path="groups", previous=PreviousAttempt.of(stored, []))

    assert stored == first
    assert again.key == "graph.permission_still_missing"
    assert again.explanation != first.explanation


def test_a_403_with_the_permission_present_points_elsewhere():
    mail = graph(
        403,
        graph_body("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
        token_permissions=["Mail.Read"],
        entity_path="users/adele@contoso.com/messages",
    )
    user = graph(403, DENIED, token_permissions=["User.Read.All"], token_kind="delegated", entity_path="users")

    assert mail.key == user.key == "graph.forbidden_despite_permission"
    assert "application access policy" in mail.explanation
    assert "signed-in user's own rights" in user.explanation


def test_a_select_beyond_basic_properties_asks_for_the_fuller_permission():
    diagnosis = graph(403, DENIED, entity_path="groups", odata_select="id,displayName,createdDateTime")

    assert diagnosis.missing == ("Group.Read.All",)
    assert "Microsoft marks Group.ReadBasic.All as the least privileged" in diagnosis.explanation
    assert "returns only basic properties" in diagnosis.explanation
    assert graph(403, DENIED, entity_path="groups", odata_select="id,displayName").missing == ("Group.ReadBasic.All",)


def test_a_403_on_a_path_the_catalogue_does_not_know_is_still_explained():
    diagnosis = graph(403, DENIED, entity_path="contoso/custom/things", token_permissions=["User.Read.All"])

    assert diagnosis.key == "graph.forbidden"
    assert "User.Read.All" in diagnosis.explanation
    assert actions(diagnosis)[-1] == Action.REFETCH_TOKEN


UNAUTHORIZED_CASES = [
    (
        "Lifetime validation failed, the token is expired.",
        None,
        "graph.token_expired",
        "warning",
        "re-fetches the token automatically once",
    ),
    (
        "Lifetime validation failed, the token is expired.",
        "graph.token_expired",
        "graph.token_expired",
        "error",
        "clock",
    ),
    ("Access token is empty.", None, "graph.token_invalid", "error", "no token at all"),
    (
        "CompactToken parsing failed with error code: 80049217",
        None,
        "graph.token_invalid",
        "error",
        "could not parse the token",
    ),
    (
        "Access token validation failure. Invalid audience.",
        None,
        "graph.wrong_audience",
        "error",
        "https://graph.microsoft.com/.default",
    ),
    (
        "Continuous access evaluation resulted in claims challenge with result: InteractionRequired and "
        "code: TokenIssuedBeforeRevocationTimestamp",
        None,
        "graph.session_revoked",
        "error",
        "sign in again",
    ),
    ("Something new.", None, "graph.token_invalid", "error", "Something new."),
]


@pytest.mark.parametrize(
    "message, previous_key, key, severity, phrase", UNAUTHORIZED_CASES, ids=[c[0][:30] for c in UNAUTHORIZED_CASES]
)
def test_a_401_is_explained_by_its_message(message, previous_key, key, severity, phrase):
    previous = PreviousAttempt(previous_key) if previous_key else None

    diagnosis = graph(401, graph_body("InvalidAuthenticationToken", message), previous=previous)

    assert diagnosis.key == key
    assert diagnosis.severity == severity
    assert phrase in diagnosis.explanation
    assert {Action.REFETCH_TOKEN, Action.SIGN_IN} & set(actions(diagnosis))


def test_throttling_shows_retry_after():
    diagnosis = graph(
        429, graph_body("TooManyRequests", "Please retry again later."), headers={**HEADERS, "Retry-After": "7"}
    )

    assert diagnosis.key == "graph.throttled"
    assert "wait 7 seconds" in diagnosis.explanation
    assert evidence(diagnosis)["Retry-After"] == "7 s"
    assert actions(diagnosis) == [Action.RETRY]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_microsofts_side(status):
    diagnosis = graph(status, graph_body("serviceNotAvailable", "Service unavailable"))

    assert diagnosis.key == "graph.server_error"
    assert "not in the connection" in diagnosis.explanation
    assert Action.RETRY in actions(diagnosis)


def test_a_server_error_without_a_json_body_is_still_explained():
    diagnosis = graph(502, None, headers={})

    assert diagnosis.key == "graph.server_error"
    assert evidence(diagnosis)["Graph code"] == "none"
    assert evidence(diagnosis)["Request ID"] == "none"
    assert evidence(diagnosis)["Time"] == "2025-03-01 12:00:00 UTC"


NOT_FOUND_CASES = [
    ("usrs", "graph.not_found", "spelling"),
    ("groups/0f8fad5b-d9cb-469f-a165-70867728950e/members", "graph.item_not_found", "the ID in the path"),
    ("users/ghost@contoso.com", "graph.item_not_found", "deleted"),
]


@pytest.mark.parametrize("path, key, phrase", NOT_FOUND_CASES, ids=[c[0] for c in NOT_FOUND_CASES])
def test_a_404_tells_a_wrong_path_from_a_missing_item(path, key, phrase):
    diagnosis = graph(404, graph_body("Request_ResourceNotFound", "Resource 'x' does not exist."), entity_path=path)

    assert diagnosis.key == key
    assert phrase in diagnosis.explanation
    assert actions(diagnosis) == [Action.EDIT_CONNECTION]


BAD_REQUEST_CASES = [
    (
        "Request_UnsupportedQuery",
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
        "graph.bad_query",
        "between 1 and 999",
    ),
    (
        "Request_UnsupportedQuery",
        "Operator 'endsWith' is not supported because the required parameters "
        "might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header.",
        "graph.bad_query",
        "advanced query",
    ),
    (
        "Request_BadRequest",
        "Could not find a property named 'foo' on type 'microsoft.graph.user'.",
        "graph.bad_query",
        "case-sensitive",
    ),
    ("BadRequest", "Resource not found for the segment 'usrs'.", "graph.not_found", "spelling"),
    (
        "BadRequest",
        "/me request is only valid with delegated authentication flow.",
        "graph.needs_delegated",
        "signed-in user",
    ),
]


@pytest.mark.parametrize(
    "code, message, key, phrase", BAD_REQUEST_CASES, ids=[c[2] + ":" + c[3] for c in BAD_REQUEST_CASES]
)
def test_a_400_shows_graphs_own_message(code, message, key, phrase):
    diagnosis = graph(400, graph_body(code, message), entity_path="me/messages" if "/me" in message else "usrs")

    assert diagnosis.key == key
    assert phrase in diagnosis.explanation
    if key == "graph.bad_query":
        assert message in diagnosis.explanation


def test_no_diagnosis_ever_shows_a_secret_or_token():
    contexts = [ctx(secret_looks_like_guid=True), ctx()]
    errors = [c[1] for c in TOKEN_CASES]
    found = [diagnose_token_error(e, c) for e in errors for c in contexts]
    found += [graph(s, DENIED, token_permissions=["User.Read.All"]) for s in (400, 401, 403, 404, 429, 503)]

    for diagnosis in found:
        text = all_text(diagnosis)
        assert SECRET not in text and TOKEN not in text
        assert "client_secret=" not in text


@pytest.mark.parametrize(
    "status, error", [(503, "temporarily_unavailable"), (500, "server_error"), (429, "temporarily_unavailable")]
)
def test_a_transient_entra_failure_is_microsofts_side(status, error):
    err = entra_error(90033, error, "A transient error has occurred. Please try again.", status)

    diagnosis = diagnose_token_error(err, ctx())

    assert diagnosis.key == "token.service_unavailable"
    assert diagnosis.severity == "warning"
    assert "not in the connection" in diagnosis.explanation
    assert evidence(diagnosis)["AADSTS code"] == "AADSTS90033"


def test_not_granted_is_claimed_because_every_accepted_role_id_is_in_the_reference():
    diagnosis = graph(403, DENIED, entity_path="domains", granted=frozenset({"User.Read.All"}))

    assert diagnosis.key == "graph.permission_not_granted"
    assert diagnosis.missing == ("Domain.Read.All",)
