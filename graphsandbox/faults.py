"""Injected faults: the next N requests under a path prefix fail (or only slow down).

Tests and demos use them to show throttling, server errors and hanging answers without waiting
for Microsoft to misbehave. With ``ratio`` (0 < ratio <= 1) a fault hits only that share of the
matching requests, drawn from a generator seeded by ``seed`` (the same requests in the same order
meet the same faults), until ``count`` of them have failed: a test control, not Graph behaviour.
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_STATUSES = (429, 500, 503, 504)


@dataclass
class Fault:
    path: str
    status: int | None
    count: int
    retry_after: int | None = None
    delay_ms: int = 0
    ratio: float = 1.0
    seed: int = 0
    draw: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def public(self) -> dict[str, Any]:
        public = asdict(self)
        public.pop("draw", None)
        return public


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
        ratio, seed = float(data.get("ratio", 1.0)), int(data.get("seed", 0))
        fault = Fault(path=path, status=status, count=count,
                      retry_after=None if retry_after is None else int(retry_after),
                      delay_ms=int(data.get("delay_ms") or 0), ratio=ratio, seed=seed, draw=random.Random(seed))
        if fault.count < 1 or fault.delay_ms < 0 or (fault.retry_after or 0) < 0:
            raise ValueError("count must be >= 1; delay_ms and retry_after must not be negative")
        if not 0 < fault.ratio <= 1:
            raise ValueError("ratio must be above 0 and at most 1")
        if fault.status is None and not fault.delay_ms:
            raise ValueError("a fault needs a status, a delay_ms, or both")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The first fault matching ``path``, used up by one; None when the request runs normally."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path):
                    if fault.ratio < 1 and fault.draw.random() >= fault.ratio:
                        continue  # this request is spared
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
