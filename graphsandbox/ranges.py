"""A sorted index of the generated users' userPrincipalName, so a range filter reads only its range.

A partitioned read sends ``userPrincipalName ge 'a' and userPrincipalName le 'b'`` and its pages;
without an index every page would scan the whole generated directory. The index holds the
generated names only: the overlay (added or renamed users) is checked item by item, and every
candidate still goes through the full ``$filter`` predicate, so the index can only make a read
faster, never change its answer; a count of a filter that is nothing but the range is taken from
the index and the overlay without building a user (``directory.View.count_in_range``). Keys are folded as ``$filter`` compares strings (``odata.fold``).
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from typing import Callable

from . import generator


class UpnIndex:
    def __init__(self, seed: int, domain: str, n: int, fold: Callable[[str], str]) -> None:
        pairs = sorted((fold(generator.user_upn(seed, domain, i)), i) for i in range(n))
        self.keys = [k for k, _ in pairs]
        self.positions = [p for _, p in pairs]
        self._cache: OrderedDict[tuple[str | None, str | None], list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def _span(self, lo: str | None, hi: str | None) -> tuple[int, int]:
        """Where the folded names within [lo, hi] start and end in ``keys`` (end ≤ start: none)."""
        start = 0 if lo is None else bisect_left(self.keys, lo)
        end = len(self.keys) if hi is None else bisect_right(self.keys, hi)
        return start, end

    def count(self, lo: str | None, hi: str | None) -> int:
        """How many generated users' folded name is within [lo, hi] (two bisections, no list)."""
        start, end = self._span(lo, hi)
        return max(0, end - start)

    def between(self, lo: str | None, hi: str | None) -> list[int]:
        """Positions (ascending) of the generated users whose folded name is within [lo, hi]."""
        with self._lock:
            if (lo, hi) in self._cache:
                self._cache.move_to_end((lo, hi))
                return self._cache[(lo, hi)]
        start, end = self._span(lo, hi)
        found = sorted(self.positions[start:end]) if start < end else []
        with self._lock:
            self._cache[(lo, hi)] = found
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return found


_indexes: dict[tuple[int, str, int], UpnIndex] = {}
_build_lock = threading.Lock()


def upn_index(seed: int, domain: str, n: int, fold: Callable[[str], str]) -> UpnIndex:
    """The index for one generated directory, built on first use (once, even under concurrent reads)."""
    key = (seed, domain, n)
    with _build_lock:
        if key not in _indexes:
            if len(_indexes) >= 2:
                _indexes.clear()
            _indexes[key] = UpnIndex(seed, domain, n, fold)
        return _indexes[key]
