"""Graph's OData query options: parsing, validation with Graph's own error texts, and filtering.

`parse_query` turns a request's query string into a `Query` (or raises `QueryError`, which the
Graph API turns into Graph's error body). `$filter` compiles to a plain Python predicate so a
scan over a large generated directory stays cheap.
"""

from __future__ import annotations

import base64
import json
import operator
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from .schema import EntitySpec

Predicate = Callable[[dict], bool]

KNOWN_OPTIONS = (
    "$select",
    "$filter",
    "$top",
    "$skip",
    "$skiptoken",
    "$count",
    "$orderby",
    "$search",
    "$expand",
    "$format",
    "$deltatoken",
)
ADVANCED_HINT = (
    "Try adding $count=true query parameter and ConsistencyLevel:eventual header. "
    "Refer to https://aka.ms/graph-docs/advanced-queries for more information"
)


class QueryError(Exception):
    """A request Graph would refuse; carries the HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad_request(message: str) -> QueryError:
    return QueryError(400, "Request_BadRequest", message)


def unsupported(message: str) -> QueryError:
    return QueryError(400, "Request_UnsupportedQuery", message)


def unknown_property(prop: str, spec: EntitySpec) -> QueryError:
    return bad_request(f"Could not find a property named '{prop}' on type '{spec.type_name}'.")


def unsupported_clause(prop: str, spec: EntitySpec) -> QueryError:
    return unsupported(
        f"Unsupported or invalid query filter clause specified for property '{prop}' of resource '{spec.resource}'."
    )


@dataclass
class Query:
    top: int | None = None
    skip: int = 0
    select: tuple[str, ...] | None = None
    predicate: Predicate | None = None
    orderby: tuple[str, bool] | None = None  # (property, descending)
    count: bool = False  # include @odata.count
    eventual: bool = False  # ConsistencyLevel: eventual was sent
    skiptoken: str | None = None
    deltatoken: str | None = None
    filter_ids: frozenset[str] | None = None  # delta: `id eq '…' or id eq '…'`
    # folded [lo, hi] per property when $filter is a plain conjunction (an index may narrow the scan)
    bounds: dict[str, tuple[str | None, str | None]] | None = None
    # the property when $filter is nothing but `ge`/`le`/`eq` string comparisons of that one property,
    # so ``bounds`` is the whole filter (an index may then count without reading items)
    range_only: str | None = None


def split_options(query: dict[str, str]) -> dict[str, str]:
    """The `$` options with lower-cased names; anything else is refused as Graph does."""
    out: dict[str, str] = {}
    for key, value in query.items():
        low = key.lower()
        if not low.startswith("$") or low not in KNOWN_OPTIONS:
            raise bad_request(f"Unrecognized query argument specified: '{key}'.")
        out[low] = value
    return out


def parse_query(query: dict[str, str], headers: dict[str, str], spec: EntitySpec, *, delta: bool = False) -> Query:
    """Validate every option for a collection of `spec`; raises QueryError like Graph."""
    opts = split_options(query)
    eventual = headers.get("consistencylevel", "").strip().lower() == "eventual"
    count_param = opts.get("$count", "").strip().lower()
    if count_param not in ("", "true", "false"):
        raise bad_request(f"Invalid value '{opts['$count']}' for $count query option found.")
    q = Query(eventual=eventual, skiptoken=opts.get("$skiptoken"), deltatoken=opts.get("$deltatoken"))
    # Advanced queries need the header *and* $count=true on directory objects.
    advanced = eventual and count_param == "true" if spec.directory else True

    if delta:
        for option in ("$top", "$orderby", "$expand", "$skip", "$search"):
            if option in opts:
                # [UNCONFIRMED text] Graph documents these as unsupported on users/groups delta.
                raise unsupported(f"The query option '{option}' is not supported for delta queries.")
    if "$expand" in opts:
        raise unsupported(f"Expanding '{opts['$expand']}' is not supported by this sandbox.")

    if "$top" in opts:
        raw = opts["$top"].strip()
        top = int(raw) if re.fullmatch(r"-?\d+", raw) else None
        if top is None or not 1 <= top <= spec.max_top:
            raise unsupported(f"Invalid page size specified: '{raw}'. Must be between 1 and {spec.max_top} inclusive.")
        q.top = top
    if "$skip" in opts:
        if not spec.skip_supported:
            # [UNCONFIRMED text] $skip is documented as unsupported on directory collections.
            raise bad_request("'$skip' is not supported by the service.")
        raw = opts["$skip"].strip()
        if not raw.isdigit():
            raise bad_request(f"Invalid value '{raw}' for $skip query option found.")
        q.skip = int(raw)
    if "$select" in opts:
        q.select = parse_select(opts["$select"], spec)
    if "$filter" in opts:
        if delta:
            q.filter_ids = parse_delta_filter(opts["$filter"], spec)
        else:
            parser = _Parser(opts["$filter"], spec, advanced)
            q.predicate = parser.parse()
            q.bounds = parser.bounds()
            q.range_only = parser.range_only()
    if "$search" in opts:
        if spec.directory and not eventual:
            raise unsupported(
                "Request with $search query parameter only works through MSGraph with "
                "a special request header: 'ConsistencyLevel: eventual'"
            )
        search = compile_search(opts["$search"], spec)
        q.predicate = search if q.predicate is None else _and(q.predicate, search)
        q.range_only = None  # the search narrows it further
    if "$orderby" in opts:
        q.orderby = parse_orderby(opts["$orderby"], spec)
        if spec.directory and "$filter" in opts and not advanced:
            # [UNCONFIRMED text] $orderby with $filter is an advanced query (https://learn.microsoft.com/graph/aad-advanced-queries).
            raise unsupported("Sorting not supported for current query. " + ADVANCED_HINT)
    q.count = count_param == "true" and (eventual or not spec.directory)
    return q


def parse_select(raw: str, spec: EntitySpec) -> tuple[str, ...]:
    out: list[str] = []
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        canonical = spec.canonical(name)
        if canonical is None:
            raise unknown_property(name, spec)
        if canonical not in out:
            out.append(canonical)
    return tuple(out)


def parse_orderby(raw: str, spec: EntitySpec) -> tuple[str, bool]:
    parts = raw.strip().split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise bad_request(f"Syntax error at position 0 in '{raw}'.")
    prop = spec.canonical(parts[0].split(",")[0])
    if prop is None:
        raise unknown_property(parts[0], spec)
    if prop not in spec.sortable:
        raise unsupported(f"Unsupported sort property '{prop}' for '{spec.resource}'.")
    return prop, len(parts) == 2 and parts[1].lower() == "desc"


def project(item: dict, select: tuple[str, ...] | None, spec: EntitySpec) -> dict:
    """The properties a response shows: $select, else the default set, else the item's own
    public keys. Absent values are null, never omitted; private `_` keys never leave."""
    keys = select or spec.default_select
    if keys is None:
        return {k: v for k, v in item.items() if not k.startswith("_")}
    return {k: item.get(k) for k in keys}


# -- skip tokens ----------------------------------------------------------------------------------

_SKIP_MAGIC = b"DSpt\x02\x00"  # base64 "RFNwdAIA": directory skip tokens start with RFNwdA


def encode_token(payload: dict, magic: bytes = _SKIP_MAGIC) -> str:
    raw = magic + json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, magic: bytes = _SKIP_MAGIC) -> dict | None:
    """The payload, or None for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if not raw.startswith(magic):
            return None
        payload = json.loads(raw[len(magic) :])
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


