"""Models, one module per concern; import them from here."""
from .jobs import Job, WorkerHeartbeat
from .teams import ROLE_RANK, Membership, Role, Team
from .profiles import Connection
from .audit import AuditEntry
from .tokens import ConnectionToken, TokenFetch
from .refusals import GraphRefusal
from .syncs import SyncRun, SyncStage, SyncStream, SyncVersion
from .logins import LoginFailure
from .sso import ClaimMapping, EntraIdentity
from .credentials import AppCredential, ConnectionCertificate, CredentialCheck
from .alerts import Alert, AlertDelivery, AlertState, NotificationChannel
from .schedules import SyncSchedule

__all__ = ["ROLE_RANK", "AuditEntry", "Connection", "ConnectionToken", "GraphRefusal", "TokenFetch", "Job", "LoginFailure", "Membership", "Role",
           "SyncRun", "SyncSchedule", "SyncStage", "SyncStream", "SyncVersion", "Team", "WorkerHeartbeat",
           "ClaimMapping", "EntraIdentity"]
__all__ += ["Alert", "AlertDelivery", "AlertState", "AppCredential", "ConnectionCertificate", "CredentialCheck",
            "NotificationChannel"]
