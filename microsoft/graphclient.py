"""Reading Microsoft Graph for a connection: URLs from the profile, responses as plain values.

All requests go through ``outbound.request`` (allowed hosts, TLS, retries with Retry-After);
an HTTP error is returned as a ``GraphResponse``, not raised, so callers can diagnose it. Every GET
draws its cost from the app + tenant's throttle budget when one is installed (``throttling``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from microsoft import outbound, throttling
from microsoft.redaction import sensitive_variables


@dataclass(frozen=True)
class GraphResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    size: int = 0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def request_id(self) -> str:
        return self.headers.get("request-id", "")

    @property
    def error_code(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("code", "")) if isinstance(error, dict) else ""

    @property
    def error_message(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("message", "")) if isinstance(error, dict) else ""


def collection_url(service_url: str, entity: str) -> str:
    return f"{service_url.rstrip('/')}/{entity.strip('/')}"


# The item URL convention's only placeholders. It is filled by plain substitution, never by
# str.format: a format spec such as {entity:@>100000000} would build a huge string.
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
ITEM_PLACEHOLDERS = frozenset({"entity", "key"})
ITEM_URL_MAX = 300


def convention_problem(convention: str) -> str:
    """Why ``convention`` is not a usable item URL convention, or "" when it is."""
    if len(convention) > ITEM_URL_MAX:
        return f"The item URL convention is limited to {ITEM_URL_MAX} characters."
    names = PLACEHOLDER.findall(convention)
    if (
        any(name not in ITEM_PLACEHOLDERS for name in names)
        or "{" in PLACEHOLDER.sub("", convention)
        or "}" in PLACEHOLDER.sub("", convention)
    ):
        return (
            "Only the placeholders {entity} and {key} may be used. Write them exactly so, without a "
            "format spec or conversion such as {key:>10} or {key!r}."
        )
    if "entity" not in names or "key" not in names:
        return "The item URL convention must contain both {entity} and {key}."
    return ""


def item_url(service_url: str, convention: str, entity: str, key: str) -> str:
    """The URL of one item by the profile's ``{entity}/{key}`` convention (key URL-quoted)."""
    values = {"entity": entity.strip("/"), "key": quote(str(key), safe="@.'()=")}
    path = PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), convention[:ITEM_URL_MAX]).strip("/")
    return f"{service_url.rstrip('/')}/{path}"


@sensitive_variables()  # the debug 500 page must not show secrets or tokens
def get(
    url: str,
    access_token: str,
    *,
    policy: outbound.OutboundPolicy,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> GraphResponse:
    """GET a Graph URL with the bearer token; transport failures raise ``outbound.OutboundError``.

    With a throttle budget installed, the request first draws its cost from its app + tenant's
    budget (``throttling.BudgetBusy`` when a non-blocking reading would have to wait), and the
    answer's throttling headers are learned from.
    """
    ticket = throttling.before(access_token, url, params)
    sent = {"Authorization": f"Bearer {access_token}", "Accept": "application/json", **(headers or {})}
    response = outbound.request("GET", url, policy=policy, params=params, headers=sent)
    throttling.after(ticket, response.headers)
    content = response.content
    try:
        body: Any = orjson.loads(content) if content else None  # orjson: a sync parses every page Graph sends
    except ValueError:  # orjson.JSONDecodeError is one
        body = {"_text": content[:500].decode("utf-8", "replace")}
    return GraphResponse(response.status_code, body, {k.lower(): v for k, v in response.headers.items()}, len(content))


def query_params(select: str = "", filter_: str = "", top: int | None = None) -> dict[str, str]:
    params: dict[str, str] = {}
    if top:
        params["$top"] = str(top)
    if select.strip():
        params["$select"] = select.strip()
    if filter_.strip():
        params["$filter"] = filter_.strip()
    return params
