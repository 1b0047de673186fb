"""The dashboard's Django app: connection profiles, their tokens, syncs, alerts and pages, one package per domain."""
