"""Models, one module per concern; import them from here."""

from .alerts import Alert, AlertDelivery, AlertState, NotificationChannel
from .apitokens import ApiToken
from .audit import AuditEntry
from .credentials import AppCredential, ConnectionCertificate, CredentialCheck
from .jobs import Job, WorkerHeartbeat
from .logins import LoginFailure
from .profiles import Connection
from .refusals import GraphRefusal
from .schedules import SyncSchedule
from .sso import ClaimMapping, EntraIdentity
from .syncs import SyncRun, SyncStage, SyncStream, SyncVersion
from .teams import ROLE_RANK, Membership, Role, Team
from .tokens import ConnectionToken, TokenFetch

__all__ = [
    "ROLE_RANK",
    "AuditEntry",
    "Connection",
    "ConnectionToken",
    "GraphRefusal",
    "TokenFetch",
    "Job",
    "LoginFailure",
    "Membership",
    "Role",
    "SyncRun",
    "SyncSchedule",
    "SyncStage",
    "SyncStream",
    "SyncVersion",
    "Team",
    "WorkerHeartbeat",
    "ClaimMapping",
    "EntraIdentity",
]
__all__ += [
    "Alert",
    "ApiToken",
    "AlertDelivery",
    "AlertState",
    "AppCredential",
    "ConnectionCertificate",
    "CredentialCheck",
    "NotificationChannel",
]
