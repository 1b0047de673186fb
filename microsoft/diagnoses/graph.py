"""Microsoft Graph refused a request: the token (401), a permission (403, with what the tenant has
granted and what changed since the previous token), throttling, Graph's own faults, a wrong path
or query."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from microsoft import catalogue
from microsoft.claims import diff
from microsoft.diagnoses._wording import (
    SERVICE_HEALTH_URL,
    _admin_consent_step,
    _and,
    _edit_connection_step,
    _kind_word,
    _or,
    _permissions_page_step,
    _refetch_step,
    _status_text,
    _time,
)
from microsoft.diagnoses.core import Action, Context, Diagnosis, PreviousAttempt, Severity, Step, register
from microsoft.tokenclient import default_scope_or_resource

# The kinds this module builds (key, usual severity, what their steps offer).
BAD_QUERY = register("graph.bad_query", Severity.ERROR, Action.EDIT_CONNECTION)
FORBIDDEN = register("graph.forbidden", Severity.ERROR, Action.ADMIN_CONSENT, Action.OPEN_LINK, Action.REFETCH_TOKEN)
FORBIDDEN_DESPITE_PERMISSION = register("graph.forbidden_despite_permission", Severity.ERROR, Action.RETRY)
GRANTED_NOT_IN_TOKEN = register("graph.granted_not_in_token", Severity.WARNING, Action.REFETCH_TOKEN)
GRANT_NOT_IN_NEW_TOKENS = register("graph.grant_not_in_new_tokens", Severity.WARNING, Action.REFETCH_TOKEN)
ITEM_NOT_FOUND = register("graph.item_not_found", Severity.ERROR, Action.EDIT_CONNECTION)
NEEDS_APPLICATION = register("graph.needs_application", Severity.ERROR, Action.EDIT_CONNECTION, Action.REFETCH_TOKEN)
NEEDS_DELEGATED = register("graph.needs_delegated", Severity.ERROR, Action.EDIT_CONNECTION, Action.SIGN_IN)
NOT_FOUND = register("graph.not_found", Severity.ERROR, Action.EDIT_CONNECTION)
PERMISSION_MISSING = register(
    "graph.permission_missing",
    Severity.ERROR,
    Action.ADMIN_CONSENT,
    Action.OPEN_LINK,
    Action.REFETCH_TOKEN,
    Action.SIGN_IN,
)
PERMISSION_NOT_GRANTED = register(
    "graph.permission_not_granted", Severity.ERROR, Action.ADMIN_CONSENT, Action.OPEN_LINK, Action.REFETCH_TOKEN
)
PERMISSION_STILL_MISSING = register(
    "graph.permission_still_missing",
    Severity.WARNING,
    Action.ADMIN_CONSENT,
    Action.OPEN_LINK,
    Action.REFETCH_TOKEN,
    Action.SIGN_IN,
)
SERVER_ERROR = register("graph.server_error", Severity.WARNING, Action.OPEN_LINK, Action.RETRY)
SESSION_REVOKED = register("graph.session_revoked", Severity.ERROR, Action.SIGN_IN)
THROTTLED = register("graph.throttled", Severity.WARNING, Action.RETRY)
TOKEN_EXPIRED = register("graph.token_expired", Severity.WARNING, Action.REFETCH_TOKEN)
TOKEN_INVALID = register("graph.token_invalid", Severity.ERROR, Action.REFETCH_TOKEN)
UNEXPECTED = register("graph.unexpected", Severity.ERROR, Action.RETRY)
WRONG_AUDIENCE = register("graph.wrong_audience", Severity.ERROR, Action.EDIT_CONNECTION, Action.REFETCH_TOKEN)
WRONG_TOKEN_KIND = register(
    "graph.wrong_token_kind",
    Severity.ERROR,
    Action.ADMIN_CONSENT,
    Action.EDIT_CONNECTION,
    Action.OPEN_LINK,
    Action.REFETCH_TOKEN,
)
PERMISSION_NOW_IN_TOKEN = register("graph.permission_now_in_token", Severity.INFO, Action.TEST)

# --- Graph errors -----------------------------------------------------------------------------

_PERMISSION_KEYS = frozenset(
    kind.key
    for kind in (
        PERMISSION_MISSING,
        PERMISSION_NOT_GRANTED,
        GRANTED_NOT_IN_TOKEN,
        GRANT_NOT_IN_NEW_TOKENS,
        PERMISSION_STILL_MISSING,
    )
)


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


def _facts(
    status: int,
    body: dict | None,
    headers: Mapping[str, str] | None,
    ctx: Context,
    token_permissions: frozenset[str],
    token_kind: str,
) -> _GraphFacts:
    error = body.get("error") if isinstance(body, dict) else None
    # {"error": "text"} (a gateway, or OAuth's shape) instead of Graph's object
    if isinstance(error, str) and isinstance(body, dict):
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
        ("Time", f"{inner['date']} UTC" if isinstance(inner.get("date"), str) else date_text or _time(None, ctx)),
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
    return UNEXPECTED.build(
        title=f"Microsoft Graph answered HTTP {status}",
        explanation=f"Graph did not return the data. Its own words: {facts.message or '(no message)'}",
        evidence=facts.evidence,
        steps=[Step("Try again.", action=Action.RETRY)],
    )


def _unauthorized(facts: _GraphFacts, ctx: Context, previous: PreviousAttempt | None) -> Diagnosis:
    text = facts.message.lower()
    if "expired" in text or "lifetime validation" in text or "not yet valid" in text:
        again = previous is not None and previous.key == "graph.token_expired"
        return TOKEN_EXPIRED.build(
            severity=Severity.ERROR if again else Severity.WARNING,
            title="The access token had expired",
            explanation="Graph refused the token because its lifetime was over (tokens last about an hour). "
            "When this happens the dashboard re-fetches the token automatically once and tries "
            "again. "
            + (
                "It has happened again right after a fresh token, so check that the dashboard "
                "server's clock is correct: a clock that runs ahead or behind makes new tokens "
                "look expired."
                if again
                else "If the request still failed, press Re-fetch token."
            ),
            evidence=facts.evidence,
            steps=[_refetch_step()],
        )
    if "empty" in text:
        title, why = (
            "The request carried no access token",
            "Graph received no token at all. The connection probably has no valid token yet; fetch one.",
        )
    elif "compacttoken" in text or "parsing failed" in text:
        title, why = (
            "The access token is not readable by Graph",
            "Graph could not parse the token. The saved token is damaged or is not a "
            "token for Microsoft Graph. Fetching a new one usually fixes this.",
        )
    elif "audience" in text or "validation failure" in text:
        expected = default_scope_or_resource(ctx.endpoint_version, ctx.graph_service_url)
        return WRONG_AUDIENCE.build(
            title="The token is not meant for Microsoft Graph",
            explanation="Graph rejected the token: it was issued for another API (its audience is not "
            f"Graph), or its signature did not check out. Make sure the connection's "
            f"{'resource' if ctx.endpoint_version == 'v1' else 'scope'} is {expected}, then "
            "re-fetch the token.",
            evidence=facts.evidence,
            steps=[
                _edit_connection_step(
                    f"Set the {'resource' if ctx.endpoint_version == 'v1' else 'scope'} to {expected}."
                ),
                _refetch_step(),
            ],
        )
    elif "continuous access evaluation" in text or "claims challenge" in text:
        return SESSION_REVOKED.build(
            title="The sign-in was revoked",
            explanation="Graph rejected the token because the user's session was revoked after the token was "
            "issued (a password change, a disabled account or an administrator's action). The user "
            "must sign in again.",
            evidence=facts.evidence,
            steps=[Step("Press Sign in and complete the Microsoft sign-in.", action=Action.SIGN_IN)],
        )
    else:
        title, why = (
            "Graph did not accept the access token",
            f"Graph refused the token. Its own words: {facts.message or '(no message)'}",
        )
    return TOKEN_INVALID.build(title=title, explanation=why, evidence=facts.evidence, steps=[_refetch_step()])


def _forbidden(
    facts: _GraphFacts,
    ctx: Context,
    perms: frozenset[str],
    token_kind: str,
    previous: PreviousAttempt | None,
    granted: frozenset[str] | None,
) -> Diagnosis:
    entity = catalogue.resolve(ctx.entity_path or "")
    kind = _kind_word(token_kind)
    if entity is None:
        return FORBIDDEN.build(
            title="Graph refused access",
            explanation=f"Graph refused to read {ctx.entity_path or 'this path'} with this token. The dashboard "
            "does not know which permission this path needs, so check Microsoft's documentation "
            f"for the request and add that {kind} permission to the app. The token currently "
            f"carries: {', '.join(sorted(perms)) or 'no permissions at all'}.",
            evidence=facts.evidence,
            steps=[
                _permissions_page_step(
                    ctx, "Open the app's API permissions page and add the permission the request needs."
                ),
                _admin_consent_step(ctx),
                _refetch_step(),
            ],
        )
    rule = entity.rule(token_kind, ctx.odata_select)
    other = entity.rule("delegated" if token_kind == "app" else "app")
    what = (
        f"{entity.display_name} ({ctx.entity_path})"
        if entity.listed or entity.display_name != entity.path
        else (ctx.entity_path or "")
    )
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
    hint = (
        " Add it as an Application permission, not a Delegated one: a delegated permission "
        "never appears in a token fetched with client credentials."
        if token_kind == "app"
        else ""
    )
    add_step = _permissions_page_step(
        ctx,
        f"On the app's API permissions page, choose Add a permission, Microsoft Graph, "
        f"{'Application' if token_kind == 'app' else 'Delegated'} permissions, and add "
        f"{_and(missing)}.",
    )

    if token_kind == "delegated" and granted is not None and entity.application.satisfied_by(granted):
        return WRONG_TOKEN_KIND.build(
            title="The app has an application permission, but this connection signs in as a user",
            explanation=f"{need} The app has been granted {_and(entity.application.present(granted))} as an "
            "application permission, but this connection uses a user sign-in "
            f"({ctx.grant_type}), so its tokens carry delegated permissions (scp) only. Either add "
            f"{_and(missing)} as a delegated permission, or switch the connection to client "
            "credentials.",
            evidence=evidence,
            steps=[
                add_step,
                _admin_consent_step(ctx),
                _edit_connection_step("Or switch the grant type to client credentials."),
                _refetch_step(),
            ],
            missing=missing,
        )

    if granted is not None and not rule.satisfied_by(granted) and not _recognisable(rule):
        granted = None  # a grant of a permission without a known role id would be invisible
    if granted is not None and token_kind == "app":
        granted_here = rule.present(granted)
        if rule.satisfied_by(granted):
            if refetched:
                return GRANT_NOT_IN_NEW_TOKENS.build(
                    title="The permission is granted but has not reached new tokens yet",
                    explanation=f"{need} The tenant shows {_and(granted_here)} as granted, and the dashboard "
                    "fetched a new token after that, but the new token still does not carry it: the "
                    "grant has not reached new tokens yet. Entra ID can take a few minutes before "
                    "a fresh grant is included in tokens (occasionally longer). Wait a few minutes, then re-fetch the token again.",
                    evidence=evidence,
                    steps=[_refetch_step("Wait a few minutes, then press Re-fetch token again.")],
                    missing=missing,
                )
            return GRANTED_NOT_IN_TOKEN.build(
                title="The permission is granted, but the current token predates the grant",
                explanation=f"{need} The tenant already shows {_and(granted_here)} as granted, but the token "
                "this connection used was fetched before that grant, and a token never gains "
                "permissions after it is issued. A new token will carry it.",
                evidence=evidence,
                steps=[_refetch_step()],
                missing=missing,
            )
        return PERMISSION_NOT_GRANTED.build(
            title=f"{_and(missing)} is not granted yet"
            if len(missing) == 1
            else f"{_and(missing)} are not granted yet",
            explanation=f"{need}{hint} The tenant has not granted it to this app yet"
            + (", so re-fetching the token did not help." if refetched else ".")
            + " Add the permission and then grant admin consent; after that, re-fetch the token.",
            evidence=evidence,
            steps=[add_step, _admin_consent_step(ctx), _refetch_step("After granting, press Re-fetch token.")],
            missing=missing,
        )

    consent = (
        _admin_consent_step(ctx)
        if token_kind == "app"
        else _admin_consent_step(
            ctx, "Grant admin consent for the tenant, or have the user consent when signing in again."
        )
    )
    steps = [add_step, consent, _refetch_step("After granting, press Re-fetch token.")]
    if token_kind == "delegated":
        steps.append(Step("Or sign in again and accept the new permission.", action=Action.SIGN_IN))
    if refetched:
        return PERMISSION_STILL_MISSING.build(
            title="The new token still lacks the permission",
            explanation=f"{need}{hint} The dashboard fetched a new token, and it still does not carry "
            f"{_and(missing)}. Either admin consent has not been granted yet, or it was granted "
            "moments ago and has not reached new tokens yet; Entra ID can take a few minutes. "
            "Check the API permissions page (the Status column should say Granted), wait a few "
            "minutes, then re-fetch again.",
            evidence=evidence,
            steps=steps,
            missing=missing,
        )
    no_perms = (
        ""
        if perms
        else (
            " The token carries no permissions at all, which usually means "
            "admin consent has not been granted for this app."
        )
    )
    return PERMISSION_MISSING.build(
        title=f"The token lacks {_and(missing)}",
        explanation=f"{need}{no_perms}{hint} Add the permission, grant admin consent, then re-fetch the token: "
        "a token only carries the permissions granted before it was fetched.",
        evidence=evidence,
        steps=steps,
        missing=missing,
    )


def _recognisable(rule: catalogue.PermissionRule) -> bool:
    """Whether every accepted permission can be recognised in appRoleAssignments (by role id)."""
    return all(p in catalogue.APP_ROLE_IDS for p in rule.accepted)


def _need_sentence(rule: catalogue.PermissionRule, missing: tuple[str, ...], kind: str, what: str) -> str:
    alternatives = [p for p in rule.alternatives if p not in missing]
    also = f" {_or(alternatives)} would also work." if alternatives else ""
    note = f" {rule.note}" if rule.note else ""
    return (
        f"Reading {what} needs the {kind} permission {missing[0]} (the least privileged "
        f"one, per Microsoft's permission reference), and the token does not have it.{also}{note}"
    )


def _wrong_kind_only(facts: _GraphFacts, what: str, token_kind: str, needed: str) -> Diagnosis:
    """The entity cannot be read with this kind of token at all, whatever is granted."""
    if token_kind == "app":
        return NEEDS_DELEGATED.build(
            title="This entity needs a signed-in user",
            explanation=f"{what} can only be read on behalf of a signed-in user (delegated permission "
            f"{needed}), but this connection uses client credentials, whose tokens act as "
            "the app itself. Switch the connection to authorization code and sign in, or read "
            "a specific user's data instead (for mail: users/{id}/messages with "
            f"{_least_application('users/{id}/messages')}).",
            evidence=facts.evidence,
            steps=[
                _edit_connection_step("Switch the grant type to authorization code, or change the entity."),
                Step("Then sign in.", action=Action.SIGN_IN),
            ],
            missing=(needed,),
        )
    return NEEDS_APPLICATION.build(
        title="This entity needs an application permission",
        explanation=f"{what} can only be read with an application permission ({needed}), but this "
        "connection signs in as a user. Switch the connection to client credentials.",
        evidence=facts.evidence,
        steps=[_edit_connection_step("Switch the grant type to client credentials."), _refetch_step()],
        missing=(needed,),
    )


def _least_application(path: str) -> str:
    entity = catalogue.resolve(path)
    return entity.application.least[0] if entity and entity.application.possible else "an application permission"


def _forbidden_despite_permission(
    facts: _GraphFacts, ctx: Context, what: str, present: tuple[str, ...], token_kind: str
) -> Diagnosis:
    if facts.code == "ErrorAccessDenied" and token_kind == "app":
        why = (
            "For mail, calendars and contacts, Exchange Online can restrict an app to certain "
            "mailboxes with an application access policy; this mailbox is probably outside it. "
            "An Exchange administrator can check with Get-ApplicationAccessPolicy."
        )
    elif token_kind == "delegated":
        why = (
            "With a delegated token Graph also checks the signed-in user's own rights: the "
            "user may not be allowed to see this data (for example another user's mailbox, or "
            "data that needs an administrator role)."
        )
    else:
        why = (
            "Some data also needs the app's service principal to hold a directory role, or is "
            "limited by tenant policy. Graph's message above may say more."
        )
    return FORBIDDEN_DESPITE_PERMISSION.build(
        title="Graph refused access although the token has the permission",
        explanation=f"The token carries {_and(present)}, which is enough to read {what}, yet Graph refused. {why}",
        evidence=facts.evidence,
        steps=[Step("Try again.", action=Action.RETRY)],
    )


def _throttled(facts: _GraphFacts, ctx: Context) -> Diagnosis:
    wait = f"Graph asked to wait {facts.retry_after} seconds (Retry-After). " if facts.retry_after else ""
    return THROTTLED.build(
        title="Microsoft Graph is throttling this app",
        explanation=f"Graph answered 429 Too Many Requests: this app sent more requests than Graph allows in a "
        f"short time. {wait}The dashboard waited and retried as Graph asked, but Graph was still "
        "refusing. Nothing is wrong with the connection; run it again in a few minutes. Sign-in "
        "and audit logs have a much lower limit (5 requests per 10 seconds per app and tenant).",
        evidence=facts.evidence,
        steps=[Step("Run it again in a few minutes.", action=Action.RETRY)],
    )


def _server_error(facts: _GraphFacts, ctx: Context) -> Diagnosis:
    return SERVER_ERROR.build(
        title="Microsoft Graph had a problem on its side",
        explanation=f"Graph answered {_status_text(facts.status)}. This is a fault at Microsoft (or the "
        "sandbox), not in the connection. The dashboard retried a few times before giving up. "
        "Try again in a few minutes; if it lasts, check Microsoft 365 service health.",
        evidence=facts.evidence,
        steps=[
            Step("Try again in a few minutes.", action=Action.RETRY),
            Step("Check Microsoft 365 service health.", url=SERVICE_HEALTH_URL),
        ],
    )


def _not_found(facts: _GraphFacts, ctx: Context) -> Diagnosis:
    path = ctx.entity_path or ""
    entity = catalogue.lookup(path)
    template_len = len(entity.path.split("/")) if entity else 0
    about_item = entity is not None and ("{id}" in entity.path or len(catalogue.path_segments(path)) > template_len)
    if about_item:
        return ITEM_NOT_FOUND.build(
            title="The item does not exist",
            explanation=f"Graph found no object for {path}: the ID in the path is wrong, the object was "
            "deleted, or it lives in another tenant.",
            evidence=facts.evidence,
            steps=[_edit_connection_step("Check the ID in the entity path.")],
        )
    return NOT_FOUND.build(
        title="Graph does not know this path",
        explanation=f"Graph has no collection at {path or '(empty path)'}. Check the entity path's spelling "
        "and capitals (for example servicePrincipals), and whether it exists in the Graph "
        f"version of the service URL ({ctx.graph_service_url}); some paths exist only in beta.",
        evidence=facts.evidence,
        steps=[_edit_connection_step("Correct the entity path or the Graph service URL.")],
    )


def _bad_request(facts: _GraphFacts, ctx: Context, token_kind: str) -> Diagnosis:
    text = facts.message
    lowered = text.lower()
    if "/me request is only valid with delegated" in lowered:
        entity = catalogue.lookup(ctx.entity_path or "")
        if entity and entity.delegated.possible:
            return _wrong_kind_only(
                facts, f"{entity.display_name} ({ctx.entity_path})", "app", entity.delegated.least[0]
            )
        return _wrong_kind_only(facts, ctx.entity_path or "/me", "app", "User.Read")
    if lowered.startswith("resource not found for the segment"):
        return _not_found(facts, ctx)
    advice = "Check the connection's $select and $filter."
    if "page size" in lowered:
        entity = catalogue.lookup(ctx.entity_path or "")
        top = entity.max_top if entity and entity.max_top else 999
        advice = f"The page size ($top) must be between 1 and {top}."
    elif "consistencylevel" in lowered or "$count" in lowered:
        advice = (
            "This is an advanced query: Graph needs the ConsistencyLevel: eventual header "
            "and $count=true for it. Simplify the $filter (avoid ne, not and endsWith) or "
            "remove $search."
        )
    elif "property" in lowered:
        advice = (
            "A property name in $select, $filter or $orderby is unknown or cannot be used "
            "that way; property names are case-sensitive. Some properties can only be "
            "selected when reading a single item."
        )
    return BAD_QUERY.build(
        title="Graph rejected the query",
        explanation=f"Graph could not run the request as written: \u201c{text or 'no reason given'}\u201d. {advice}",
        evidence=facts.evidence,
        steps=[_edit_connection_step("Edit the connection's $select and $filter.")],
    )


# --- after a re-fetch --------------------------------------------------------------------------


def permission_now_in_token(
    entity_name: str, missing_before: tuple[str, ...], present: str, token_permissions: frozenset[str]
) -> Diagnosis:
    """The re-fetched token carries what Graph refused the old one for (``present``, joined)."""
    return PERMISSION_NOW_IN_TOKEN.build(
        title=f"The new token carries {present}",
        explanation=f"Graph refused to read {entity_name} because the old token lacked "
        f"{', '.join(missing_before) or 'a permission'}. The re-fetched token now carries {present}, "
        "so the read should work: run Test connection (or the sync) again to confirm.",
        evidence=[("Token permissions now", ", ".join(sorted(token_permissions)) or "none")],
        steps=[Step("Press Test connection to read the entity again.", action=Action.TEST)],
    )
