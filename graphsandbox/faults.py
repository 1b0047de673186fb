"""Injected faults: the next N requests under a path prefix fail (or only slow down).

Tests and demos use them to show throttling, server errors and hanging answers without waiting
for Microsoft to misbehave.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

FAULT_STATUSES = (429, 500, 503, 504)


@dataclass
class Fault:
    path: str
    status: int | None
    count: int
    retry_after: int | None = None
    delay_ms: int = 0
    id_token_claims: dict[str, Any] | None = None   # replace these claims in the ID tokens issued

    def public(self) -> dict[str, Any]:
        return asdict(self)


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
        if status is not None and status not in FAULT_STATUSES:
            raise ValueError(f"status must be one of {FAULT_STATUSES} or null")
        count = int(data.get("count", 1))
        retry_after = data.get("retry_after")
        if retry_after is None and status == 429:
            retry_after = 1
        claims = data.get("id_token_claims")
        if claims is not None and not (isinstance(claims, dict) and claims):
            raise ValueError("id_token_claims must be an object of claim names and values")
        fault = Fault(path=path, status=status, count=count,
                      retry_after=None if retry_after is None else int(retry_after),
                      delay_ms=int(data.get("delay_ms") or 0), id_token_claims=claims)
        if fault.count < 1 or fault.delay_ms < 0 or (fault.retry_after or 0) < 0:
            raise ValueError("count must be >= 1; delay_ms and retry_after must not be negative")
        if fault.status is None and not fault.delay_ms and not fault.id_token_claims:
            raise ValueError("a fault needs a status, a delay_ms or id_token_claims")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The first fault matching ``path``, used up by one; None when the request runs normally."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def public(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.public() for f in self._faults]
