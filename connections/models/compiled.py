"""Queries a page runs on every view, compiled to SQL once per process.

Django builds and compiles a queryset into SQL on every evaluation. For the joined, column-picked
queries of a connection's page that costs several times what the database takes to answer them
(the connection's one query: ~8 M instructions to compile, ~1.5 M to run). A ``CompiledQuery``
builds its queryset once with stand-in argument values, compiles it, finds where those values sit
among the SQL parameters, and from then on runs the same SQL with each call's values; the rows
become model instances exactly as the queryset's own iterable makes them (``select_related``,
``only``/``defer``, annotations, a custom iterable class).

Only a query whose SQL depends on nothing but its arguments can be compiled once: one that reads the
clock, a setting or the request would keep the first call's values. The first compile therefore
builds it twice, with two sets of stand-ins, and refuses it when anything else differs.
"""

from __future__ import annotations

import copy
import secrets
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)

# Compiled shapes kept per query (one per length of a list argument): a list of ids as long as a
# team's connections makes a few dozen; past this, the ordinary query.
MAX_SHAPES = 64

# What an argument is: one of these types, or a one-item list of one for an ``__in`` list.
Kind = type | list


class NotCompilable(Exception):
    """The queryset's SQL depends on more than the arguments it was built from."""


def _stand_in(kind: type) -> Any:
    if kind is uuid.UUID:
        return uuid.uuid4()
    if kind is int:
        # In range of a 32-bit column (Django finds nothing for a value out of a column's range on
        # PostgreSQL, without asking it), and unlikely to equal a constant of the query: if it did,
        # the second compile would tell.
        return 2**30 + secrets.randbelow(2**30)
    if kind is str:
        return f"stand-in-{secrets.token_hex(16)}"
    raise TypeError(f"A compiled query takes UUID, int and str arguments, not {kind.__name__}.")


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# How a value reaches the SQL parameters (a UUID is a UUID on PostgreSQL, its hex on SQLite).
_FORMS: dict[type, tuple[Callable[[Any], Any], ...]] = {
    uuid.UUID: (_as_uuid, lambda value: _as_uuid(value).hex, lambda value: str(_as_uuid(value))),
    int: (int,),
    str: (str,),
}


@dataclass(frozen=True)
class _Slot:
    """Parameter ``position`` carries argument ``argument`` (its ``item``-th value when a list) in ``form``."""

    position: int
    argument: int
    item: int | None
    form: Callable[[Any], Any]


@dataclass
class _Compiled:
    queryset: models.QuerySet[Any]
    compiler: Any  # the SQLCompiler that compiled it: select, klass_info, annotation_col_map
    sql: str
    params: list[Any]
    slots: tuple[_Slot, ...]
    empty: bool  # no rows whatever the values (an empty ``__in`` list)
    # The value converters of each column (they depend on the columns and the database connection),
    # worked out once per connection: by id, with the connection kept to tell a reused id apart.
    converters: dict[int, tuple[Any, Any]] = field(default_factory=dict)

    def params_for(self, args: Sequence[Any]) -> list[Any]:
        params = list(self.params)
        for slot in self.slots:
            value = args[slot.argument] if slot.item is None else args[slot.argument][slot.item]
            params[slot.position] = slot.form(value)
        return params


class _Bound:
    """The compiled query with one call's parameters, as the queryset's iterable sees its query: every
    attribute is the compiled query's, and its compiler runs the ready SQL."""

    def __init__(self, compiled: _Compiled, params: list[Any]) -> None:
        self._compiled = compiled
        self._params = params

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compiled.queryset.query, name)

    def get_compiler(self, using: str | None = None, connection: Any = None, elide_empty: bool = True) -> Any:
        compiled = self._compiled
        compiler = copy.copy(compiled.compiler)
        compiler.connection = connection = connection or connections[using or "default"]  # this thread's
        sql, params = compiled.sql, self._params
        compiler.as_sql = lambda with_limits=True, with_col_aliases=False: (sql, params)
        known = compiled.converters.get(id(connection))
        if known is None or known[0] is not connection:
            columns = [column[0] for column in compiler.select[0 : compiler.col_count]]
            known = compiled.converters[id(connection)] = (connection, compiler.get_converters(columns))
        converters = known[1]
        compiler.get_converters = lambda expressions: converters
        return compiler


