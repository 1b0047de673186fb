"""Turn a failed token or Graph request into a plain explanation and the next steps.

Pure functions: no I/O, no Django, no clock other than a default "now" for the evidence. The
caller passes what it knows (the error, the connection's context, the token's permissions, what
the tenant has granted when that is readable, and the diagnosis before a re-fetch) and renders the
``Diagnosis``: a title, an explanation, evidence rows and steps, where a step's ``action`` names a
dashboard button (see the ``ACTION_*`` constants). Nothing here ever holds a secret or a token.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from http import HTTPStatus
from typing import Any

from microsoft import catalogue
from microsoft.claims import diff
from microsoft.outbound import OutboundError
from microsoft.tokenclient import (
    CLOUDS,
    TokenError,
    cloud_for_login_host,
    default_scope_or_resource,
    graph_admin_consent_url,
    portal_app_url,
)

# Buttons the dashboard renders for a step.
ACTION_REFETCH_TOKEN = "refetch_token"
ACTION_EDIT_SECRET = "edit_secret"
ACTION_EDIT_CONNECTION = "edit_connection"
ACTION_SIGN_IN = "sign_in"
ACTION_RETRY = "retry"
ACTION_ADMIN_CONSENT = "admin_consent"  # the consent round trip (state bound to the session)

SERVICE_HEALTH_URL = "https://admin.microsoft.com/Adminportal/Home#/servicehealth"


@dataclass(frozen=True)
class Step:
    text: str
    url: str | None = None
    action: str | None = None


@dataclass(frozen=True)
class Diagnosis:
    """``key`` is stable (for tests, storage and ``PreviousAttempt``); ``severity`` is error,
    warning or info. ``missing`` lists the permissions this diagnosis says the token lacks."""

    key: str
    severity: str
    title: str
    explanation: str
    evidence: list[tuple[str, str]]
    steps: list[Step]
    missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, to store a diagnosis with a run or a token."""
        data = asdict(self)
        data["evidence"] = [list(row) for row in self.evidence]
        data["missing"] = list(self.missing)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnosis:
        return cls(
            key=data["key"],
            severity=data["severity"],
            title=data["title"],
            explanation=data["explanation"],
            evidence=[(str(a), str(b)) for a, b in data.get("evidence", [])],
            steps=[Step(**s) for s in data.get("steps", [])],
            missing=tuple(data.get("missing", ())),
        )


@dataclass(frozen=True)
class Context:
    """What the dashboard knows about the connection (never its secret)."""

    connection_name: str
    tenant: str
    client_id: str
    entity_path: str | None = None
    login_host: str = "login.microsoftonline.com"  # host[:port]; the sandbox's for sandbox profiles
    cloud: str | None = None  # global, usgov, usdod, china; None: from login_host
    grant_type: str = "client_credentials"
    redirect_uri: str | None = None
    secret_looks_like_guid: bool = False
    scope_or_resource: str | None = None
    endpoint_version: str = "v2"
    graph_service_url: str = "https://graph.microsoft.com/v1.0"
    secret_expires_on: date | None = None
    permissions_page_url: str | None = None  # replaces the Azure portal link (e.g. sandbox portal)
    odata_select: str = ""  # the connection's $select: basic permissions return only some properties
    now: datetime | None = None
    certificate_thumbprint: str | None = None  # SHA-1, of the certificate a private_key_jwt connection signs with

    @property
    def portal_cloud(self) -> str:
        return self.cloud or cloud_for_login_host(self.login_host).name

    @property
    def delegated(self) -> bool:
        return self.grant_type in ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class PreviousAttempt:
    """The diagnosis shown before the latest re-fetch, and the permissions that older token had."""

    key: str
    token_permissions: frozenset[str] = frozenset()
    missing: tuple[str, ...] = ()

    @classmethod
    def of(cls, diagnosis: Diagnosis, token_permissions: Iterable[str] = ()) -> PreviousAttempt:
        return cls(diagnosis.key, frozenset(token_permissions), diagnosis.missing)


_GUID = re.compile(r"^\s*[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\s*$")


def looks_like_guid(value: str) -> bool:
    """True for a GUID, which is what a client secret's *ID* looks like (its value never does)."""
    return bool(_GUID.match(value or ""))


# --- small wording helpers ---------------------------------------------------------------------


def _join(items: Iterable[str], last: str) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _or(items: Iterable[str]) -> str:
    return _join(items, "or")


def _and(items: Iterable[str]) -> str:
    return _join(items, "and")


def _time(value: datetime | None, ctx: Context) -> str:
    when = value or ctx.now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _status_text(status: int | None) -> str:
    if not status:
        return "no answer"
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _kind_word(token_kind: str) -> str:
    return "application" if token_kind == "app" else "delegated"


# --- steps shared by several diagnoses ---------------------------------------------------------


def _refetch_step(text: str = "Press Re-fetch token to get a new token with the current settings.") -> Step:
    return Step(text, action=ACTION_REFETCH_TOKEN)


def _portal(ctx: Context, blade: str) -> str:
    if blade == "CallAnAPI" and ctx.permissions_page_url:
        return ctx.permissions_page_url
    return portal_app_url(ctx.client_id, ctx.portal_cloud, blade)


def _permissions_page_step(ctx: Context, text: str) -> Step:
    return Step(text, url=_portal(ctx, "CallAnAPI"))


def _admin_consent_step(ctx: Context, text: str | None = None) -> Step:
    url = graph_admin_consent_url(ctx.login_host, ctx.tenant, ctx.client_id, ctx.graph_service_url,
                                  redirect_uri=ctx.redirect_uri)
    return Step(
        text or "Grant admin consent for the tenant (a Global Administrator or Privileged Role "
        "Administrator has to do this): open the consent page and accept.",
        url=url, action=ACTION_ADMIN_CONSENT,
    )


