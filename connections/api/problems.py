"""Errors as data: RFC 9457 problem details (``application/problem+json``) with a stable ``type``
per failure, so a script can branch on it and a person can read ``title`` and ``detail``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from pydantic import BaseModel

from graphconn.redaction import redact

CONTENT_TYPE = "application/problem+json"
BASE = "https://graphconn.invalid/problems/"  # identifiers, not pages: RFC 9457 allows that


class Problem(BaseModel):
    """A problem detail. ``diagnosis`` carries the same plain-word diagnosis the pages show."""

    type: str
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    retry_after: int | None = None
    errors: list[dict[str, Any]] | None = None
    diagnosis: dict[str, Any] | None = None


# The stable types: the last path segment names the failure.
TITLES: dict[str, tuple[int, str]] = {
    "not-authenticated": (401, "Authentication required"),
    "token-invalid": (401, "The API token is unknown, expired or revoked"),
    "too-many-failures": (429, "Too many failed authentications from your address"),
    "csrf-failed": (403, "CSRF check failed"),
    "forbidden": (403, "Your role in the team does not allow this"),
    "not-found": (404, "No such object in your teams"),
    "invalid-input": (422, "The request is not valid"),
    "not-exportable": (409, "This run cannot be exported"),
    "method-not-allowed": (405, "Method not allowed"),
    "server-error": (500, "Something went wrong on the server"),
}


class ApiProblem(Exception):
    """Raise to answer with a problem of a known ``kind`` (a key of ``TITLES``)."""

    def __init__(self, kind: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail
        self.extra = extra


def problem(kind: str, detail: str = "", request: HttpRequest | None = None, **extra: Any) -> Problem:
    status, title = TITLES[kind]
    return Problem(
        type=BASE + kind,
        title=title,
        status=status,
        detail=redact(detail)[:1000],
        instance=request.path if request is not None else "",
        **extra,
    )


def response(kind: str, detail: str = "", request: HttpRequest | None = None, **extra: Any) -> HttpResponse:
    body = problem(kind, detail, request, **extra)
    answer = HttpResponse(body.model_dump_json(exclude_none=True), status=body.status, content_type=CONTENT_TYPE)
    if kind in ("not-authenticated", "token-invalid"):
        answer["WWW-Authenticate"] = 'Bearer realm="graphconn"'
    if body.retry_after:
        answer["Retry-After"] = str(body.retry_after)
    return answer
