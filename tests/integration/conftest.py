"""Integration fixtures: the session's sandbox (tests/conftest.py), reset per test, and the
outbound policy that allows exactly it and trusts its CA."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from microsoft.outbound import OutboundPolicy


@pytest.fixture
def sandbox_policy(clean_sandbox) -> OutboundPolicy:
    """Allows only the sandbox's ``127.0.0.1:<port>``; short backoff keeps retry tests fast."""
    host = urlsplit(clean_sandbox.base_url).netloc
    return OutboundPolicy(
        allowed_hosts=frozenset({host}),
        ca_bundle=clean_sandbox.ca_path,
        timeout=5.0,
        backoff_base=0.05,
        backoff_cap=0.2,
    )
