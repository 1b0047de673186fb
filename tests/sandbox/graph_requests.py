"""Calling GraphApi in-process with the same values the sandbox server would build (no socket)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from graphsandbox.directory import Directory
from graphsandbox.graph import Caller, GraphApi
from graphsandbox.wire import Request, Response

BASE = "https://graph.sandbox.test"
TENANT = "8f3c2a51-6d0e-4b7a-9c1d-2e5f7a9b0c11"
APP = Caller(app_id="app", roles=frozenset({"User.Read.All"}), scopes=frozenset(), user_id=None)
EVENTUAL = {"ConsistencyLevel": "eventual"}


def directory(users: int = 250, groups: int | None = 30, seed: int = 7, **kw: Any) -> Directory:
    return Directory(tenant_id=TENANT, domain="contoso.test", users=users, groups=groups, seed=seed, **kw)


def api_for(d: Directory, apps: list[dict] | None = None, sps: list[dict] | None = None) -> GraphApi:
    return GraphApi(d, lambda: (list(apps or []), list(sps or [])))


def call(
    api: GraphApi, url: str, headers: dict[str, str] | None = None, caller: Caller = APP, method: str = "GET"
) -> Response:
    """`url` is absolute (a nextLink) or a path starting with /v1.0 or /beta."""
    parts = urlsplit(url)
    version, _, rest = parts.path.lstrip("/").partition("/")
    req = Request(
        method=method,
        path=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers={k.lower(): v for k, v in (headers or {}).items()},
        base_url=BASE,
        raw_query=parts.query,
    )
    return api.handle(req, version, "/" + rest, caller)


def ok(api: GraphApi, url: str, headers: dict[str, str] | None = None, caller: Caller = APP) -> dict:
    resp = call(api, url, headers, caller)
    assert resp.status == 200, resp.body
    assert isinstance(resp.body, dict)
    return resp.body


def error(api: GraphApi, url: str, headers: dict[str, str] | None = None, caller: Caller = APP) -> tuple[int, str, str]:
    resp = call(api, url, headers, caller)
    assert isinstance(resp.body, dict) and "error" in resp.body, resp.body
    return resp.status, resp.body["error"]["code"], resp.body["error"]["message"]


def all_pages(api: GraphApi, url: str, headers: dict[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """(every item, every page body) following @odata.nextLink as a client would."""
    items, pages = [], []
    next_url: str | None = url
    while next_url:
        body = ok(api, next_url, headers)
        pages.append(body)
        items.extend(body["value"])
        next_url = body.get("@odata.nextLink")
    return items, pages