def _edit_connection_step(text: str) -> Step:
    return Step(text, action=ACTION_EDIT_CONNECTION)


# --- token endpoint errors --------------------------------------------------------------------

_GRANT_EXPIRED = {70008, 700082, 50173, 54005, 70000}
_MISSING_SECRET = {7000218, 90014, 70002}
_INVALID_RESOURCE = {500011, 50001}
_WRONG_CLOUD = {90038, 900432}
_UNAVAILABLE_ERRORS = {"temporarily_unavailable", "server_error"}


def diagnose_token_error(err: TokenError, ctx: Context) -> Diagnosis:
    """Explain why the token endpoint gave no token (an AADSTS error or a transport failure)."""
    if err.kind != "aadsts":
        return _transport(err.kind, err.description, ctx, "the token endpoint", err.status)
    evidence = _token_evidence(err, ctx)
    code = err.code
    builder = _TOKEN_BUILDERS.get(code) if code else None
    if builder is None:
        if (err.status or 0) >= 500 or err.status == 429 or str(err.error) in _UNAVAILABLE_ERRORS:
            builder = _entra_unavailable
        elif code in _GRANT_EXPIRED:
            builder = _grant_expired
        elif code in _MISSING_SECRET:
            builder = _missing_secret
        elif code in _INVALID_RESOURCE:
            builder = _invalid_resource
        elif code in _WRONG_CLOUD:
            builder = _wrong_cloud
        else:
            builder = _unknown_aadsts
    return builder(err, ctx, evidence)


def _token_evidence(err: TokenError, ctx: Context) -> list[tuple[str, str]]:
    rows = [
        ("HTTP status", _status_text(err.status)),
        ("AADSTS code", _and(f"AADSTS{c}" for c in err.codes) or "none"),
        ("Error", err.error or "none"),
        ("Entra ID said", err.description),
        ("Trace ID", err.trace_id or "none"),
    ]
    if err.correlation_id:
        rows.append(("Correlation ID", err.correlation_id))
    rows += [
        ("Time", _time(err.timestamp, ctx)),
        ("Tenant", ctx.tenant),
        ("App (client) ID", ctx.client_id),
        ("Grant type", ctx.grant_type),
    ]
    return rows


def _new_secret_steps(ctx: Context, first: str) -> list[Step]:
    return [
        Step(first, url=_portal(ctx, "Credentials")),
        Step("Paste the new secret's Value into this connection with Replace secret.",
             action=ACTION_EDIT_SECRET),
        _refetch_step(),
    ]


