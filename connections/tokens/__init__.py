"""A connection's access token: getting and refreshing it, the authorization-code flow, Test connection,
admin consent, what the app was granted, and the daily credential check.

The names below are what the rest of the house calls; the modules hold the rest.
"""

from connections.tokens.checks import check_credentials
from connections.tokens.fetch import (
    REUSE_SECONDS,
    Outcome,
    context_for,
    discard_saved_token,
    due_for_refresh,
    ensure_token,
    fetch_token,
    record_failure,
    refused_since_fetched,
    store_result,
    token_request,
    token_row,
    unreadable_diagnosis,
)
from connections.tokens.session import GraphSession, TokenUnavailable, reassess_after_refetch

__all__ = [
    "REUSE_SECONDS",
    "GraphSession",
    "Outcome",
    "TokenUnavailable",
    "check_credentials",
    "context_for",
    "discard_saved_token",
    "due_for_refresh",
    "ensure_token",
    "fetch_token",
    "reassess_after_refetch",
    "record_failure",
    "refused_since_fetched",
    "store_result",
    "token_request",
    "token_row",
    "unreadable_diagnosis",
]
