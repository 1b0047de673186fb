"""Sync runs: reading an entity's pages into the versioned store, the run's lifecycle, what runs
published, schedules, retention and the history pictures.

``start`` (Sync now), ``cancel`` and ``run_sync`` (the worker) are what the pages and tasks call.
"""

from connections.syncs.lifecycle import active_run, cancel, interrupt, start
from connections.syncs.runner import run_sync

__all__ = ["active_run", "cancel", "interrupt", "run_sync", "start"]
