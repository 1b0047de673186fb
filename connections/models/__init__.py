"""Models, one module per concern; import them from here."""
from .jobs import Job, WorkerHeartbeat
from .teams import ROLE_RANK, Membership, Role, Team
from .profiles import Connection
from .audit import AuditEntry

__all__ = ["ROLE_RANK", "AuditEntry", "Connection", "Job", "Membership", "Role", "Team", "WorkerHeartbeat"]
