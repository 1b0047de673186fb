"""Alerts: one per state change of a connection, and the channels they go to.

The names below are what the rest of the house calls; the modules hold the rest.
"""

from connections.alerts.delivery import DELIVER_TASK, RESEND_TASK, resend_waiting, send
from connections.alerts.states import CREDENTIAL, DELTA, SYNC, TOKEN, observe, observe_delta, observe_expiry

__all__ = [
    "CREDENTIAL",
    "DELIVER_TASK",
    "DELTA",
    "RESEND_TASK",
    "SYNC",
    "TOKEN",
    "observe",
    "observe_delta",
    "observe_expiry",
    "resend_waiting",
    "send",
]
