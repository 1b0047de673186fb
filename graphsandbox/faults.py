"""Injected faults: the next N requests under a path prefix fail (or only slow down).

Tests and demos use them to show throttling, server errors and hanging answers without waiting
for Microsoft to misbehave. A fault with ``rate`` strikes each matching request with that
probability (seeded, so a test run is repeatable) until its ``count`` is used up; ``statuses``
picks one status per strike. The odd answers a proxy or a broken gateway gives are faults too:
``body`` (+ ``content_type``) replaces the error body (HTML, empty, ``{"error": "text"}``),
``location`` answers a redirect to that URL, and ``next_link`` serves the real page with its
``@odata.nextLink`` replaced.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import Any

FAULT_STATUSES = (429, 500, 502, 503, 504)
BODY_STATUSES = range(400, 600)  # any error status may carry a replaced body
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


@dataclass
class Fault:
    path: str
    status: int | None
    count: int
    retry_after: int | None = None
    delay_ms: int = 0
    id_token_claims: dict[str, Any] | None = None  # replace these claims in the ID tokens issued
    rate: float | None = None
    statuses: list[int] | None = None
    seed: int = 0
    body: str | None = None
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None
    next_link: str | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("rng", None)
        return data


class FaultTable:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, data: dict[str, Any]) -> Fault:
        """Validate a control-API fault description and queue it; raises ValueError when bad."""
        path = data.get("path") or "/"
        status = data.get("status")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError("path must be a path prefix starting with '/'")
        statuses = data.get("statuses")
        body, location, next_link = data.get("body"), data.get("location"), data.get("next_link")
        if statuses is not None:
            if not isinstance(statuses, list) or not statuses or any(s not in FAULT_STATUSES for s in statuses):
                raise ValueError(f"statuses must be a list of {FAULT_STATUSES}")
            status = statuses[0]
        elif location is not None:
            if status not in REDIRECT_STATUSES or not isinstance(location, str):
                raise ValueError(f"a location needs a redirect status {REDIRECT_STATUSES}")
        elif body is not None:
            if status not in BODY_STATUSES or not isinstance(body, str):
                raise ValueError("a body needs an error status (400-599) and must be text")
        elif status is not None and status not in FAULT_STATUSES:
            raise ValueError(f"status must be one of {FAULT_STATUSES} or null")
        if next_link is not None and (status is not None or not isinstance(next_link, str)):
            raise ValueError("next_link replaces the nextLink of a normal answer: give it no status")
        count = int(data.get("count", 1))
        retry_after = data.get("retry_after")
        if retry_after is None and status == 429 and "retry_after" not in data:
            retry_after = 1
        rate = data.get("rate")
        claims = data.get("id_token_claims")
        if claims is not None and not (isinstance(claims, dict) and claims):
            raise ValueError("id_token_claims must be an object of claim names and values")
        fault = Fault(
            path=path,
            status=status,
            count=count,
            retry_after=None if retry_after is None else int(retry_after),
            delay_ms=int(data.get("delay_ms") or 0),
            rate=None if rate is None else float(rate),
            statuses=statuses,
            seed=int(data.get("seed") or 0),
            body=body,
            content_type=str(data.get("content_type") or "text/html; charset=utf-8"),
            location=location,
            next_link=next_link,
            id_token_claims=claims,
        )
        fault.rng.seed(fault.seed)
        if fault.count < 1 or fault.delay_ms < 0 or (fault.retry_after or 0) < 0:
            raise ValueError("count must be >= 1; delay_ms and retry_after must not be negative")
        if fault.rate is not None and not 0 < fault.rate <= 1:
            raise ValueError("rate must be a probability in (0, 1]")
        if fault.status is None and not fault.delay_ms and fault.next_link is None and not fault.id_token_claims:
            raise ValueError("a fault needs a status, a delay_ms, a next_link, id_token_claims, or a combination")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The first fault matching ``path``, used up by one; None when the request runs normally."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    if fault.rate is not None and fault.rng.random() >= fault.rate:
                        continue  # this request is spared by this fault
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    if fault.statuses:
                        return replace(fault, status=fault.rng.choice(fault.statuses))
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def public(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.public() for f in self._faults]
