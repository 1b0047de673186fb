"""Sync runs: reading an entity's pages into the versioned store, cancel, schedules, retention and the history pictures."""
