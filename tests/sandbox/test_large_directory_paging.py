"""Large generated directories: paging 100,000 users keeps memory flat; lookups stay instant."""

from __future__ import annotations

import tracemalloc

import pytest

from tests.sandbox.graph_requests import EVENTUAL, api_for, call, directory, ok

# Directory-scale: deselected by `make test`, run by .ci/run.
pytestmark = pytest.mark.slow


def test_paging_100k_users_returns_each_once_with_flat_memory():
    d = directory(users=100_000, groups=10)
    api = api_for(d)
    seen: set[int] = set()
    pages = 0
    tracemalloc.start()
    try:
        url: str | None = "/v1.0/users?$top=999&$select=id,displayName"
        while url:
            body = ok(api, url)
            pages += 1
            seen.update(int(u["id"][-12:], 16) for u in body["value"])
            url = body.get("@odata.nextLink")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(seen) == 100_000 and pages == 101
    # The bound leaves room for the id set, and none for a list of every generated user.
    print(f"100k users in {pages} pages, traced peak {peak / 1e6:.1f} MB")
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_million_user_tenant_answers_count_and_lookups_without_scanning():
    d = directory(users=1_000_000, groups=10)
    api = api_for(d)
    last = d.view("users").at(999_999)
    assert ok(api, f"/v1.0/users/{last['id']}")["id"] == last["id"]
    assert ok(api, f"/v1.0/users/{last['userPrincipalName']}")["id"] == last["id"]
    assert call(api, "/v1.0/users/$count", EVENTUAL).body == "1000000"
    body = ok(api, "/v1.0/users?$count=true&$top=3", EVENTUAL)
    assert body["@odata.count"] == 1_000_000
