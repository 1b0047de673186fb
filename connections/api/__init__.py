"""The machine-facing side: the REST API under /api/v1/ and the Prometheus metrics."""