# -- $filter --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^']|'')*')
  | (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<punct>[(),:/])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.@]*)
""",
    re.VERBOSE,
)
_COMPARE = ("eq", "ne", "gt", "ge", "lt", "le")
_FUNCS = ("startswith", "endswith", "contains")


@dataclass
class _Tok:
    kind: str
    text: str
    value: Any = None


def _tokenize(text: str) -> list[_Tok]:
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise bad_request(f"Syntax error: character '{text[pos]}' is not valid at position {pos} in '{text}'.")
        pos = m.end()
        kind = m.lastgroup or ""
        tok = m.group()
        if kind == "ws":
            continue
        if kind == "str":
            out.append(_Tok("lit", tok, tok[1:-1].replace("''", "'")))
        elif kind == "dt":
            out.append(_Tok("lit", tok, _parse_dt(tok)))
        elif kind == "guid":
            out.append(_Tok("lit", tok, tok.lower()))
        elif kind == "num":
            out.append(_Tok("lit", tok, float(tok) if "." in tok else int(tok)))
        elif kind == "ident" and tok.lower() in ("true", "false", "null"):
            out.append(_Tok("lit", tok, {"true": True, "false": False, "null": None}[tok.lower()]))
        else:
            out.append(_Tok(kind, tok))
    return out


def _parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Parser:
    """Recursive descent over Graph's $filter subset; builds predicates as it goes."""

    def __init__(self, text: str, spec: EntitySpec, advanced: bool) -> None:
        self.text, self.spec, self.advanced = text, spec, advanced
        self.toks = _tokenize(text)
        self.i = 0
        self.lambda_var: str | None = None
        self.limits: list[tuple[str, str, Any]] = []  # (property, operator, literal) as parsed
        self.clauses = 0  # every comparison and function, however nested
        self.plain: list[str] = []  # properties of the top-level `ge`/`le`/`eq` comparisons with a string

    # token helpers
    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def word(self, offset: int = 0) -> str:
        tok = self.peek(offset)
        return tok.text.lower() if tok is not None and tok.kind == "ident" else ""

    def take(self, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or (text is not None and tok.text.lower() != text):
            raise self.syntax_error()
        self.i += 1
        return tok

    def syntax_error(self) -> QueryError:
        tok = self.peek()
        where = tok.text if tok else "end of input"
        return bad_request(f"Invalid filter clause: syntax error near '{where}' in '{self.text}'.")

    def bounds(self) -> dict[str, tuple[str | None, str | None]] | None:
        """Folded [lo, hi] per string property, when the filter is only and-ed comparisons."""
        if any(t.kind == "ident" and t.text.lower() in ("or", "not", "any", "all") for t in self.toks):
            return None
        out: dict[str, tuple[str | None, str | None]] = {}
        for prop, op, literal in self.limits:
            if not isinstance(literal, str):
                continue
            lo, hi = out.get(prop, (None, None))
            value = fold(literal)
            if op in ("eq", "ge", "startswith"):
                lo = value if lo is None else max(lo, value)
            if op in ("eq", "le", "startswith"):
                top = value + ranges_top() if op == "startswith" else value
                hi = top if hi is None else min(hi, top)
            out[prop] = (lo, hi)
        return out or None

    def range_only(self) -> str | None:
        """The property, when the filter is only `and`-ed `ge`/`le`/`eq` comparisons of one property
        with strings: then an item matches exactly when its folded value is within ``bounds()``."""
        if any(t.kind == "ident" and t.text.lower() in ("or", "not", "any", "all") for t in self.toks):
            return None
        props = set(self.plain)
        return props.pop() if len(props) == 1 and len(self.plain) == self.clauses else None

    def check_operator(self, prop: str, op: str) -> None:
        """Refuse an operator the property's resource page does not list (as Graph does, with a 400)."""
        if prop == self.lambda_var or prop not in self.spec.properties:
            return
        if not self.spec.allows(prop, op):
            raise unsupported_clause(prop, self.spec)

    def advanced_operator(self, name: str) -> None:
        if self.spec.directory and not self.advanced:
            raise unsupported(
                f"Operator '{name}' is not supported because the required parameters might be missing. {ADVANCED_HINT}"
            )

    # grammar
    def parse(self) -> Predicate:
        pred = self.or_expr()
        if self.peek() is not None:
            raise self.syntax_error()
        return pred

    def or_expr(self) -> Predicate:
        pred = self.and_expr()
        while self.word() == "or":
            self.i += 1
            pred = _or(pred, self.and_expr())
        return pred

    def and_expr(self) -> Predicate:
        pred = self.unary()
        while self.word() == "and":
            self.i += 1
            pred = _and(pred, self.unary())
        return pred

    def unary(self) -> Predicate:
        if self.word() == "not":
            self.i += 1
            self.advanced_operator("not")
            inner = self.unary()
            return lambda item: not inner(item)
        tok = self.peek()
        if tok is not None and tok.text == "(":
            self.i += 1
            pred = self.or_expr()
            self.take(")")
            return pred
        if self.word() in _FUNCS and (nxt := self.peek(1)) is not None and nxt.text == "(":
            return self.function()
        return self.comparison()

    def function(self) -> Predicate:
        self.clauses += 1
        name = self.take().text.lower()
        self.take("(")
        getter, prop, _ = self.path()
        self.take(",")
        literal = self.literal()
        self.take(")")
        self.check_operator(prop, name)
        if name == "startswith" and self.lambda_var is None:
            self.limits.append((prop, name, literal))
        if name == "endswith":
            self.advanced_operator("endsWith")
        if name == "contains" and self.spec.directory:
            raise unsupported_clause(prop, self.spec)
        if not isinstance(literal, str):
            raise unsupported_clause(prop, self.spec)
        needle = literal.lower()
        test = {"startswith": str.startswith, "endswith": str.endswith, "contains": str.__contains__}[name]

        def pred(item: dict) -> bool:
            value = getter(item)
            if isinstance(value, list):
                return any(isinstance(v, str) and test(v.lower(), needle) for v in value)
            return isinstance(value, str) and test(value.lower(), needle)

        return pred

    def comparison(self) -> Predicate:
        start = self.i
        getter, prop, is_lambda = self.path()
        if is_lambda:
            return getter
        self.clauses += 1
        plain = self.i == start + 1  # the property itself, no path below it
        op = self.word()
        if op in _COMPARE or op == "in":
            self.check_operator(prop, op)
        if op == "in":
            self.i += 1
            self.take("(")
            values = [self.literal()]
            while (tok := self.peek()) is not None and tok.text == ",":
                self.i += 1
                values.append(self.literal())
            self.take(")")
            wanted = {_fold(v) for v in values}

            def member(item: dict) -> bool:
                value = getter(item)
                if isinstance(value, list):
                    return any(_fold(v) in wanted for v in value)
                return _fold(value) in wanted

            return member
        if op not in _COMPARE:
            raise self.syntax_error()
        self.i += 1
        if op == "ne":
            self.advanced_operator("ne")
        literal = self.literal()
        if self.lambda_var is None:
            self.limits.append((prop, op, literal))
            if plain and op in ("ge", "le", "eq") and isinstance(literal, str):
                self.plain.append(prop)
        return _compare(getter, op, literal)

    def path(self) -> tuple[Callable[[dict], Any], str, bool]:
        """(getter, property, is_lambda): `prop/any(x: …)` yields the lambda's predicate."""
        first = self.take()
        if first.kind != "ident":
            raise self.syntax_error()
        steps = [first.text]
        while (tok := self.peek()) is not None and tok.text == "/":
            self.i += 1
            nxt = self.take()
            if nxt.text.lower() in ("any", "all") and (p := self.peek()) is not None and p.text == "(":
                return self.lambda_expr(steps, nxt.text.lower())
            steps.append(nxt.text)
        if self.lambda_var is not None and steps[0] == self.lambda_var:
            rest = steps[1:]
            return (lambda item: _walk(item, rest)), self.lambda_var, False
        prop = self.resolve(steps[0])
        rest = steps[1:]
        return (lambda item: _walk(item.get(prop), rest)), prop, False

    def resolve(self, name: str) -> str:
        prop = self.spec.canonical(name)
        if prop is None:
            raise unknown_property(name, self.spec)
        if self.spec.directory and not self.spec.filterable(prop, self.advanced):
            raise unsupported_clause(prop, self.spec)
        if not self.spec.directory and prop not in self.spec.basic_filter:
            raise unsupported_clause(prop, self.spec)
        return prop

    def lambda_expr(self, steps: list[str], kind: str) -> tuple[Callable[[dict], Any], str, bool]:
        prop = self.resolve(steps[0])
        rest = steps[1:]
        self.take("(")
        var = self.take().text
        self.take(":")
        outer, self.lambda_var = self.lambda_var, var
        inner = self.or_expr()
        self.lambda_var = outer
        self.take(")")
        combine = any if kind == "any" else all

        def holds(item: dict) -> bool:
            values = _walk(item.get(prop), rest)
            return combine(inner(v) for v in values) if isinstance(values, list) else False

        return holds, prop, True

    def literal(self) -> Any:
        tok = self.take()
        if tok.kind != "lit":
            raise self.syntax_error()
        return tok.value


def _walk(value: Any, steps: list[str]) -> Any:
    for step in steps:
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list):
            value = [v.get(step) if isinstance(v, dict) else None for v in value]
        else:
            return None
    return value


