"""Admin consent that comes home: the consent link carries a ``state`` bound to the browser
session and the connection, and the return is recognised, checked and acted on.

Entra's admin-consent endpoint sends the browser back to the redirect URI with
``admin_consent=True&tenant=…&state=…`` (v2 also ``scope=…``) on success, and with ``error`` (and
on v2 still ``admin_consent=True``) when the administrator declines:
https://learn.microsoft.com/entra/identity-platform/v2-admin-consent#successful-response and
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow#request-the-permissions-from-a-directory-admin.
The returned ``tenant`` is shown, never trusted for anything (Microsoft's docs say so).
A pending consent works once, for ten minutes, in the session that started it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.http import HttpRequest

from connections.models import Connection
from connections.policy import outbound_policy
from connections.tokens.fetch import context_for
from microsoft import diagnoses, outbound, tokenclient

SESSION_KEY = "graphconn_consent_pending"
OUTCOME_KEY = "graphconn_consent_outcome"
PENDING_SECONDS = 600
TENANT_PATTERN = re.compile(r"^[0-9A-Za-z.\-]{1,255}$")


class ConsentRefused(Exception):
    """The consent return cannot be matched to a consent started here; the message says why."""


@dataclass(frozen=True)
class Return:
    """What Entra's redirect says, read from its query parameters."""

    granted: bool
    tenant: str
    error: str
    description: str

    @classmethod
    def of(cls, params: dict[str, str]) -> Return:
        error = params.get("error", "").strip()
        tenant = params.get("tenant", "").strip()
        return cls(
            granted=params.get("admin_consent", "").lower() == "true" and not error,
            tenant=tenant if TENANT_PATTERN.match(tenant) else "",
            error=error[:100],
            description=params.get("error_description", "")[:500],
        )


def is_consent_return(request: HttpRequest) -> bool:
    """A consent return carries a state this session issued for consent, or ``admin_consent``
    without a ``code`` (a v1 sign-in's answer can carry ``admin_consent=True`` next to its code)."""
    state = request.GET.get("state", "")
    if state and state in request.session.get(SESSION_KEY, {}):
        return True
    return "admin_consent" in request.GET and "code" not in request.GET


def consent_url(connection: Connection, state: str | None = None) -> str:
    """The connection's admin-consent URL (v2, on its cloud's login host, ``/.default`` scope)."""
    context = context_for(connection)
    return tokenclient.graph_admin_consent_url(
        context.login_host,
        connection.tenant,
        connection.client_id,
        connection.service_url,
        redirect_uri=connection.redirect_url or None,
        state=state,
    )


def begin(request: HttpRequest, connection: Connection) -> str:
    """Remember a fresh state for this connection and user; return the consent URL carrying it.

    The browser goes to the login host, so it must be an allowed one (``outbound.DisallowedURL``).
    """
    url = consent_url(connection)
    outbound.check_url(url, outbound_policy())
    state = tokenclient.new_state()
    now = time.time()
    pending = {k: v for k, v in request.session.get(SESSION_KEY, {}).items() if now - v["at"] < PENDING_SECONDS}
    pending[state] = {"connection": str(connection.pk), "user": str(request.user.pk), "at": now}
    request.session[SESSION_KEY] = pending
    return consent_url(connection, state)


def take(request: HttpRequest, state: str) -> str:
    """The connection id of the pending consent for ``state`` (removed: it works once)."""
    pending = request.session.get(SESSION_KEY, {})
    entry = pending.pop(state, None) if state else None
    request.session[SESSION_KEY] = pending
    if not state:
        raise ConsentRefused(
            "The answer carries no state value, so it cannot be matched to a consent started from this dashboard."
        )
    if entry is None or entry.get("user") != str(request.user.pk):
        raise ConsentRefused(
            "The answer's state value does not match a consent started from this browser "
            "session: it is unknown or was already used."
        )
    if time.time() - entry["at"] > PENDING_SECONDS:
        raise ConsentRefused("The consent took longer than ten minutes, so its state value has expired.")
    return entry["connection"]


def declined_diagnosis(connection: Connection, answer: Return) -> diagnoses.Diagnosis:
    """Entra came back with an error instead of a grant: what happened and the next step."""
    return diagnoses.consent.not_granted(answer.error, answer.description, context_for(connection))


def remember_outcome(request: HttpRequest, connection: Connection, diagnosis: diagnoses.Diagnosis) -> None:
    """Keep a declined consent's explanation for the connection page's next render (once)."""
    outcomes = request.session.get(OUTCOME_KEY, {})
    outcomes[str(connection.pk)] = diagnosis.to_dict()
    request.session[OUTCOME_KEY] = outcomes


def pop_outcome(request: HttpRequest, connection: Connection) -> diagnoses.Diagnosis | None:
    outcomes = request.session.get(OUTCOME_KEY)
    if not outcomes or str(connection.pk) not in outcomes:
        return None
    data = outcomes.pop(str(connection.pk))
    request.session[OUTCOME_KEY] = outcomes
    return diagnoses.Diagnosis.from_dict(data)
