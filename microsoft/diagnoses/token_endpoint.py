"""The token endpoint refused (Entra ID's AADSTS errors: the secret, the certificate's signed
assertion, the app, the tenant, the scope, consent, the sign-in), and the dashboard's own reasons
for not asking it (a fetch already running, no sign-in yet)."""

from __future__ import annotations

from microsoft.diagnoses._wording import (
    SERVICE_HEALTH_URL,
    _admin_consent_step,
    _and,
    _edit_connection_step,
    _portal,
    _portal_host,
    _refetch_step,
    _status_text,
    _time,
)
from microsoft.diagnoses.core import Action, Context, Diagnosis, Severity, Step, register
from microsoft.diagnoses.transport import _transport
from microsoft.tokenclient import TokenError, default_scope_or_resource

# The kinds this module builds (key, usual severity, what their steps offer).
APP_NOT_FOUND = register(
    "token.app_not_found",
    Severity.ERROR,
    Action.ADMIN_CONSENT,
    Action.EDIT_CONNECTION,
    Action.OPEN_LINK,
    Action.REFETCH_TOKEN,
)
ASSERTION_AUDIENCE = register("token.assertion_audience", Severity.ERROR, Action.EDIT_CONNECTION, Action.REFETCH_TOKEN)
ASSERTION_TIME = register("token.assertion_time", Severity.ERROR, Action.REFETCH_TOKEN)
BAD_SECRET = register("token.bad_secret", Severity.ERROR, Action.EDIT_SECRET, Action.OPEN_LINK, Action.REFETCH_TOKEN)
CERTIFICATE_EXPIRED = register(
    "token.certificate_expired", Severity.ERROR, Action.EDIT_SECRET, Action.OPEN_LINK, Action.REFETCH_TOKEN
)
CERTIFICATE_UNKNOWN = register(
    "token.certificate_unknown", Severity.ERROR, Action.EDIT_SECRET, Action.OPEN_LINK, Action.REFETCH_TOKEN
)
CERTIFICATE_WRONG_KEY = register(
    "token.certificate_wrong_key", Severity.ERROR, Action.EDIT_SECRET, Action.REFETCH_TOKEN
)
CERTIFICATE_KEY_TOO_SHORT = register(
    "token.certificate_key_too_short", Severity.ERROR, Action.OPEN_LINK, Action.EDIT_SECRET, Action.REFETCH_TOKEN
)
CONSENT_REQUIRED = register(
    "token.consent_required", Severity.ERROR, Action.ADMIN_CONSENT, Action.OPEN_LINK, Action.SIGN_IN
)
INVALID_RESOURCE = register("token.invalid_resource", Severity.ERROR, Action.EDIT_CONNECTION, Action.REFETCH_TOKEN)
INVALID_SCOPE = register("token.invalid_scope", Severity.ERROR, Action.EDIT_CONNECTION, Action.REFETCH_TOKEN)
MISSING_SECRET = register("token.missing_secret", Severity.ERROR, Action.EDIT_SECRET, Action.REFETCH_TOKEN)
REDIRECT_URI_MISMATCH = register("token.redirect_uri_mismatch", Severity.ERROR, Action.OPEN_LINK, Action.SIGN_IN)
SECRET_EXPIRED = register(
    "token.secret_expired", Severity.ERROR, Action.EDIT_SECRET, Action.OPEN_LINK, Action.REFETCH_TOKEN
)
SECRET_ID_PASTED = register(
    "token.secret_id_pasted", Severity.ERROR, Action.EDIT_SECRET, Action.OPEN_LINK, Action.REFETCH_TOKEN
)
SERVICE_UNAVAILABLE = register("token.service_unavailable", Severity.WARNING, Action.OPEN_LINK, Action.REFETCH_TOKEN)
SIGN_IN_AGAIN = register("token.sign_in_again", Severity.ERROR, Action.SIGN_IN)
TENANT_NOT_FOUND = register(
    "token.tenant_not_found", Severity.ERROR, Action.EDIT_CONNECTION, Action.OPEN_LINK, Action.REFETCH_TOKEN
)
UNKNOWN = register("token.unknown", Severity.ERROR, Action.OPEN_LINK, Action.REFETCH_TOKEN)
WRONG_CLOUD = register("token.wrong_cloud", Severity.ERROR, Action.EDIT_CONNECTION, Action.REFETCH_TOKEN)
BUSY = register("token.busy", Severity.INFO, Action.RETRY)
SIGN_IN_REQUIRED = register("token.sign_in_required", Severity.WARNING, Action.SIGN_IN)

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
        Step("Press Edit connection and paste the new secret's Value into Client secret.", action=Action.EDIT_SECRET),
        _refetch_step(),
    ]


