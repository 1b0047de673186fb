"""Serving one page of a collection: filter scan, ordering, `@odata.count`, `@odata.nextLink`.

A skip token holds a *position* in the collection (or an offset into a sorted order), never the
items, so paging through a million generated users keeps memory flat.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol
from urllib.parse import quote

from . import odata
from .odata import Query, QueryError
from .schema import EntitySpec
from .wire import Request


class Source(Protocol):
    """Positions 0..end-1, some of which may be empty (deleted)."""

    @property
    def end(self) -> int: ...

    def at(self, pos: int) -> dict | None: ...

    def iter_from(self, pos: int) -> Iterator[tuple[int, dict]]: ...

    def count(self) -> int: ...


class ListSource:
    """A small in-memory collection (applications, roles, members, messages…)."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items

    @property
    def end(self) -> int:
        return len(self.items)

    def at(self, pos: int) -> dict | None:
        return self.items[pos] if 0 <= pos < len(self.items) else None

    def iter_from(self, pos: int) -> Iterator[tuple[int, dict]]:
        for p in range(max(0, pos), len(self.items)):
            yield p, self.items[p]

    def count(self) -> int:
        return len(self.items)


@dataclass
class Page:
    items: list[dict]
    next_token: str | None
    count: int | None


class SortCache:
    """The sorted positions of a few recent ($orderby, $filter) queries, so later pages of the
    same query do not sort again. Keyed by directory state, so a change invalidates it."""

    def __init__(self, size: int = 4) -> None:
        self._entries: OrderedDict[tuple, list[int]] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get_or_build(self, key: tuple | None, build: Callable[[], list[int]]) -> list[int]:
        if key is None:
            return build()
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        order = build()
        with self._lock:
            self._entries[key] = order
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return order


def page_size(req: Request, q: Query, spec: EntitySpec) -> int:
    """$top, else `Prefer: odata.maxpagesize=N` (capped at the entity's maximum), else the default."""
    if q.top is not None:
        return q.top
    for part in req.header("prefer").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            return max(1, min(int(value), spec.max_top))
    return spec.default_top


def bad_skiptoken() -> QueryError:
    # [UNCONFIRMED text] a skip token we did not issue.
    return odata.bad_request("The $skiptoken value is not valid.")


def fetch(source: Source, q: Query, size: int, sort_cache: SortCache, cache_key: tuple | None) -> Page:
    """One page, starting where the skip token says; `count` only on the first page."""
    token = odata.decode_token(q.skiptoken) if q.skiptoken else {}
    if token is None:
        raise bad_skiptoken()
    first = not q.skiptoken
    if q.orderby is not None:
        order = sort_cache.get_or_build(cache_key, lambda: _sorted_positions(source, q))
        offset = int(token.get("o", q.skip))
        items = [it for it in (source.at(p) for p in order[offset : offset + size]) if it is not None]
        nxt = offset + size
        token_out = odata.encode_token({"o": nxt}) if nxt < len(order) else None
        return Page(items, token_out, len(order) if first and q.count else None)
    pos = int(token.get("p", 0))
    items = []
    next_pos: int | None = None
    to_skip = q.skip if first else 0
    for p, item in _matching(source, q, pos):
        if to_skip:
            to_skip -= 1
            continue
        if len(items) == size:
            next_pos = p
            break
        items.append(item)
    count = None
    if first and q.count:
        count = count_matching(source, q)
    return Page(items, odata.encode_token({"p": next_pos}) if next_pos is not None else None, count)


def count_matching(source: Source, q: Query) -> int:
    """How many items match; no filter means no scan (the directory knows its size)."""
    if q.predicate is None:
        return source.count()
    counter: Callable[[str, str | None, str | None], int | None] | None = getattr(source, "count_in_range", None)
    if counter is not None and q.range_only is not None and q.bounds and q.range_only in q.bounds:
        lo, hi = q.bounds[q.range_only]
        counted = counter(q.range_only, lo, hi)
        if counted is not None:
            return counted
    return sum(1 for _ in _matching(source, q, 0))


def _matching(source: Source, q: Query, pos: int) -> Iterator[tuple[int, dict]]:
    """(position, item) of the matching items from ``pos`` on, in position order. When the filter
    bounds a property the source indexes, only the index's candidates are read."""
    positions = _candidates(source, q)
    if positions is None:
        for p, item in source.iter_from(pos):
            if q.predicate is None or q.predicate(item):
                yield p, item
        return
    for p in positions[bisect_left(positions, pos) :]:
        candidate = source.at(p)
        if candidate is not None and (q.predicate is None or q.predicate(candidate)):
            yield p, candidate


def _candidates(source: Source, q: Query) -> list[int] | None:
    finder: Callable[[str, str | None, str | None], list[int] | None] | None = getattr(source, "candidates", None)
    if finder is None or not q.bounds:
        return None
    for prop, (lo, hi) in q.bounds.items():
        found = finder(prop, lo, hi)
        if found is not None:
            return found
    return None


def _sorted_positions(source: Source, q: Query) -> list[int]:
    assert q.orderby is not None
    prop, desc = q.orderby
    keyed: list[tuple[Any, int]] = []
    for p, item in source.iter_from(0):
        if q.predicate is None or q.predicate(item):
            value = item.get(prop)
            keyed.append(((value or "").lower() if isinstance(value, str) or value is None else value, p))
    keyed.sort(reverse=desc)
    return [p for _, p in keyed]


def link(base: str, path: str, query: dict[str, str], extra: dict[str, str]) -> str:
    """An absolute Graph link: the original options (minus paging tokens) plus `extra`."""
    drop = {k.lower() for k in extra} | {"$skiptoken", "$deltatoken"}
    parts = [f"{k}={_q(v)}" for k, v in query.items() if k.lower() not in drop]
    parts += [f"{k}={_q(v)}" for k, v in extra.items()]
    return f"{base}{path}" + ("?" + "&".join(parts) if parts else "")


def _q(value: str) -> str:
    return quote(value, safe="$,()':/@*!-._~")