class CompiledQuery(Generic[M]):
    """``build(*args)`` → a queryset, compiled once per database and per length of each list argument.

    ``kinds`` says what each argument is: ``uuid.UUID``, ``int`` or ``str``, or ``[int]`` (etc.) for a
    list that goes into an ``__in`` lookup. ``fetch(*args)`` returns the rows as the queryset would.
    """

    def __init__(self, build: Callable[..., models.QuerySet[M]], *kinds: Kind) -> None:
        self.build = build
        self.kinds = kinds
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}
        self._lock = threading.Lock()
        self._model_cls: type[models.Model] | None = None  # known once ``build`` has been called

    def fetch(self, *args: Any, related: dict[str, models.Model] | None = None) -> list[M]:
        """The rows for ``args``. ``related``: objects the rows point to and the caller holds (as a
        related manager knows its instance), set on each row instead of read again."""
        if len(args) != len(self.kinds):
            raise TypeError(f"This query takes {len(self.kinds)} arguments, not {len(args)}.")
        compiled = self._for(args)
        if compiled is None:  # a shape too many: the ordinary query
            ready = self.build(*args)
        elif compiled.empty:
            return []
        else:
            bound: Any = _Bound(compiled, compiled.params_for(args))  # stands in for the Query
            ready = models.QuerySet(model=compiled.queryset.model, query=bound, using=compiled.queryset.db)
            ready._iterable_class = compiled.queryset._iterable_class
            ready._fields = compiled.queryset._fields  # type: ignore[attr-defined]  # values_list names
        if related:  # as a related manager sets them
            ready._known_related_objects = {  # type: ignore[attr-defined]
                ready.model._meta.get_field(name): {obj.pk: obj} for name, obj in related.items()
            }
        return list(ready)

    def first(self, *args: Any, related: dict[str, models.Model] | None = None) -> M | None:
        rows = self.fetch(*args, related=related)
        return rows[0] if rows else None

    def _for(self, args: Sequence[Any]) -> _Compiled | None:
        lengths = tuple(
            len(arg) if isinstance(kind, list) else None for arg, kind in zip(args, self.kinds, strict=True)
        )
        alias = router.db_for_read(self._model())
        key = (alias, connections[alias].vendor, lengths)
        compiled = self._compiled.get(key)
        if compiled is None:
            if len(self._compiled) >= MAX_SHAPES:
                return None
            with self._lock:
                compiled = self._compiled.get(key) or self._compile(alias, lengths)
                self._compiled[key] = compiled
        return compiled

    def _model(self) -> type[models.Model]:
        if self._model_cls is None:
            self._model_cls = self.build(*self._stand_ins((None,) * len(self.kinds))).model
        return self._model_cls

    def _stand_ins(self, lengths: Sequence[int | None]) -> list[Any]:
        return [
            [_stand_in(kind[0]) for _ in range(length or 0)] if isinstance(kind, list) else _stand_in(kind)
            for kind, length in zip(self.kinds, lengths, strict=True)
        ]

    def _compile(self, alias: str, lengths: Sequence[int | None]) -> _Compiled:
        first, second = self._stand_ins(lengths), self._stand_ins(lengths)
        compiled = self._compile_with(alias, first)
        again = self._compile_with(alias, second)
        if compiled.empty or again.empty:
            # Only an empty list makes a query empty whatever its values; anything else was the stand-ins'.
            if not (compiled.empty and again.empty and 0 in lengths):
                raise NotCompilable("The query finds nothing for its stand-in values: it cannot be compiled once.")
            return compiled
        if again.sql != compiled.sql or again.params_for(first) != compiled.params:
            raise NotCompilable(
                "The query's SQL depends on more than its arguments (the clock, a setting?): build it per call."
            )
        return compiled

    def _compile_with(self, alias: str, stand_ins: list[Any]) -> _Compiled:
        queryset = self.build(*stand_ins).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            return _Compiled(queryset, compiler, "", [], (), empty=True)
        params = list(params)
        slots = []
        for index, kind in enumerate(self.kinds):
            values = stand_ins[index] if isinstance(kind, list) else [stand_ins[index]]
            for item, value in enumerate(values):
                found = [
                    _Slot(position, index, item if isinstance(kind, list) else None, form)
                    for form in _FORMS[kind[0] if isinstance(kind, list) else kind]
                    for position, param in enumerate(params)
                    if type(param) is type(form(value)) and param == form(value)
                ]
                if not found:
                    raise NotCompilable(f"Argument {index + 1} does not reach the query's parameters.")
                slots.extend(found)
        return _Compiled(queryset, compiler, sql, params, tuple(slots), empty=False)
