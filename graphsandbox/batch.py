"""JSON batching: ``POST /v1.0/$batch`` with up to 20 requests (https://learn.microsoft.com/graph/json-batching).

Each inner request goes through the same front door as a lone one (token, budget, permissions,
data), so each is costed and may be throttled on its own: its 429 and ``Retry-After`` sit in its
own entry, and the batch still answers 200. A request whose ``dependsOn`` failed answers 424.
The batch is held as long as its slowest request (Graph runs a batch's requests side by side).
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from .costs import hold
from .wire import Request, Response, graph_error

MAX_REQUESTS = 20
# GUESS: Graph's exact texts for these refusals are not documented; the codes and statuses are.
TOO_MANY = f"The number of requests in a batch exceeds the limit of {MAX_REQUESTS}."
BAD_PAYLOAD = "Invalid batch payload format."
Run = Callable[[Request], tuple[Response, float]]


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def serve(req: Request, version: str, run: Run) -> Response:
    """The batch's answer; ``run`` serves one inner request and returns it with its modelled seconds."""
    if req.method.upper() != "POST":
        return graph_error(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    try:
        entries = _entries(req)
    except _Refused as refused:
        return graph_error(400, "BadRequest", refused.message)
    results: dict[str, dict[str, Any]] = {}
    slowest = 0.0
    by_id = {e["id"].lower(): e for e in entries}

    def answer(entry: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
        nonlocal slowest
        key = entry["id"].lower()
        if key in results:
            return results[key]
        failed = False
        for dep in entry["dependsOn"]:
            if dep.lower() in seen:
                failed = True  # a cycle can never be satisfied
                continue
            status = answer(by_id[dep.lower()], (*seen, key))["status"]
            failed = failed or not 200 <= status < 300
        if failed:
            # GUESS: the 424 body's code and text are not documented.
            response = graph_error(424, "FailedDependency", "A request this request depends on failed.")
        else:
            response, seconds = run(_inner_request(req, version, entry))
            slowest = max(slowest, seconds)
        results[key] = _entry_answer(entry["id"], response)
        return results[key]

    for entry in entries:
        answer(entry, ())
    hold(slowest)
    return Response(200, {"responses": [results[e["id"].lower()] for e in entries]}, {}, "application/json")


def _entries(req: Request) -> list[dict[str, Any]]:
    """The batch's requests, validated as Graph documents (at most 20, unique ids, relative URLs)."""
    try:
        payload = json.loads(req.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise _Refused(BAD_PAYLOAD) from None
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list) or not requests:
        raise _Refused(BAD_PAYLOAD)
    if len(requests) > MAX_REQUESTS:
        raise _Refused(TOO_MANY)
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in requests:
        if not isinstance(item, dict):
            raise _Refused(BAD_PAYLOAD)
        rid, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(rid, str) or not rid or not isinstance(method, str) or not isinstance(url, str):
            raise _Refused(BAD_PAYLOAD)
        if rid.lower() in seen:
            raise _Refused(f"Batch request id '{rid}' is duplicated.")  # GUESS: text undocumented
        seen.add(rid.lower())
        headers = item.get("headers") or {}
        if not isinstance(headers, dict):
            raise _Refused(BAD_PAYLOAD)
        if "body" in item and not any(k.lower() == "content-type" for k in headers):
            raise _Refused(f"Content-Type header is required for request '{rid}' with a body.")  # GUESS: text
        depends = item.get("dependsOn") or []
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise _Refused(BAD_PAYLOAD)
        entries.append({**item, "headers": headers, "dependsOn": depends})
    for entry in entries:
        missing = [d for d in entry["dependsOn"] if d.lower() not in seen]
        if missing:
            raise _Refused(f"Request '{entry['id']}' depends on '{missing[0]}', which is not in the batch.")  # GUESS
    return entries


def _inner_request(outer: Request, version: str, entry: dict[str, Any]) -> Request:
    """An inner request as a lone one: the outer request's headers (its token) plus the entry's own."""
    url: str = entry["url"]
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    headers = {k: v for k, v in outer.headers.items() if k not in ("content-type", "content-length")}
    headers.update({str(k).lower(): str(v) for k, v in entry["headers"].items()})
    body = entry.get("body")
    return Request(
        method=entry["method"].upper(),
        path=f"/{version}{parts.path}",
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=b"" if body is None else json.dumps(body).encode(),
        base_url=outer.base_url,
        raw_query=parts.query,
    )


def _entry_answer(rid: str, response: Response) -> dict[str, Any]:
    body: Any = response.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    headers = {"Content-Type": response.content_type, **response.headers}
    return {"id": rid, "status": response.status, "headers": headers, "body": body}
