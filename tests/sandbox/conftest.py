"""Sandbox fixtures: one sandbox process (HTTPS, its own CA) per test session.

These override the project-level fixtures of the same name so sandbox tests need no Django
settings and no database.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from graphsandbox.testing import RunningSandbox, start_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_sandbox(users=250, groups=30, seed=7)
    yield running
    running.stop()


@pytest.fixture
def clean_sandbox(sandbox: RunningSandbox) -> RunningSandbox:
    """The sandbox back in its start state (apps, grants, directory, faults, request log)."""
    sandbox.control.post("/_sandbox/reset", {})
    return sandbox


@pytest.fixture
def http(sandbox: RunningSandbox) -> requests.Session:
    """A requests session trusting the sandbox's CA."""
    return sandbox.session()
