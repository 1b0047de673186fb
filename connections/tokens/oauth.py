"""The authorization-code flow: Sign in with Microsoft → callback → tokens stored encrypted.

``state`` and the PKCE verifier live in the user's session, keyed by ``state`` and bound to
the connection, so a callback is accepted only by the browser session that started it, only
once, and only within ten minutes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from connections import credentials
from connections.encryption.keys import UndecryptableSecret
from connections.models import Connection, TokenFetch
from connections.policy import outbound_policy
from connections.tokens.fetch import (
    Outcome,
    context_for,
    record_failure,
    store_result,
    token_request,
    token_row,
    unreadable_diagnosis,
)
from microsoft import diagnoses, outbound, tokenclient

log = logging.getLogger(__name__)

SESSION_KEY = "graphconn_oauth_pending"
PENDING_SECONDS = 600
EXCHANGE_TIMEOUT = 10.0


class CallbackRefused(Exception):
    """The callback cannot be accepted; the message says why in plain words."""


@dataclass(frozen=True)
class Pending:
    connection_id: str
    verifier: str


def begin(request: HttpRequest, connection: Connection) -> str:
    """Remember a fresh state + PKCE verifier for this connection; return the authorise URL.

    The browser is sent there to type a password, so it must be an allowed login host like any
    outbound URL (``outbound.DisallowedURL`` otherwise; a profile saved in Django admin skips the form).
    """
    outbound.check_url(connection.authorize_url, outbound_policy())
    verifier, challenge = tokenclient.new_pkce()
    state = tokenclient.new_state()
    now = time.time()
    pending = {k: v for k, v in request.session.get(SESSION_KEY, {}).items() if now - v["at"] < PENDING_SECONDS}
    pending[state] = {"connection": str(connection.pk), "verifier": verifier, "at": now}
    request.session[SESSION_KEY] = pending
    v1 = connection.token_version == Connection.TokenVersion.V1
    return tokenclient.authorize_url(
        connection.authorize_url,
        connection.client_id,
        connection.redirect_url,
        (connection.resource if v1 else connection.scope) or "",
        state,
        challenge,
        v1=v1,
    )


def take_pending(request: HttpRequest, state: str) -> Pending:
    """The pending sign-in for ``state`` (removed: a state works once), or CallbackRefused."""
    pending = request.session.get(SESSION_KEY, {})
    entry = pending.pop(state, None) if state else None
    request.session[SESSION_KEY] = pending
    if entry is None:
        raise CallbackRefused(
            "This sign-in answer does not match a sign-in started from this browser session (the "
            "state value is unknown or was already used). Start again with Sign in with Microsoft."
        )
    if time.time() - entry["at"] > PENDING_SECONDS:
        raise CallbackRefused("This sign-in took longer than ten minutes. Start again with Sign in with Microsoft.")
    return Pending(entry["connection"], entry["verifier"])


@sensitive_variables()  # the debug 500 page must not show secrets or tokens
def complete(connection: Connection, pending: Pending, code: str, user: object) -> Outcome:
    """Redeem the code (with the PKCE verifier) synchronously, with a short timeout."""
    row = token_row(connection)
    fetch = TokenFetch.objects.create(connection=connection, reason=TokenFetch.Reason.SIGN_IN)
    try:
        request = token_request(
            connection,
            "authorization_code",
            code=code,
            redirect_uri=connection.redirect_url,
            code_verifier=pending.verifier,
        )
    except UndecryptableSecret as exc:  # nothing is sent; the page says to re-enter the secret
        return record_failure(connection, row, fetch, unreadable_diagnosis(connection, str(exc)), user)
    except credentials.CertificateMissing:  # nothing is sent; the page says to upload one
        return record_failure(connection, row, fetch, diagnoses.credentials.certificate_missing(connection.name), user)
    # The browser waits on this request: a short timeout and one retry, the rest as configured.
    policy = replace(outbound_policy(), timeout=EXCHANGE_TIMEOUT, retries=1)
    try:
        result = tokenclient.request_token(request, policy)
    except tokenclient.TokenError as err:
        diagnosis = diagnoses.diagnose_token_error(err, context_for(connection))
        return record_failure(connection, row, fetch, diagnosis, user, sign_in=True, request_id=err.trace_id or "")
    except Exception:  # the fetch row is never left unfinished; the log has the traceback
        log.exception("sign-in code exchange for connection %s crashed", connection.pk)
        return record_failure(connection, row, fetch, diagnoses.signin.crashed(), user, sign_in=True)
    return store_result(connection, row, fetch, result, TokenFetch.Reason.SIGN_IN, user)


def error_diagnosis(connection: Connection, error: str, description: str) -> diagnoses.Diagnosis:
    """The authorise endpoint redirected back with ``error`` (the user cancelled, consent refused…)."""
    return diagnoses.signin.returned_error(error, description)
