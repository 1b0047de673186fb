"""The connection library: who may see what, the profile form, each connection's status, the audit log.

The names below are what the rest of the house calls; the modules hold the rest (``audit`` is
used as a module: ``audit.record``, ``audit.Action``).
"""

from connections.library.access import admin_teams, get_connection_for_user, get_for_user, teams_of
from connections.library.status import Health, attach_last_syncs, fill_status, health, problems, with_status

__all__ = [
    "Health",
    "admin_teams",
    "attach_last_syncs",
    "fill_status",
    "get_connection_for_user",
    "get_for_user",
    "health",
    "problems",
    "teams_of",
    "with_status",
]