def _bad_secret(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    if ctx.secret_looks_like_guid:
        return Diagnosis(
            "token.secret_id_pasted", "error",
            "The secret's ID was saved instead of the secret's value",
            "Entra ID rejected the client secret. The saved secret is shaped like a GUID, which is "
            "what the Secret ID column in the Azure portal shows. The token endpoint needs the other "
            "column, Value: a string of about 40 characters that the portal shows only once, right "
            "after the secret is created. If you no longer have it, create a new secret and copy "
            "its Value straight away.",
            evidence,
            _new_secret_steps(
                ctx, "Open the app's Certificates & secrets page. If you cannot see the Value any "
                "more, choose New client secret and copy the Value column (not Secret ID)."
            ),
        )
    return Diagnosis(
        "token.bad_secret", "error",
        "The client secret is wrong",
        f"Entra ID does not recognise the saved client secret for app {ctx.client_id}. The secret "
        "was mistyped, belongs to another app registration, or was deleted in the Azure portal. "
        "Make sure you copy the secret's Value column, not its Secret ID.",
        evidence,
        _new_secret_steps(
            ctx, "Open the app's Certificates & secrets page and check that the secret still "
            "exists; if you do not have its Value any more, create a new client secret."
        ),
    )


def _expired_secret(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    expiry = (
        f" The expiry date saved with this connection is {ctx.secret_expires_on:%Y-%m-%d}."
        if ctx.secret_expires_on else ""
    )
    if ctx.secret_expires_on:
        evidence = evidence + [("Saved secret expiry", f"{ctx.secret_expires_on:%Y-%m-%d}")]
    return Diagnosis(
        "token.secret_expired", "error",
        "The client secret has expired",
        f"The client secret saved for app {ctx.client_id} has passed its expiry date, so Entra ID "
        f"no longer accepts it.{expiry} Secrets cannot be extended: create a new one and save its "
        "Value here.",
        evidence,
        _new_secret_steps(ctx, "Open the app's Certificates & secrets page and create a new client "
                          "secret; copy its Value (shown only once)."),
    )


def _app_not_found(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return Diagnosis(
        "token.app_not_found", "error",
        "The app is not known in this tenant",
        f"Entra ID found no application with ID {ctx.client_id} in tenant {ctx.tenant}. Either the "
        "Application (client) ID is mistyped, the connection points at another tenant than the one "
        "the app is registered in, or the app was deleted. A multi-tenant app registered elsewhere "
        "must first be consented to by an administrator of this tenant.",
        evidence,
        [
            Step("Compare the Application (client) ID and the Directory (tenant) ID on the app's "
                 "Overview page with this connection.", url=_portal(ctx, "Overview")),
            _edit_connection_step("Correct the app ID or the tenant in the connection."),
            _admin_consent_step(ctx, "If the app is registered in another tenant, have an "
                                "administrator of this tenant grant consent to it."),
            _refetch_step(),
        ],
    )


def _tenant_not_found(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return Diagnosis(
        "token.tenant_not_found", "error",
        "The tenant does not exist (in this cloud)",
        f"Entra ID has no tenant called {ctx.tenant!r} at {ctx.login_host}. Check the tenant ID "
        "(a GUID) or domain for typos, and check that the connection uses the right cloud: a US "
        "Government or China tenant cannot sign in at the global login host, and the reverse.",
        evidence,
        [
            Step("Look up the Tenant ID on the Microsoft Entra overview page of your tenant.",
                 url=f"https://{_portal_host(ctx)}/#view/Microsoft_AAD_IAM/ActiveDirectoryMenuBlade/~/Overview"),
            _edit_connection_step("Correct the tenant (and the token URL) in the connection."),
            _refetch_step(),
        ],
    )


def _portal_host(ctx: Context) -> str:
    return CLOUDS[ctx.portal_cloud].portal_host


def _invalid_scope(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    expected = default_scope_or_resource("v2", ctx.graph_service_url)
    saved = ctx.scope_or_resource or "(empty)"
    why = (
        "With client credentials the scope must be the API's address followed by /.default, "
        f"exactly {expected}: individual permission names are not accepted, because the token "
        "gets every application permission already granted to the app."
        if not ctx.delegated else
        f"Scopes must all belong to one API (for Graph, {expected} or names such as "
        "https://graph.microsoft.com/User.Read) and be separated by spaces."
    )
    return Diagnosis(
        "token.invalid_scope", "error",
        "The scope is not valid",
        f"Entra ID rejected the scope {saved!r}. {why}",
        evidence + [("Saved scope", saved)],
        [
            _edit_connection_step(f"Set the scope to {expected}."),
            _refetch_step(),
        ],
    )


def _invalid_resource(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    expected = default_scope_or_resource("v1", ctx.graph_service_url)
    saved = ctx.scope_or_resource or "(empty)"
    return Diagnosis(
        "token.invalid_resource", "error",
        "The resource is not valid",
        f"Entra ID does not know the resource {saved!r} in this tenant. On the v1 token endpoint "
        f"the resource for Microsoft Graph is {expected}, without /.default and without a version "
        "such as /v1.0. (On the v2 endpoint use a scope instead: "
        f"{default_scope_or_resource('v2', ctx.graph_service_url)}.)",
        evidence + [("Saved resource", saved)],
        [
            _edit_connection_step(f"Set the resource to {expected}."),
            _refetch_step(),
        ],
    )


def _consent_required(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return Diagnosis(
        "token.consent_required", "error",
        "Nobody has consented to this app's permissions yet",
        f"Neither the signed-in user nor an administrator has consented to app {ctx.client_id} "
        "using the permissions it asks for, so Entra ID will not issue a token for it. An "
        "administrator can grant consent for the whole tenant; otherwise the user must sign in "
        "again and accept the consent prompt.",
        evidence,
        [
            _admin_consent_step(ctx),
            Step("Or sign in again and accept the consent prompt.", action=ACTION_SIGN_IN),
        ],
    )


def _grant_expired(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    reasons = {
        70008: "the sign-in code or refresh token expired because it was not used for a while",
        700082: "the refresh token was not used for 90 days and has expired",
        50173: "the refresh token was revoked, usually because the user changed their password or "
               "an administrator revoked their sessions",
        54005: "the sign-in code was already used once",
    }
    reason = reasons.get(err.code or 0, "the sign-in (authorization code or refresh token) is no "
                                       "longer valid")
    return Diagnosis(
        "token.sign_in_again", "error",
        "Sign in again",
        f"Entra ID refused the saved sign-in: {reason}. The dashboard cannot renew this "
        "connection's tokens on its own any more; someone has to sign in once more.",
        evidence,
        [Step("Press Sign in and complete the Microsoft sign-in.", action=ACTION_SIGN_IN)],
    )


def _missing_secret(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return Diagnosis(
        "token.missing_secret", "error",
        "No client secret was sent",
        f"Entra ID expects a client secret for app {ctx.client_id}, but the token request carried "
        "none. This connection has no secret saved, or it could not be decrypted.",
        evidence,
        [
            Step("Save the secret's Value in the connection with Replace secret.",
                 action=ACTION_EDIT_SECRET),
            _refetch_step(),
        ],
    )


def _wrong_cloud(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return Diagnosis(
        "token.wrong_cloud", "error",
        "The tenant or app belongs to another Microsoft cloud",
        f"Tenant {ctx.tenant} or app {ctx.client_id} lives in a different Microsoft cloud from the "
        f"login host {ctx.login_host} (global, US Government and China are separate). Use that "
        "cloud's login host and Graph URL.",
        evidence,
        [_edit_connection_step("Change the token URL and Graph service URL to the tenant's cloud."),
         _refetch_step()],
    )


def _redirect_mismatch(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return Diagnosis(
        "token.redirect_uri_mismatch", "error",
        "The redirect URL is not registered on the app",
        f"The redirect URL {ctx.redirect_uri or '(none)'} is not among the app's registered redirect "
        "URIs. Add it exactly (scheme, host, port and path) under Authentication as a Web "
        "platform redirect URI.",
        evidence,
        [Step("Add the redirect URL on the app's Authentication page.", url=_portal(ctx, "Authentication")),
         Step("Then sign in again.", action=ACTION_SIGN_IN)],
    )


def _entra_unavailable(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return Diagnosis(
        "token.service_unavailable", "warning",
        "Entra ID is temporarily unavailable",
        f"The token endpoint answered {_status_text(err.status)}: a temporary problem at Microsoft, "
        "not in the connection. The dashboard retried a few times before giving up. Try again in a "
        "few minutes; if it lasts, check Microsoft 365 service health.",
        evidence,
        [_refetch_step("Press Re-fetch token in a few minutes."),
         Step("Check Microsoft 365 service health.", url=SERVICE_HEALTH_URL)],
    )


def _unknown_aadsts(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    code = f"AADSTS{err.code}" if err.code else (err.error or "an error")
    lookup = err.error_uri or (
        f"https://login.microsoftonline.com/error?code={err.code}" if err.code else None
    )
    return Diagnosis(
        "token.unknown", "error",
        f"Entra ID refused the token request ({code})",
        f"Entra ID answered with {code}, which the dashboard has no specific advice for. Its own "
        f"words: {err.description}",
        evidence,
        [
            Step(f"Look up {code} in Microsoft's error reference.", url=lookup),
            Step("If you open a support case, quote the Trace ID and the time shown above."),
            _refetch_step("After fixing the cause, press Re-fetch token."),
        ],
    )


_TOKEN_BUILDERS = {
    7000215: _bad_secret,
    7000222: _expired_secret,
    700016: _app_not_found,
    90002: _tenant_not_found,
    70011: _invalid_scope,
    65001: _consent_required,
    50011: _redirect_mismatch,
}


# --- transport failures -----------------------------------------------------------------------


def diagnose_transport_error(err: OutboundError, ctx: Context, service: str = "Microsoft Graph") -> Diagnosis:
    """Explain an ``OutboundError`` from a Graph request (token requests come via TokenError)."""
    return _transport(err.kind, err.message, ctx, service, None)


def _transport(kind: str, message: str, ctx: Context, service: str, status: int | None) -> Diagnosis:
    evidence = [
        ("HTTP status", _status_text(status)),
        ("AADSTS or Graph code", "none (no answer from the service)" if not status else "none"),
        ("What happened", message),
        ("Request ID", "none"),
        ("Time", _time(None, ctx)),
    ]
    message = message if message.endswith((".", "!", "?", ")")) else f"{message}."
    retry = Step("Try again.", action=ACTION_RETRY)
    edit = _edit_connection_step("Check the URLs saved in the connection.")
    texts: dict[str, tuple[str, str, str, list[Step]]] = {
        "unreachable": (
            "unreachable", f"Could not reach {service}",
            f"{message} The dashboard server could not open a connection. Check the URL in the "
            "connection, and the server's network: DNS, firewall, outbound proxy. The dashboard "
            "retried a few times before giving up.",
            [edit, retry],
        ),
        "timeout": (
            "timeout", f"{service[0].upper()}{service[1:]} did not answer in time",
            f"{message} The service accepted the connection, or tried to, but sent no answer in "
            "time. This is usually a temporary problem on the network or at the service.",
            [retry],
        ),
        "tls": (
            "tls_untrusted", f"The TLS certificate of {service} is not trusted",
            f"{message} The dashboard always verifies certificates. A proxy that inspects TLS "
            "traffic replaces Microsoft's certificates with its own; add that proxy's CA "
            "certificate to GRAPH_CA_BUNDLE. For a sandbox, point GRAPH_CA_BUNDLE at its CA file.",
            [retry],
        ),
        "disallowed": (
            "host_not_allowed", "The URL points to a host the dashboard may not call",
            f"{message} To protect the server, outbound requests go only to Microsoft's login and "
            "Graph hosts and to hosts the operator lists in GRAPH_ALLOWED_HOSTS, always over "
            "https. Correct the URL, or ask the operator to allow the host.",
            [_edit_connection_step("Correct the token, authorise or Graph URL in the connection.")],
        ),
        "redirect": (
            "too_many_redirects", f"{service[0].upper()}{service[1:]} redirected too often",
            f"{message} The URL probably points at a sign-in page or a proxy rather than the API.",
            [edit],
        ),
        "bad_response": (
            "bad_response", f"{service[0].upper()}{service[1:]} sent an unexpected answer",
            f"{message} Something other than Entra ID answered: often a proxy, a captive portal "
            "or a wrong token URL. Check the token URL; if it is right, try again later.",
            [edit, retry],
        ),
    }
    suffix, title, explanation, steps = texts.get(kind, (
        "transport", f"The request to {service} failed", message, [retry],
    ))
    prefix = "token" if service == "the token endpoint" else "graph"
    return Diagnosis(f"{prefix}.{suffix}", "error", title, explanation, evidence, steps)


# --- Graph errors -----------------------------------------------------------------------------

_PERMISSION_KEYS = frozenset({
    "graph.permission_missing",
    "graph.permission_not_granted",
    "graph.granted_not_in_token",
    "graph.grant_not_in_new_tokens",
    "graph.permission_still_missing",
})


@dataclass
class _GraphFacts:
    status: int
    code: str
    message: str
    request_id: str
    date: str | None
    retry_after: str | None
    evidence: list[tuple[str, str]] = field(default_factory=list)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _facts(status: int, body: dict | None, headers: Mapping[str, str] | None, ctx: Context,
           token_permissions: frozenset[str], token_kind: str) -> _GraphFacts:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and isinstance(body, dict):  # {"error": "text"} (a gateway, or OAuth's shape) instead of Graph's object
        error = {"message": str(body.get("error_description") or error)[:500]}
    elif not isinstance(error, dict):  # HTML, plain text or no body: its first words are the message
        text = body.get("_text") if isinstance(body, dict) else None
        words = " ".join(re.sub(r"<[^>]*>", " ", str(text or "")).split())  # an HTML page's text
        error = {"message": words[:300]} if words else {}
    inner = error.get("innerError") or error.get("innererror") or {}
    inner = inner if isinstance(inner, dict) else {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or "")
    request_id = _header(headers, "request-id") or str(inner.get("request-id") or "") or "none"
    date_text = inner.get("date") or _header(headers, "Date")
    facts = _GraphFacts(status, code, message, request_id, date_text, _header(headers, "Retry-After"))
    facts.evidence = [
        ("HTTP status", _status_text(status)),
        ("Graph code", code or "none"),
        ("Graph said", message or "(no message)"),
        ("Request ID", request_id),
        ("Time", f"{inner['date']} UTC" if isinstance(inner.get("date"), str)
         else date_text or _time(None, ctx)),
        ("Entity path", ctx.entity_path or "(none)"),
        (f"Token permissions ({_kind_word(token_kind)})", ", ".join(sorted(token_permissions)) or "none"),
    ]
    if facts.retry_after:
        facts.evidence.append(("Retry-After", f"{facts.retry_after} s"))
    return facts


def diagnose_graph_error(
    status: int,
    body: dict | None,
    headers: Mapping[str, str] | None,
    ctx: Context,
    token_permissions: frozenset[str],
    token_kind: str,
    previous: PreviousAttempt | None = None,
    granted: frozenset[str] | None = None,
) -> Diagnosis:
    """Explain a failed Graph response.

    ``token_permissions``: the token's roles (``token_kind="app"``) or scp (``"delegated"``).
    ``granted``: the app's Graph application permissions from its appRoleAssignments, None if
    unreadable. ``previous``: the diagnosis shown before the latest re-fetch, if any.
    """
    facts = _facts(status, body, headers, ctx, token_permissions, token_kind)
    if status == 401:
        return _unauthorized(facts, ctx, previous)
    if status == 403:
        return _forbidden(facts, ctx, token_permissions, token_kind, previous, granted)
    if status == 429:
        return _throttled(facts, ctx)
    if status == 404:
        return _not_found(facts, ctx)
    if status in (400, 501):
        return _bad_request(facts, ctx, token_kind)
    if status >= 500:
        return _server_error(facts, ctx)
    return Diagnosis(
        "graph.unexpected", "error", f"Microsoft Graph answered HTTP {status}",
        f"Graph did not return the data. Its own words: {facts.message or '(no message)'}",
        facts.evidence, [Step("Try again.", action=ACTION_RETRY)],
    )


def _unauthorized(facts: _GraphFacts, ctx: Context, previous: PreviousAttempt | None) -> Diagnosis:
    text = facts.message.lower()
    if "expired" in text or "lifetime validation" in text or "not yet valid" in text:
        again = previous is not None and previous.key == "graph.token_expired"
        return Diagnosis(
            "graph.token_expired", "error" if again else "warning",
            "The access token had expired",
            "Graph refused the token because its lifetime was over (tokens last about an hour). "
            "When this happens the dashboard re-fetches the token automatically once and tries "
            "again. "
            + ("It has happened again right after a fresh token, so check that the dashboard "
               "server's clock is correct: a clock that runs ahead or behind makes new tokens "
               "look expired." if again else
               "If the request still failed, press Re-fetch token."),
            facts.evidence, [_refetch_step()],
        )
    if "empty" in text:
        title, why = ("The request carried no access token",
                      "Graph received no token at all. The connection probably has no valid token "
                      "yet; fetch one.")
    elif "compacttoken" in text or "parsing failed" in text:
        title, why = ("The access token is not readable by Graph",
                      "Graph could not parse the token. The saved token is damaged or is not a "
                      "token for Microsoft Graph. Fetching a new one usually fixes this.")
    elif "audience" in text or "validation failure" in text:
        expected = default_scope_or_resource(ctx.endpoint_version, ctx.graph_service_url)
        return Diagnosis(
            "graph.wrong_audience", "error", "The token is not meant for Microsoft Graph",
            "Graph rejected the token: it was issued for another API (its audience is not "
            f"Graph), or its signature did not check out. Make sure the connection's "
            f"{'resource' if ctx.endpoint_version == 'v1' else 'scope'} is {expected}, then "
            "re-fetch the token.",
            facts.evidence,
            [_edit_connection_step(f"Set the {'resource' if ctx.endpoint_version == 'v1' else 'scope'} "
                                   f"to {expected}."), _refetch_step()],
        )
    elif "continuous access evaluation" in text or "claims challenge" in text:
        return Diagnosis(
            "graph.session_revoked", "error", "The sign-in was revoked",
            "Graph rejected the token because the user's session was revoked after the token was "
            "issued (a password change, a disabled account or an administrator's action). The user "
            "must sign in again.",
            facts.evidence,
            [Step("Press Sign in and complete the Microsoft sign-in.", action=ACTION_SIGN_IN)],
        )
    else:
        title, why = ("Graph did not accept the access token",
                      f"Graph refused the token. Its own words: {facts.message or '(no message)'}")
    return Diagnosis("graph.token_invalid", "error", title, why, facts.evidence, [_refetch_step()])


def _forbidden(facts: _GraphFacts, ctx: Context, perms: frozenset[str], token_kind: str,
               previous: PreviousAttempt | None, granted: frozenset[str] | None) -> Diagnosis:
    entity = catalogue.resolve(ctx.entity_path or "")
    kind = _kind_word(token_kind)
    if entity is None:
        return Diagnosis(
            "graph.forbidden", "error", "Graph refused access",
            f"Graph refused to read {ctx.entity_path or 'this path'} with this token. The dashboard "
            "does not know which permission this path needs, so check Microsoft's documentation "
            f"for the request and add that {kind} permission to the app. The token currently "
            f"carries: {', '.join(sorted(perms)) or 'no permissions at all'}.",
            facts.evidence,
            [_permissions_page_step(ctx, "Open the app's API permissions page and add the "
                                    "permission the request needs."),
             _admin_consent_step(ctx), _refetch_step()],
        )
    rule = entity.rule(token_kind, ctx.odata_select)
    other = entity.rule("delegated" if token_kind == "app" else "app")
    what = f"{entity.display_name} ({ctx.entity_path})" if entity.listed or entity.display_name != entity.path else (ctx.entity_path or "")
    if not rule.possible:
        return _wrong_kind_only(facts, what, token_kind, other.least[0])
    missing = rule.missing(perms)
    if not missing:
        return _forbidden_despite_permission(facts, ctx, what, rule.present(perms), token_kind)
    need = _need_sentence(rule, missing, kind, what)
    evidence = facts.evidence + [("Needed (least privileged first)", _or(rule.accepted))]
    if previous is not None:
        gained, lost = diff(previous.token_permissions, perms)
        evidence.append(("Gained since the previous token", ", ".join(sorted(gained)) or "nothing"))
        if lost:
            evidence.append(("Lost since the previous token", ", ".join(sorted(lost))))
    refetched = previous is not None and previous.key in _PERMISSION_KEYS
    hint = (" Add it as an Application permission, not a Delegated one: a delegated permission "
            "never appears in a token fetched with client credentials."
            if token_kind == "app" else "")
    add_step = _permissions_page_step(
        ctx, f"On the app's API permissions page, choose Add a permission, Microsoft Graph, "
             f"{'Application' if token_kind == 'app' else 'Delegated'} permissions, and add "
             f"{_and(missing)}.")

    if token_kind == "delegated" and granted is not None and entity.application.satisfied_by(granted):
        return Diagnosis(
            "graph.wrong_token_kind", "error", "The app has an application permission, but this connection signs in as a user",
            f"{need} The app has been granted {_and(entity.application.present(granted))} as an "
            "application permission, but this connection uses a user sign-in "
            f"({ctx.grant_type}), so its tokens carry delegated permissions (scp) only. Either add "
            f"{_and(missing)} as a delegated permission, or switch the connection to client "
            "credentials.",
            evidence,
            [add_step, _admin_consent_step(ctx),
             _edit_connection_step("Or switch the grant type to client credentials."),
             _refetch_step()],
            missing,
        )

    if granted is not None and not rule.satisfied_by(granted) and not _recognisable(rule):
        granted = None  # a grant of a permission without a known role id would be invisible
    if granted is not None and token_kind == "app":
        granted_here = rule.present(granted)
        if rule.satisfied_by(granted):
            if refetched:
                return Diagnosis(
                    "graph.grant_not_in_new_tokens", "warning",
                    "The permission is granted but has not reached new tokens yet",
                    f"{need} The tenant shows {_and(granted_here)} as granted, and the dashboard "
                    "fetched a new token after that, but the new token still does not carry it: the "
                    "grant has not reached new tokens yet. Entra ID can take a few minutes before "
                    "a fresh grant is included in tokens (occasionally longer). Wait a few minutes, then re-fetch the token again.",
                    evidence,
                    [_refetch_step("Wait a few minutes, then press Re-fetch token again.")],
                    missing,
                )
            return Diagnosis(
                "graph.granted_not_in_token", "warning",
                "The permission is granted, but the current token predates the grant",
                f"{need} The tenant already shows {_and(granted_here)} as granted, but the token "
                "this connection used was fetched before that grant, and a token never gains "
                "permissions after it is issued. A new token will carry it.",
                evidence,
                [_refetch_step()],
                missing,
            )
        return Diagnosis(
            "graph.permission_not_granted", "error",
            f"{_and(missing)} is not granted yet" if len(missing) == 1 else
            f"{_and(missing)} are not granted yet",
            f"{need}{hint} The tenant has not granted it to this app yet"
            + (", so re-fetching the token did not help." if refetched else ".")
            + " Add the permission and then grant admin consent; after that, re-fetch the token.",
            evidence,
            [add_step, _admin_consent_step(ctx), _refetch_step("After granting, press Re-fetch token.")],
            missing,
        )

    consent = (_admin_consent_step(ctx) if token_kind == "app" else
               _admin_consent_step(ctx, "Grant admin consent for the tenant, or have the user "
                                   "consent when signing in again."))
    steps = [add_step, consent, _refetch_step("After granting, press Re-fetch token.")]
    if token_kind == "delegated":
        steps.append(Step("Or sign in again and accept the new permission.", action=ACTION_SIGN_IN))
    if refetched:
        return Diagnosis(
            "graph.permission_still_missing", "warning",
            "The new token still lacks the permission",
            f"{need}{hint} The dashboard fetched a new token, and it still does not carry "
            f"{_and(missing)}. Either admin consent has not been granted yet, or it was granted "
            "moments ago and has not reached new tokens yet; Entra ID can take a few minutes. "
            "Check the API permissions page (the Status column should say Granted), wait a few "
            "minutes, then re-fetch again.",
            evidence, steps, missing,
        )
    no_perms = "" if perms else (" The token carries no permissions at all, which usually means "
                                 "admin consent has not been granted for this app.")
    return Diagnosis(
        "graph.permission_missing", "error",
        f"The token lacks {_and(missing)}",
        f"{need}{no_perms}{hint} Add the permission, grant admin consent, then re-fetch the token: "
        "a token only carries the permissions granted before it was fetched.",
        evidence, steps, missing,
    )


def _recognisable(rule: catalogue.PermissionRule) -> bool:
    """Whether every accepted permission can be recognised in appRoleAssignments (by role id)."""
    return all(p in catalogue.APP_ROLE_IDS for p in rule.accepted)


def _need_sentence(rule: catalogue.PermissionRule, missing: tuple[str, ...], kind: str, what: str) -> str:
    alternatives = [p for p in rule.alternatives if p not in missing]
    also = f" {_or(alternatives)} would also work." if alternatives else ""
    note = f" {rule.note}" if rule.note else ""
    return (f"Reading {what} needs the {kind} permission {missing[0]} (the least privileged "
            f"one, per Microsoft's permission reference), and the token does not have it.{also}{note}")


def _wrong_kind_only(facts: _GraphFacts, what: str, token_kind: str, needed: str) -> Diagnosis:
    """The entity cannot be read with this kind of token at all, whatever is granted."""
    if token_kind == "app":
        return Diagnosis(
            "graph.needs_delegated", "error", "This entity needs a signed-in user",
            f"{what} can only be read on behalf of a signed-in user (delegated permission "
            f"{needed}), but this connection uses client credentials, whose tokens act as "
            "the app itself. Switch the connection to authorization code and sign in, or read "
            "a specific user's data instead (for mail: users/{id}/messages with "
            f"{_least_application('users/{id}/messages')}).",
            facts.evidence,
            [_edit_connection_step("Switch the grant type to authorization code, or change the entity."),
             Step("Then sign in.", action=ACTION_SIGN_IN)],
            (needed,),
        )
    return Diagnosis(
        "graph.needs_application", "error", "This entity needs an application permission",
        f"{what} can only be read with an application permission ({needed}), but this "
        "connection signs in as a user. Switch the connection to client credentials.",
        facts.evidence,
        [_edit_connection_step("Switch the grant type to client credentials."), _refetch_step()],
        (needed,),
    )


def _least_application(path: str) -> str:
    entity = catalogue.resolve(path)
    return entity.application.least[0] if entity and entity.application.possible else "an application permission"


def _forbidden_despite_permission(facts: _GraphFacts, ctx: Context, what: str,
                                  present: tuple[str, ...], token_kind: str) -> Diagnosis:
    if facts.code == "ErrorAccessDenied" and token_kind == "app":
        why = ("For mail, calendars and contacts, Exchange Online can restrict an app to certain "
               "mailboxes with an application access policy; this mailbox is probably outside it. "
               "An Exchange administrator can check with Get-ApplicationAccessPolicy.")
    elif token_kind == "delegated":
        why = ("With a delegated token Graph also checks the signed-in user's own rights: the "
               "user may not be allowed to see this data (for example another user's mailbox, or "
               "data that needs an administrator role).")
    else:
        why = ("Some data also needs the app's service principal to hold a directory role, or is "
               "limited by tenant policy. Graph's message above may say more.")
    return Diagnosis(
        "graph.forbidden_despite_permission", "error",
        "Graph refused access although the token has the permission",
        f"The token carries {_and(present)}, which is enough to read {what}, yet Graph refused. "
        f"{why}",
        facts.evidence,
        [Step("Try again.", action=ACTION_RETRY)],
    )


def _throttled(facts: _GraphFacts, ctx: Context) -> Diagnosis:
    wait = (f"Graph asked to wait {facts.retry_after} seconds (Retry-After). "
            if facts.retry_after else "")
    return Diagnosis(
        "graph.throttled", "warning", "Microsoft Graph is throttling this app",
        f"Graph answered 429 Too Many Requests: this app sent more requests than Graph allows in a "
        f"short time. {wait}The dashboard waited and retried as Graph asked, but Graph was still "
        "refusing. Nothing is wrong with the connection; run it again in a few minutes. Sign-in "
        "and audit logs have a much lower limit (5 requests per 10 seconds per app and tenant).",
        facts.evidence,
        [Step("Run it again in a few minutes.", action=ACTION_RETRY)],
    )


def _server_error(facts: _GraphFacts, ctx: Context) -> Diagnosis:
    return Diagnosis(
        "graph.server_error", "warning", "Microsoft Graph had a problem on its side",
        f"Graph answered {_status_text(facts.status)}. This is a fault at Microsoft (or the "
        "sandbox), not in the connection. The dashboard retried a few times before giving up. "
        "Try again in a few minutes; if it lasts, check Microsoft 365 service health.",
        facts.evidence,
        [Step("Try again in a few minutes.", action=ACTION_RETRY),
         Step("Check Microsoft 365 service health.", url=SERVICE_HEALTH_URL)],
    )


def _not_found(facts: _GraphFacts, ctx: Context) -> Diagnosis:
    path = ctx.entity_path or ""
    entity = catalogue.lookup(path)
    template_len = len(entity.path.split("/")) if entity else 0
    about_item = entity is not None and (
        "{id}" in entity.path or len(catalogue.path_segments(path)) > template_len
    )
    if about_item:
        return Diagnosis(
            "graph.item_not_found", "error", "The item does not exist",
            f"Graph found no object for {path}: the ID in the path is wrong, the object was "
            "deleted, or it lives in another tenant.",
            facts.evidence,
            [_edit_connection_step("Check the ID in the entity path.")],
        )
    return Diagnosis(
        "graph.not_found", "error", "Graph does not know this path",
        f"Graph has no collection at {path or '(empty path)'}. Check the entity path's spelling "
        "and capitals (for example servicePrincipals), and whether it exists in the Graph "
        f"version of the service URL ({ctx.graph_service_url}); some paths exist only in beta.",
        facts.evidence,
        [_edit_connection_step("Correct the entity path or the Graph service URL.")],
    )


def _bad_request(facts: _GraphFacts, ctx: Context, token_kind: str) -> Diagnosis:
    text = facts.message
    lowered = text.lower()
    if "/me request is only valid with delegated" in lowered:
        entity = catalogue.lookup(ctx.entity_path or "")
        if entity and entity.delegated.possible:
            return _wrong_kind_only(facts, f"{entity.display_name} ({ctx.entity_path})", "app",
                                    entity.delegated.least[0])
        return _wrong_kind_only(facts, ctx.entity_path or "/me", "app", "User.Read")
    if lowered.startswith("resource not found for the segment"):
        return _not_found(facts, ctx)
    advice = "Check the connection's $select and $filter."
    if "page size" in lowered:
        entity = catalogue.lookup(ctx.entity_path or "")
        top = entity.max_top if entity and entity.max_top else 999
        advice = f"The page size ($top) must be between 1 and {top}."
    elif "consistencylevel" in lowered or "$count" in lowered:
        advice = ("This is an advanced query: Graph needs the ConsistencyLevel: eventual header "
                  "and $count=true for it. Simplify the $filter (avoid ne, not and endsWith) or "
                  "remove $search.")
    elif "property" in lowered:
        advice = ("A property name in $select, $filter or $orderby is unknown or cannot be used "
                  "that way; property names are case-sensitive. Some properties can only be "
                  "selected when reading a single item.")
    return Diagnosis(
        "graph.bad_query", "error", "Graph rejected the query",
        f"Graph could not run the request as written: \u201c{text or 'no reason given'}\u201d. {advice}",
        facts.evidence,
        [_edit_connection_step("Edit the connection's $select and $filter.")],
    )


# --- certificate credentials (private_key_jwt) ------------------------------------------------
# https://learn.microsoft.com/entra/identity-platform/certificate-credentials


def _certificate_evidence(ctx: Context, evidence: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if ctx.certificate_thumbprint:
        return evidence + [("This connection's certificate (SHA-1 thumbprint)", ctx.certificate_thumbprint)]
    return evidence


def _upload_certificate_step(ctx: Context) -> Step:
    return Step("Open the app's Certificates & secrets page, Certificates tab, and upload this connection's "
                "certificate (the public .cer/.pem part; never the private key).", url=_portal(ctx, "Credentials"))


def _certificate_rejected(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    """AADSTS700027: the app has no certificate with that thumbprint, or the signature does not match it."""
    text = err.description.lower()
    evidence = _certificate_evidence(ctx, evidence)
    if "not found" in text:
        return Diagnosis(
            "token.certificate_unknown", "error", "The app does not know this certificate",
            f"Entra ID found no certificate with this connection's thumbprint on app {ctx.client_id}. The "
            "certificate was never uploaded to the app registration, was uploaded to another app, or was "
            "deleted there (for example after a renewal).",
            evidence,
            [_upload_certificate_step(ctx),
             Step("Or upload the certificate that is registered on the app (with its private key) to this "
                  "connection.", action=ACTION_EDIT_SECRET),
             _refetch_step()],
        )
    if "expired" in text:
        return Diagnosis(
            "token.certificate_expired", "error", "The certificate has expired",
            f"The certificate registered on app {ctx.client_id} with this thumbprint is past its end date, so "
            "Entra ID no longer accepts assertions signed with it. Certificates cannot be extended.",
            evidence,
            [Step("Create a new certificate, upload its public part to the app's Certificates & secrets page.",
                  url=_portal(ctx, "Credentials")),
             Step("Upload the new certificate and its private key to this connection.", action=ACTION_EDIT_SECRET),
             _refetch_step()],
        )
    return Diagnosis(
        "token.certificate_wrong_key", "error", "The assertion's signature does not match the certificate",
        f"App {ctx.client_id} has a certificate with this thumbprint, but the signature was not made with its "
        "private key. The private key saved with this connection belongs to another certificate (often an "
        "old key kept after a renewal).",
        evidence,
        [Step("Upload the certificate and its matching private key again (one PKCS#12 file keeps them "
              "together).", action=ACTION_EDIT_SECRET),
         _refetch_step()],
    )


def _assertion_time(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    """AADSTS700024: the assertion's nbf/exp do not contain Entra's current time: a clock is wrong."""
    return Diagnosis(
        "token.assertion_time", "error", "The server's clock and Entra ID's disagree",
        "Entra ID refused the signed client assertion because, by its clock, the assertion is not valid "
        "now (it was made for a time outside its valid range). The dashboard signs each assertion for "
        "the next few minutes, so the clock of the machine running the dashboard's workers is off.",
        _certificate_evidence(ctx, evidence + [("Dashboard's time (UTC)", _time(None, ctx))]),
        [Step("Ask your administrator to synchronise the clock of the worker machines (NTP, "
              "e.g. timedatectl set-ntp true) and compare it with Entra's time shown above."),
         _refetch_step("Then press Re-fetch token.")],
    )


def _assertion_malformed(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    """AADSTS50027 (the sandbox's guess for a wrong audience, issuer or subject; see graphsandbox/assertions.py)."""
    text = err.description.lower()
    evidence = _certificate_evidence(ctx, evidence)
    if "audience" in text:
        return Diagnosis(
            "token.assertion_audience", "error", "The assertion was made for another token endpoint",
            "Entra ID refused the client assertion because its audience (aud) is not the token endpoint the "
            "request went to. The dashboard puts the connection's token URL there, so the token URL does not "
            "belong to this tenant's login endpoint (for example another tenant, cloud or a proxy).",
            evidence + [("Login host of the token URL", ctx.login_host)],
            [_edit_connection_step("Set the token URL to https://<login host>/<tenant>/oauth2/v2.0/token of "
                                   "the tenant the app is registered in (leave it blank to fill it)."),
             _refetch_step()],
        )
    return _unknown_aadsts(err, ctx, evidence)


_TOKEN_BUILDERS.update({700027: _certificate_rejected, 700024: _assertion_time, 50027: _assertion_malformed})
