"""The Graph REST surface behind the sandbox's front door: routing, entity reads and collections.

The server has already authenticated the caller, injected faults and checked permissions
(`permissions.required`); `GraphApi.handle` only turns a path and its query options into the
status and body Graph would send. Common headers (request-id, Date, …) are the server's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from . import odata, paging, schema
from .apps import with_keys
from .delta import DeltaEngine
from .directory import Directory
from .odata import QueryError
from .paging import ListSource, SortCache, Source
from .schema import EntitySpec
from .wire import GRAPH_SUCCESS_CONTENT_TYPE, Request, Response, graph_error

DELTA_SEGMENTS = {"delta", "delta()", "microsoft.graph.delta", "microsoft.graph.delta()"}
_KEY_SEGMENT = re.compile(r"^([A-Za-z]+)\((.*)\)$")
_KEY_ARG = re.compile(r"^(?:([A-Za-z]+)=)?'?([^']*)'?$")


@dataclass(frozen=True)
class Caller:
    app_id: str
    roles: frozenset[str]
    scopes: frozenset[str]
    user_id: str | None


@dataclass
class _Ctx:
    req: Request
    base: str  # "<scheme://host>/v1.0"
    path: str
    caller: Caller


class NotFound(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def not_found(key: str) -> NotFound:
    return NotFound(
        graph_error(
            404,
            "Request_ResourceNotFound",
            f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
        )
    )


def no_segment(segment: str) -> NotFound:
    return NotFound(graph_error(400, "BadRequest", f"Resource not found for the segment '{segment}'."))


def json_ok(body: dict) -> Response:
    return Response(200, body, {}, GRAPH_SUCCESS_CONTENT_TYPE)


class GraphApi:
    """Serves GET requests for the sandbox tenant's directory, apps and mailboxes."""

    def __init__(self, directory: Directory, app_objects: Callable[[], tuple[list[dict], list[dict]]]) -> None:
        self.directory = directory
        self.app_objects = app_objects
        self.sort_cache = SortCache()
        self.delta = DeltaEngine(directory)

    def handle(self, req: Request, version: str, path: str, caller: Caller) -> Response:
        ctx = _Ctx(req, f"{req.base_url}/{version}", path, caller)
        try:
            if req.method.upper() not in ("GET", "HEAD"):
                return graph_error(
                    405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
                )
            return self._route(ctx, [s for s in path.strip("/").split("/") if s])
        except QueryError as exc:
            return graph_error(exc.status, exc.code, exc.message)
        except NotFound as exc:
            return exc.response

    # -- routing ---------------------------------------------------------------------------------

    def _route(self, ctx: _Ctx, segs: list[str]) -> Response:
        if not segs:
            return self._service_document(ctx)
        head, key_arg = segs[0], None
        m = _KEY_SEGMENT.match(head)
        if m:
            head, key_arg = m.group(1), m.group(2)
        name = head.lower()
        if name == "me":
            return self._me(ctx, segs[1:])
        spec = next((s for s in schema.BY_NAME.values() if s.name.lower() == name), None)
        if spec is None:
            raise no_segment(head)
        rest = segs[1:]
        if key_arg is not None:
            return self._keyed(ctx, spec, _parse_key(key_arg), rest)
        if not rest:
            return self._collection(ctx, spec, self._source(spec, ctx.caller), spec.name, self._cache_key(spec))
        if rest[0].lower() == "$count" and len(rest) == 1:
            return self._count(ctx, spec, self._source(spec, ctx.caller))
        if rest[0].lower() in DELTA_SEGMENTS and len(rest) == 1:
            if spec.name not in ("users", "groups"):
                raise no_segment(rest[0])
            return self.delta.serve(ctx.req, ctx.base, spec, spec.name)
        return self._keyed(ctx, spec, (None, rest[0]), rest[1:])

    def _keyed(self, ctx: _Ctx, spec: EntitySpec, key: tuple[str | None, str], rest: list[str]) -> Response:
        item = self._find(spec, key, ctx.caller)
        if item is None:
            raise not_found(key[1])
        if not rest:
            return self._entity(ctx, spec, item, spec.name)
        nav = rest[0].lower()
        if spec.name == "users" and nav == "messages":
            return self._messages(ctx, item, rest[1:])
        if spec.name == "groups" and nav == "members":
            return self._members(ctx, item, rest[1:])
        if spec.name == "servicePrincipals" and nav == "approleassignments" and len(rest) == 1:
            assignments = [a for a in item.get("_appRoleAssignments") or [] if isinstance(a, dict)]
            return self._collection(
                ctx,
                schema.APP_ROLE_ASSIGNMENTS,
                ListSource(assignments),
                f"servicePrincipals('{item['id']}')/appRoleAssignments",
            )
        raise no_segment(rest[0])

    def _me(self, ctx: _Ctx, rest: list[str]) -> Response:
        if ctx.caller.user_id is None:
            return graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        user = self.directory.get_user(ctx.caller.user_id)
        if user is None:
            raise not_found(ctx.caller.user_id)
        if not rest:
            return self._entity(ctx, schema.USERS, user, "users")
        if rest[0].lower() == "messages":
            return self._messages(ctx, user, rest[1:])
        raise no_segment(rest[0])

    # -- sources ---------------------------------------------------------------------------------

    def _source(self, spec: EntitySpec, caller: Caller | None = None) -> Source:
        if spec.name in ("users", "groups", "devices"):
            return self.directory.view(spec.name)
        apps, sps = self.app_objects()
        if caller is not None and _owned_only(caller):
            # Application.ReadWrite.OwnedBy alone reaches only the apps the caller owns
            # (https://learn.microsoft.com/graph/permissions-reference#applicationreadwriteownedby).
            # GUESS: another app then answers 404 as if absent (Entra's exact answer is not documented).
            apps = [a for a in apps if caller.app_id in a.get("_owners", ())]
        fixed: dict[str, Callable[[], list[dict]]] = {
            "applications": lambda: apps,
            "servicePrincipals": lambda: sps,
            "directoryRoles": self.directory.directory_roles,
            "organization": self.directory.organization,
            "domains": self.directory.domains,
            "subscribedSkus": self.directory.subscribed_skus,
        }
        return ListSource(fixed[spec.name]())

    def _cache_key(self, spec: EntitySpec) -> tuple | None:
        if spec.name not in ("users", "groups", "devices"):
            return None
        return (spec.name, self.directory.epoch, self.directory.seq)

    def _find(self, spec: EntitySpec, key: tuple[str | None, str], caller: Caller | None = None) -> dict | None:
        field, value = key
        if spec.name in ("users", "groups", "devices") and field is None:
            return self.directory.get(spec.name, value)
        source = self._source(spec, caller)
        wanted = value.lower()
        if field is None:
            field = "id"
        for _, item in source.iter_from(0):
            if str(item.get(field, "")).lower() == wanted:
                return item
        return None

    # -- responses -------------------------------------------------------------------------------

    def _context(self, ctx: _Ctx, name: str, select: tuple[str, ...] | None, entity: bool = False) -> str:
        sel = f"({','.join(select)})" if select else ""
        return f"{ctx.base}/$metadata#{name}{sel}" + ("/$entity" if entity else "")

    def _entity(self, ctx: _Ctx, spec: EntitySpec, item: dict, name: str, extra: dict | None = None) -> Response:
        opts = odata.split_options(ctx.req.query)
        if "$expand" in opts:
            raise odata.unsupported(f"Expanding '{opts['$expand']}' is not supported by this sandbox.")
        select = odata.parse_select(opts["$select"], spec) if "$select" in opts else None
        shown = odata.project(item, select, spec)
        if select and "keyCredentials" in select:  # the only read that returns the certificates themselves
            shown = with_keys(item, shown)
        body = {
            "@odata.context": self._context(ctx, name, select, entity=True),
            **(extra or {}),
            **shown,
        }
        return json_ok(body)

    def _collection(
        self,
        ctx: _Ctx,
        spec: EntitySpec,
        source: Source,
        name: str,
        cache_key: tuple | None = None,
        decorate: Callable[[dict, dict], dict] | None = None,
    ) -> Response:
        q = odata.parse_query(ctx.req.query, ctx.req.headers, spec)
        size = paging.page_size(ctx.req, q, spec)
        if cache_key is not None:
            cache_key += (ctx.req.query.get("$filter"), ctx.req.query.get("$search"), q.orderby)
        page = paging.fetch(source, q, size, self.sort_cache, cache_key)
        body: dict = {"@odata.context": self._context(ctx, name, q.select)}
        if page.count is not None:
            body["@odata.count"] = page.count
        if page.next_token is not None:
            body["@odata.nextLink"] = paging.link(
                ctx.base, "/" + ctx.path.strip("/"), ctx.req.query, {"$skiptoken": page.next_token}
            )
        values = []
        for item in page.items:
            shown = odata.project(item, q.select, spec)
            values.append(decorate(item, shown) if decorate else shown)
        body["value"] = values
        return json_ok(body)

    def _count(self, ctx: _Ctx, spec: EntitySpec, source: Source) -> Response:
        eventual = ctx.req.header("consistencylevel").strip().lower() == "eventual"
        if spec.directory and not eventual:
            return graph_error(400, "Request_BadRequest", "$count is not currently supported.")
        query = {**ctx.req.query, "$count": "true"}
        q = odata.parse_query(query, ctx.req.headers, spec)
        return Response(200, str(paging.count_matching(source, q)), {}, "text/plain")

    def _members(self, ctx: _Ctx, group: dict, rest: list[str]) -> Response:
        members = self.directory.group_members(group["id"]) or []
        source = ListSource(members)
        if rest and rest[0].lower() == "$count" and len(rest) == 1:
            return self._count(ctx, schema.MEMBERS, source)
        if rest:
            raise no_segment(rest[0])
        return self._collection(
            ctx,
            schema.MEMBERS,
            source,
            "directoryObjects",
            decorate=lambda _item, shown: {"@odata.type": "#microsoft.graph.user", **shown},
        )

    def _messages(self, ctx: _Ctx, user: dict, rest: list[str]) -> Response:
        messages = self.directory.messages(user["id"]) or []
        name = f"users('{user['id']}')/messages"

        def etag(item: dict, shown: dict) -> dict:
            return {"@odata.etag": f'W/"{item.get("changeKey", "")}"', **shown}

        if not rest:
            return self._collection(ctx, schema.MESSAGES, ListSource(messages), name, decorate=etag)
        if len(rest) == 1:
            found = next((m for m in messages if m["id"] == rest[0]), None)
            if found is None:
                return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return self._entity(ctx, schema.MESSAGES, found, name, extra={"@odata.etag": f'W/"{found["changeKey"]}"'})
        raise no_segment(rest[1])

    def _service_document(self, ctx: _Ctx) -> Response:
        value = [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in schema.BY_NAME.values()]
        value.append({"name": "me", "kind": "Singleton", "url": "me"})
        return json_ok({"@odata.context": f"{ctx.base}/$metadata", "value": value})


_READ_ANY_APP = frozenset(
    {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)


def _owned_only(caller: Caller) -> bool:
    """An app token whose only way to read applications is Application.ReadWrite.OwnedBy."""
    return "Application.ReadWrite.OwnedBy" in caller.roles and not (caller.roles & _READ_ANY_APP)


def _parse_key(arg: str) -> tuple[str | None, str]:
    """`'abc'` → (None, 'abc'); `appId='abc'` → ('appId', 'abc')."""
    m = _KEY_ARG.match(arg.strip())
    if m is None:
        raise no_segment(arg)
    return m.group(1), m.group(2)