def fold(value: str) -> str:
    """How ``$filter`` and ``$orderby`` compare strings: case-insensitively, then by code point.
    Graph does not document its collation; this is the sandbox's stated assumption."""
    return value.lower()


def _fold(value: Any) -> Any:
    return fold(value) if isinstance(value, str) else value


def _and(a: Predicate, b: Predicate) -> Predicate:
    return lambda item: a(item) and b(item)


def _or(a: Predicate, b: Predicate) -> Predicate:
    return lambda item: a(item) or b(item)


def _compare(getter: Callable[[dict], Any], op: str, literal: Any) -> Predicate:
    if isinstance(literal, datetime):

        def value_of(item: dict) -> Any:
            raw = getter(item)
            try:
                return _parse_dt(raw) if isinstance(raw, str) else None
            except ValueError:
                return None
    else:
        literal = _fold(literal)

        def value_of(item: dict) -> Any:
            return _fold(getter(item))

    if op == "eq":
        return lambda item: value_of(item) == literal
    if op == "ne":
        return lambda item: value_of(item) != literal
    fn = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}[op]

    def ordered(item: dict) -> bool:
        value = value_of(item)
        if value is None or literal is None:
            return False
        try:
            return bool(fn(value, literal))
        except TypeError:
            return False

    return ordered


