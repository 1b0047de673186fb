"""Models, one module per concern; import them from here."""
from .jobs import Job, WorkerHeartbeat

__all__ = ["Job", "WorkerHeartbeat"]
