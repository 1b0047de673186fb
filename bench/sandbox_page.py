"""How long the sandbox takes to serve one page of 999 users (in-process, no socket).

Run: .venv/bin/python bench/sandbox_page.py [users]
Prints the median time to build a page (GraphApi.handle) and to serialise it to JSON bytes, for
a page at the start and one deep into a large generated directory.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from graphsandbox.directory import Directory  # noqa: E402
from graphsandbox.graph import Caller, GraphApi  # noqa: E402
from graphsandbox.wire import Request  # noqa: E402

CALLER = Caller(app_id="bench", roles=frozenset({"User.Read.All"}), scopes=frozenset(), user_id=None)


def request(url: str) -> Request:
    parts = urlsplit(url)
    return Request(
        "GET", parts.path, dict(parse_qsl(parts.query)), {}, base_url="https://graph.bench", raw_query=parts.query
    )


def timed(api: GraphApi, url: str, rounds: int = 15) -> tuple[float, float, int]:
    handle_ms, total_ms = [], []
    size = 0
    for _ in range(rounds):
        start = time.perf_counter()
        resp = api.handle(request(url), "v1.0", urlsplit(url).path[len("/v1.0") :], CALLER)
        mid = time.perf_counter()
        size = len(resp.body_bytes())
        end = time.perf_counter()
        assert resp.status == 200
        handle_ms.append((mid - start) * 1000)
        total_ms.append((end - start) * 1000)
    return statistics.median(handle_ms), statistics.median(total_ms), size


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    directory = Directory(tenant_id="bench-tenant", domain="contoso.com", users=users, groups=10)
    api = GraphApi(directory, lambda: ([], []))
    first = api.handle(request("/v1.0/users?$top=999"), "v1.0", "/users", CALLER).body
    deep_token = first["@odata.nextLink"].split("$skiptoken=")[1]
    cases = {
        "first page of 999 users": "/v1.0/users?$top=999",
        "page of 999 users, $select=id,displayName": "/v1.0/users?$top=999&$select=id,displayName",
        "next page via skiptoken": f"/v1.0/users?$top=999&$skiptoken={deep_token}",
    }
    print(f"directory: {users:,} users")
    for label, url in cases.items():
        handle, total, size = timed(api, url)
        print(f"{label:45s} handle {handle:6.1f} ms   + JSON {total:6.1f} ms   ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
