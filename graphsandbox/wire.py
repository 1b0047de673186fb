"""Request/response values shared by every part of the sandbox, and Graph's error body.

The server turns a WSGI environ into a ``Request`` and a ``Response`` back into WSGI; every
handler (Entra, Graph, control API) works on these plain values so it can be unit-tested
without a socket.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str  # URL path, percent-decoded, without the query string
    query: dict[str, str]  # query parameters, last value wins (keys keep their `$`)
    headers: dict[str, str]  # lower-case header names
    body: bytes = b""
    base_url: str = ""  # scheme://host:port the client used, no trailing slash
    raw_query: str = ""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def form(self) -> dict[str, str]:
        """The body as an application/x-www-form-urlencoded form (last value wins)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def body_bytes(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


GRAPH_SUCCESS_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)


def graph_error(
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
    client_request_id: str | None = None,
) -> Response:
    """Graph's OData error body (https://learn.microsoft.com/graph/errors); the server adds the common headers."""
    request_id = request_id or str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }
    return Response(status, body, dict(headers or {}), "application/json")
