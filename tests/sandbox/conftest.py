"""Sandbox test fixtures. The sandbox process itself (``sandbox``, ``clean_sandbox``) is the
session's one from tests/conftest.py, shared with the dashboard's tests; these tests use no
database."""

from __future__ import annotations

import pytest
import requests

from graphsandbox.testing import RunningSandbox


@pytest.fixture
def http(sandbox: RunningSandbox) -> requests.Session:
    """A requests session trusting the sandbox's CA."""
    return sandbox.session()
