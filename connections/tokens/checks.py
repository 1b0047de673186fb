"""The daily check: every connection's credentials re-read from Entra where possible, then the
expiry and changes-only-sync alerts.

It gets tokens and reads Entra, then records alert states: it sits with the token services,
above the alerts.
"""

from __future__ import annotations

import datetime as dt
import logging

from connections.alerts.states import observe_delta, observe_expiry
from connections.models import Connection, ConnectionToken
from connections.tokens import appinfo
from connections.tokens.fetch import ensure_token

log = logging.getLogger(__name__)


def check_credentials(today: dt.date | None = None) -> dict[str, int]:
    """Beat, daily: re-read every connection's credentials from Entra where possible, then alert on
    expiry levels (connections whose app may not read itself use the known or typed date), and on
    scheduled connections whose changes-only sync is about to expire."""
    checked = alerted = 0
    for connection in Connection.objects.select_related("team").iterator():
        try:
            token = ConnectionToken.objects.filter(connection=connection).first()
            if token is not None and token.is_valid:
                appinfo.refresh_app_facts(connection, token)  # re-reads Entra and observes expiry
            elif not connection.is_delegated:
                outcome = ensure_token(connection, reason="refresh")
                if outcome.ok:
                    appinfo.refresh_app_facts(connection, outcome.token)
            if observe_expiry(connection, today) is not None:
                alerted += 1
            if observe_delta(connection) is not None:
                alerted += 1
        except Exception:
            log.exception("credential check of connection %s failed", connection.pk)
        checked += 1
    return {"checked": checked, "alerted": alerted}