def _bad_secret(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    if ctx.secret_looks_like_guid:
        return SECRET_ID_PASTED.build(
            title="The secret's ID was saved instead of the secret's value",
            explanation="Entra ID rejected the client secret. The saved secret is shaped like a GUID, which is "
            "what the Secret ID column in the Azure portal shows. The token endpoint needs the other "
            "column, Value: a string of about 40 characters that the portal shows only once, right "
            "after the secret is created. If you no longer have it, create a new secret and copy "
            "its Value straight away.",
            evidence=evidence,
            steps=_new_secret_steps(
                ctx,
                "Open the app's Certificates & secrets page. If you cannot see the Value any "
                "more, choose New client secret and copy the Value column (not Secret ID).",
            ),
        )
    return BAD_SECRET.build(
        title="The client secret is wrong",
        explanation=f"Entra ID does not recognise the saved client secret for app {ctx.client_id}. The secret "
        "was mistyped, belongs to another app registration, or was deleted in the Azure portal. "
        "Make sure you copy the secret's Value column, not its Secret ID.",
        evidence=evidence,
        steps=_new_secret_steps(
            ctx,
            "Open the app's Certificates & secrets page and check that the secret still "
            "exists; if you do not have its Value any more, create a new client secret.",
        ),
    )


def _expired_secret(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    expiry = (
        f" The expiry date saved with this connection is {ctx.secret_expires_on:%Y-%m-%d}."
        if ctx.secret_expires_on
        else ""
    )
    if ctx.secret_expires_on:
        evidence = evidence + [("Saved secret expiry", f"{ctx.secret_expires_on:%Y-%m-%d}")]
    return SECRET_EXPIRED.build(
        title="The client secret has expired",
        explanation=f"The client secret saved for app {ctx.client_id} has passed its expiry date, so Entra ID "
        f"no longer accepts it.{expiry} Secrets cannot be extended: create a new one and save its "
        "Value here.",
        evidence=evidence,
        steps=_new_secret_steps(
            ctx,
            "Open the app's Certificates & secrets page and create a new client "
            "secret; copy its Value (shown only once).",
        ),
    )


def _app_not_found(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return APP_NOT_FOUND.build(
        title="The app is not known in this tenant",
        explanation=f"Entra ID found no application with ID {ctx.client_id} in tenant {ctx.tenant}. Either the "
        "Application (client) ID is mistyped, the connection points at another tenant than the one "
        "the app is registered in, or the app was deleted. A multi-tenant app registered elsewhere "
        "must first be consented to by an administrator of this tenant.",
        evidence=evidence,
        steps=[
            Step(
                "Compare the Application (client) ID and the Directory (tenant) ID on the app's "
                "Overview page with this connection.",
                url=_portal(ctx, "Overview"),
            ),
            _edit_connection_step("Correct the app ID or the tenant in the connection."),
            _admin_consent_step(
                ctx,
                "If the app is registered in another tenant, have an administrator of this tenant grant consent to it.",
            ),
            _refetch_step(),
        ],
    )


def _tenant_not_found(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return TENANT_NOT_FOUND.build(
        title="The tenant does not exist (in this cloud)",
        explanation=f"Entra ID has no tenant called {ctx.tenant!r} at {ctx.login_host}. Check the tenant ID "
        "(a GUID) or domain for typos, and check that the connection uses the right cloud: a US "
        "Government or China tenant cannot sign in at the global login host, and the reverse.",
        evidence=evidence,
        steps=[
            Step(
                "Look up the Tenant ID on the Microsoft Entra overview page of your tenant.",
                url=f"https://{_portal_host(ctx)}/#view/Microsoft_AAD_IAM/ActiveDirectoryMenuBlade/~/Overview",
            ),
            _edit_connection_step("Correct the tenant (and the token URL) in the connection."),
            _refetch_step(),
        ],
    )


def _invalid_scope(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    expected = default_scope_or_resource("v2", ctx.graph_service_url)
    saved = ctx.scope_or_resource or "(empty)"
    why = (
        "With client credentials the scope must be the API's address followed by /.default, "
        f"exactly {expected}: individual permission names are not accepted, because the token "
        "gets every application permission already granted to the app."
        if not ctx.delegated
        else f"Scopes must all belong to one API (for Graph, {expected} or names such as "
        "https://graph.microsoft.com/User.Read) and be separated by spaces."
    )
    return INVALID_SCOPE.build(
        title="The scope is not valid",
        explanation=f"Entra ID rejected the scope {saved!r}. {why}",
        evidence=evidence + [("Saved scope", saved)],
        steps=[
            _edit_connection_step(f"Set the scope to {expected}."),
            _refetch_step(),
        ],
    )


def _invalid_resource(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    expected = default_scope_or_resource("v1", ctx.graph_service_url)
    saved = ctx.scope_or_resource or "(empty)"
    return INVALID_RESOURCE.build(
        title="The resource is not valid",
        explanation=f"Entra ID does not know the resource {saved!r} in this tenant. On the v1 token endpoint "
        f"the resource for Microsoft Graph is {expected}, without /.default and without a version "
        "such as /v1.0. (On the v2 endpoint use a scope instead: "
        f"{default_scope_or_resource('v2', ctx.graph_service_url)}.)",
        evidence=evidence + [("Saved resource", saved)],
        steps=[
            _edit_connection_step(f"Set the resource to {expected}."),
            _refetch_step(),
        ],
    )


def _consent_required(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return CONSENT_REQUIRED.build(
        title="Nobody has consented to this app's permissions yet",
        explanation=f"Neither the signed-in user nor an administrator has consented to app {ctx.client_id} "
        "using the permissions it asks for, so Entra ID will not issue a token for it. An "
        "administrator can grant consent for the whole tenant; otherwise the user must sign in "
        "again and accept the consent prompt.",
        evidence=evidence,
        steps=[
            _admin_consent_step(ctx),
            Step("Or sign in again and accept the consent prompt.", action=Action.SIGN_IN),
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
    reason = reasons.get(err.code or 0, "the sign-in (authorization code or refresh token) is no longer valid")
    return SIGN_IN_AGAIN.build(
        title="Sign in again",
        explanation=f"Entra ID refused the saved sign-in: {reason}. The dashboard cannot renew this "
        "connection's tokens on its own any more; someone has to sign in once more.",
        evidence=evidence,
        steps=[Step("Press Sign in and complete the Microsoft sign-in.", action=Action.SIGN_IN)],
    )


def _missing_secret(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return MISSING_SECRET.build(
        title="No client secret was sent",
        explanation=f"Entra ID expects a client secret for app {ctx.client_id}, but the token request carried "
        "none. This connection has no secret saved, or it could not be decrypted.",
        evidence=evidence,
        steps=[
            Step("Press Edit connection and save the secret's Value in Client secret.", action=Action.EDIT_SECRET),
            _refetch_step(),
        ],
    )


def _wrong_cloud(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return WRONG_CLOUD.build(
        title="The tenant or app belongs to another Microsoft cloud",
        explanation=f"Tenant {ctx.tenant} or app {ctx.client_id} lives in a different Microsoft cloud from the "
        f"login host {ctx.login_host} (global, US Government and China are separate). Use that "
        "cloud's login host and Graph URL.",
        evidence=evidence,
        steps=[
            _edit_connection_step("Change the token URL and Graph service URL to the tenant's cloud."),
            _refetch_step(),
        ],
    )


def _redirect_mismatch(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return REDIRECT_URI_MISMATCH.build(
        title="The redirect URL is not registered on the app",
        explanation=f"The redirect URL {ctx.redirect_uri or '(none)'} is not among the app's registered redirect "
        "URIs. Add it exactly (scheme, host, port and path) under Authentication as a Web "
        "platform redirect URI.",
        evidence=evidence,
        steps=[
            Step("Add the redirect URL on the app's Authentication page.", url=_portal(ctx, "Authentication")),
            Step("Then sign in again.", action=Action.SIGN_IN),
        ],
    )


def _entra_unavailable(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    return SERVICE_UNAVAILABLE.build(
        title="Entra ID is temporarily unavailable",
        explanation=f"The token endpoint answered {_status_text(err.status)}: a temporary problem at Microsoft, "
        "not in the connection. The dashboard retried a few times before giving up. Try again in a "
        "few minutes; if it lasts, check Microsoft 365 service health.",
        evidence=evidence,
        steps=[
            _refetch_step("Press Re-fetch token in a few minutes."),
            Step("Check Microsoft 365 service health.", url=SERVICE_HEALTH_URL),
        ],
    )


def _unknown_aadsts(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    code = f"AADSTS{err.code}" if err.code else (err.error or "an error")
    lookup = err.error_uri or (f"https://login.microsoftonline.com/error?code={err.code}" if err.code else None)
    return UNKNOWN.build(
        title=f"Entra ID refused the token request ({code})",
        explanation=f"Entra ID answered with {code}, which the dashboard has no specific advice for. Its own "
        f"words: {err.description}",
        evidence=evidence,
        steps=[
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

# --- certificate credentials (private_key_jwt) ------------------------------------------------
# https://learn.microsoft.com/entra/identity-platform/certificate-credentials


def _certificate_evidence(ctx: Context, evidence: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if ctx.certificate_thumbprint:
        return evidence + [("This connection's certificate (SHA-1 thumbprint)", ctx.certificate_thumbprint)]
    return evidence


def _upload_certificate_step(ctx: Context) -> Step:
    return Step(
        "Open the app's Certificates & secrets page, Certificates tab, and upload this connection's "
        "certificate (the public .cer/.pem part; never the private key).",
        url=_portal(ctx, "Credentials"),
    )


def _certificate_rejected(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    """AADSTS700027: the app has no certificate with that thumbprint, or the signature does not match it."""
    text = err.description.lower()
    evidence = _certificate_evidence(ctx, evidence)
    if "not found" in text:
        return CERTIFICATE_UNKNOWN.build(
            title="The app does not know this certificate",
            explanation=f"Entra ID found no certificate with this connection's thumbprint on app {ctx.client_id}. The "
            "certificate was never uploaded to the app registration, was uploaded to another app, or was "
            "deleted there (for example after a renewal).",
            evidence=evidence,
            steps=[
                _upload_certificate_step(ctx),
                Step(
                    "Or upload the certificate that is registered on the app (with its private key) to this "
                    "connection.",
                    action=Action.EDIT_SECRET,
                ),
                _refetch_step(),
            ],
        )
    if "rsa key size" in text:
        return CERTIFICATE_KEY_TOO_SHORT.build(
            title="The certificate's key is too short for Entra ID",
            explanation="Entra ID refuses client assertions signed with an RSA key shorter than 2048 bits, "
            "whatever the certificate's dates. Certificates made with a 1024-bit key must be replaced.",
            evidence=evidence,
            steps=[
                Step(
                    "Create a new certificate with an RSA key of at least 2048 bits and upload its public part "
                    "to the app's Certificates & secrets page.",
                    url=_portal(ctx, "Credentials"),
                ),
                Step("Upload the new certificate and its private key to this connection.", action=Action.EDIT_SECRET),
                _refetch_step(),
            ],
        )
    if "expired" in text:
        return CERTIFICATE_EXPIRED.build(
            title="The certificate has expired",
            explanation=f"The certificate registered on app {ctx.client_id} with this thumbprint is past its end date, so "
            "Entra ID no longer accepts assertions signed with it. Certificates cannot be extended.",
            evidence=evidence,
            steps=[
                Step(
                    "Create a new certificate, upload its public part to the app's Certificates & secrets page.",
                    url=_portal(ctx, "Credentials"),
                ),
                Step("Upload the new certificate and its private key to this connection.", action=Action.EDIT_SECRET),
                _refetch_step(),
            ],
        )
    return CERTIFICATE_WRONG_KEY.build(
        title="The assertion's signature does not match the certificate",
        explanation=f"App {ctx.client_id} has a certificate with this thumbprint, but the signature was not made with its "
        "private key. The private key saved with this connection belongs to another certificate (often an "
        "old key kept after a renewal).",
        evidence=evidence,
        steps=[
            Step(
                "Upload the certificate and its matching private key again (one PKCS#12 file keeps them together).",
                action=Action.EDIT_SECRET,
            ),
            _refetch_step(),
        ],
    )


def _assertion_time(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    """AADSTS700024: the assertion's nbf/exp do not contain Entra's current time: a clock is wrong."""
    return ASSERTION_TIME.build(
        title="The server's clock and Entra ID's disagree",
        explanation="Entra ID refused the signed client assertion because, by its clock, the assertion is not valid "
        "now (it was made for a time outside its valid range). The dashboard signs each assertion for "
        "the next few minutes, so the clock of the machine running the dashboard's workers is off.",
        evidence=_certificate_evidence(ctx, evidence + [("Dashboard's time (UTC)", _time(None, ctx))]),
        steps=[
            Step(
                "Ask your administrator to synchronise the clock of the worker machines (NTP, "
                "e.g. timedatectl set-ntp true) and compare it with Entra's time shown above."
            ),
            _refetch_step("Then press Re-fetch token."),
        ],
    )


def _assertion_malformed(err: TokenError, ctx: Context, evidence: list[tuple[str, str]]) -> Diagnosis:
    """AADSTS50027 (the sandbox's guess for a wrong audience, issuer or subject; see graphsandbox/assertions.py)."""
    text = err.description.lower()
    evidence = _certificate_evidence(ctx, evidence)
    if "audience" in text:
        return ASSERTION_AUDIENCE.build(
            title="The assertion was made for another token endpoint",
            explanation="Entra ID refused the client assertion because its audience (aud) is not the token endpoint the "
            "request went to. The dashboard puts the connection's token URL there, so the token URL does not "
            "belong to this tenant's login endpoint (for example another tenant, cloud or a proxy).",
            evidence=evidence + [("Login host of the token URL", ctx.login_host)],
            steps=[
                _edit_connection_step(
                    "Set the token URL to https://<login host>/<tenant>/oauth2/v2.0/token of "
                    "the tenant the app is registered in (leave it blank to fill it)."
                ),
                _refetch_step(),
            ],
        )
    return _unknown_aadsts(err, ctx, evidence)


_TOKEN_BUILDERS.update({700027: _certificate_rejected, 700024: _assertion_time, 50027: _assertion_malformed})


# --- before the token endpoint is asked --------------------------------------------------------


def busy(connection_name: str) -> Diagnosis:
    """Another request holds the claim on this connection's token fetch."""
    return BUSY.build(
        title="A token fetch is already running",
        explanation=f"Another request is already getting a token for {connection_name}; it has not finished "
        "yet. Its result will show here when it does.",
        steps=[Step("Wait a moment, then try again.", action=Action.RETRY)],
    )


def sign_in_required(connection_name: str, grant_type: str) -> Diagnosis:
    """A delegated connection with no (usable) refresh token."""
    return SIGN_IN_REQUIRED.build(
        title="Sign in with Microsoft first",
        explanation=f"{connection_name} reads Graph as a signed-in person (authorization code). The dashboard "
        "has no refresh token for it yet, or the last one was refused, so a person must sign in again.",
        evidence=[("Grant type", grant_type)],
        steps=[
            Step(
                "Press Sign in with Microsoft and sign in as the user whose data this connection reads.",
                action=Action.SIGN_IN,
            )
        ],
    )