def ranges_top() -> str:
    """Above every character (``startswith(p, 'ab')`` is ``'ab' <= p <= 'ab' + ranges_top()``)."""
    return "\U0010ffff"


def compile_filter(text: str, spec: EntitySpec, advanced: bool) -> Predicate:
    """A predicate for `$filter`, or QueryError with Graph's text."""
    parser = _Parser(text, spec, advanced)
    return parser.parse()


def parse_delta_filter(text: str, spec: EntitySpec) -> frozenset[str]:
    """Delta supports only `id eq '…' (or id eq '…')*` (https://learn.microsoft.com/graph/delta-query-users)."""
    ids = re.findall(r"(?i)\bid\s+eq\s+'([^']*)'", text)
    rest = re.sub(r"(?i)\bid\s+eq\s+'[^']*'|\bor\b|\s+", "", text)
    if not ids or rest:
        found = re.match(r"\s*\(?\s*([A-Za-z_][\w]*)", text) or re.match(r"(.*)", text)
        assert found is not None  # (.*) matches any text
        prop = found.group(1)
        raise unsupported_clause(spec.canonical(prop) or prop, spec)
    return frozenset(i.lower() for i in ids)


def compile_search(text: str, spec: EntitySpec) -> Predicate:
    """`$search="displayName:wa" OR "mail:wa"`: word-prefix match on the named properties."""
    terms = re.findall(r'"([^"]*)"', text)
    joins = [j.upper() for j in re.findall(r'"\s+(AND|OR)\s+"', text, re.IGNORECASE)]
    if not terms:
        raise bad_request(f"Syntax error: character '{text[:1]}' is not valid at position 0 in '{text}'.")
    preds: list[Predicate] = []
    for term in terms:
        prop_name, sep, needle = term.partition(":")
        if not sep:
            prop_name, needle = "displayName", term
        prop = spec.canonical(prop_name.strip())
        if prop is None:
            raise unknown_property(prop_name, spec)
        pattern = re.compile(r"(?:^|[^0-9a-z])" + re.escape(needle.strip().lower()))

        def matches(item: dict, p: str = prop, rx: re.Pattern[str] = pattern) -> bool:
            return isinstance(item.get(p), str) and rx.search(item[p].lower()) is not None

        preds.append(matches)
    pred = preds[0]
    for join, nxt in zip(joins, preds[1:], strict=False):
        pred = _and(pred, nxt) if join == "AND" else _or(pred, nxt)
    return pred
