"""The token layer's sandbox fixtures, reused by the permission and consent tests."""
from tests.tokens.conftest import run_job, sandbox_app, sandbox_connection  # noqa: F401  (fixtures)
