"""Background work: recording jobs and sending them to the worker, starting them from pages, heartbeats and the reaper, health."""
