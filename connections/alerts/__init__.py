"""Alerts: one per state change of a connection, the daily check, and the channels they go to."""
