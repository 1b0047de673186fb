"""Delta queries on users and groups (docs/microsoft-wire-facts.md, "Collections, paging, count and delta").

The initial round pages through the whole collection by position and ends with a deltaLink whose
token holds the change-log sequence number read *before* the round began, so changes made while
a client pages are reported again in the next round (Graph too may repeat an entity). A later
round reports every object changed since the token's sequence: current state for added and
updated objects, `@removed` for deleted ones. With members selected on groups, the initial round
lists each group's members and a later round only the membership changes: added members, and
removed ones marked `@removed` (docs/microsoft-wire-facts.md, "Delta of group members").
"""

from __future__ import annotations

import time

from . import odata, paging
from .directory import Directory
from .odata import QueryError
from .schema import EntitySpec
from .wire import GRAPH_SUCCESS_CONTENT_TYPE, Request, Response

_DELTA_MAGIC = b"GCdl\x01"
_UNCHANGED: tuple[str, ...] = ("<membership unchanged>",)  # a group whose members a changes round leaves out


def sync_state_not_found() -> QueryError:
    # Graph answers an expired directory delta token with 400 BadRequest and this code and text
    # (Microsoft 365 Dev blog, "Duration of change tracking tokens for identity and education
    # resources", 2020-07-03). `resyncRequired` (410) is the Outlook/OneDrive variant. Unknown and
    # malformed tokens get the same answer: for the client the remedy is identical (full re-sync).
    return QueryError(
        400,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
    )


class DeltaEngine:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def serve(self, req: Request, base: str, spec: EntitySpec, kind: str) -> Response:
        query, members = _split_members(req.query) if kind == "groups" else (req.query, False)
        q = odata.parse_query(query, req.headers, spec, delta=True)
        size = paging.page_size(req, q, spec)
        link_base = f"{base}/{kind}/delta"
        if q.skiptoken:
            state = self._decode(q.skiptoken, kind)
            if state.get("m") == "init":
                return self._initial(base, spec, kind, state, size, link_base)
            return self._changes(base, spec, kind, state, size, link_base)
        if q.deltatoken:
            if q.deltatoken.lower() == "latest":
                state = self._fresh_state(kind, q.select, q.filter_ids, members)
                return self._respond(base, spec, q.select, [], link_base, delta_state=self._next_delta(state))
            state = self._decode(q.deltatoken, kind)
            self._check_age(state)
            state = {**state, "m": "chg", "to": self.directory.seq, "o": 0}
            return self._changes(base, spec, kind, state, size, link_base)
        state = self._fresh_state(kind, q.select, q.filter_ids, members)
        state.update(m="init", p=0)
        return self._initial(base, spec, kind, state, size, link_base)

    # -- rounds ----------------------------------------------------------------------------------

    def _initial(self, base: str, spec: EntitySpec, kind: str, state: dict, size: int, link_base: str) -> Response:
        select = _select(state)
        ids = state.get("ids")
        view = self.directory.view(kind)
        if ids:
            items = [it for it in (view.get(i) for i in ids) if it is not None]
            return self._respond(
                base,
                spec,
                select,
                [self._show(it, state, spec) for it in items],
                link_base,
                delta_state=self._next_delta(state),
            )
        items, next_pos = [], None
        for pos, item in view.iter_from(int(state["p"])):
            if len(items) == size:
                next_pos = pos
                break
            items.append(self._show(item, state, spec))
        if next_pos is None:
            return self._respond(base, spec, select, items, link_base, delta_state=self._next_delta(state))
        return self._respond(base, spec, select, items, link_base, skip_state={**state, "p": next_pos})

    def _changes(self, base: str, spec: EntitySpec, kind: str, state: dict, size: int, link_base: str) -> Response:
        select = _select(state)
        _, changes = self.directory.changes_since(kind, int(state["s"]))
        last_op: dict[str, str] = {}
        members_before: dict[str, tuple[str, ...]] = {}  # a group's members when the round's token was issued
        for change in changes:
            if change.seq > int(state["to"]):
                break
            last_op.pop(change.id, None)  # re-insert: order by latest change
            last_op[change.id] = change.op
            if change.id not in members_before:
                if change.op == "added":
                    members_before[change.id] = ()
                elif change.members_before is not None:
                    members_before[change.id] = change.members_before
        wanted = set(state.get("ids") or ())
        entries = [(i, op) for i, op in last_op.items() if not wanted or i in wanted]
        offset = int(state["o"])
        view = self.directory.view(kind)
        shown = []
        for object_id, op in entries[offset : offset + size]:
            item = None if op == "deleted" else view.get(object_id)
            shown.append(
                {"id": object_id, "@removed": {"reason": "deleted"}}
                if item is None
                else self._show(item, state, spec, changes_since=members_before.get(object_id, _UNCHANGED))
            )
        if offset + size < len(entries):
            return self._respond(base, spec, select, shown, link_base, skip_state={**state, "o": offset + size})
        done = {**state, "s": int(state["to"])}
        return self._respond(base, spec, select, shown, link_base, delta_state=self._next_delta(done))

    # -- tokens ----------------------------------------------------------------------------------

    def _fresh_state(
        self, kind: str, select: tuple[str, ...] | None, ids: frozenset[str] | None, members: bool
    ) -> dict:
        return {
            "e": self.directory.epoch,
            "k": kind,
            "s": self.directory.seq,
            "sel": list(select) if select else None,
            "ids": sorted(ids) if ids else None,
            "mem": members,
        }

    def _next_delta(self, state: dict) -> dict:
        """The deltaLink state: the round's starting sequence, stamped now."""
        return {
            "e": state["e"],
            "k": state["k"],
            "s": int(state["s"]),
            "sel": state.get("sel"),
            "ids": state.get("ids"),
            "mem": state.get("mem", False),
            "t": time.time(),
        }

    def _decode(self, token: str, kind: str) -> dict:
        state = odata.decode_token(token, _DELTA_MAGIC)
        if (
            state is None
            or state.get("e") != self.directory.epoch
            or state.get("k") != kind
            or not isinstance(state.get("s"), int)
            or state["s"] > self.directory.seq
        ):
            raise sync_state_not_found()
        return state

    def _check_age(self, state: dict) -> None:
        issued = state.get("t")
        if not isinstance(issued, (int, float)) or time.time() - issued > self.directory.delta_token_lifetime:
            raise sync_state_not_found()

    def _respond(
        self,
        base: str,
        spec: EntitySpec,
        select: tuple[str, ...] | None,
        values: list[dict],
        link_base: str,
        *,
        skip_state: dict | None = None,
        delta_state: dict | None = None,
    ) -> Response:
        sel = f"({','.join(select)})" if select else ""
        body: dict = {"@odata.context": f"{base}/$metadata#{spec.name}{sel}"}
        if skip_state is not None:
            body["@odata.nextLink"] = f"{link_base}?$skiptoken={odata.encode_token(skip_state, _DELTA_MAGIC)}"
        else:
            assert delta_state is not None
            body["@odata.deltaLink"] = f"{link_base}?$deltatoken={odata.encode_token(delta_state, _DELTA_MAGIC)}"
        body["value"] = values
        return Response(200, body, {}, GRAPH_SUCCESS_CONTENT_TYPE)

    def _show(self, item: dict, state: dict, spec: EntitySpec, *, changes_since: tuple[str, ...] | None = None) -> dict:
        """Delta results always carry the id, whatever $select says; groups can add members@delta:
        every member in the initial round (``changes_since`` None), and in a later round only the
        members added since ``changes_since`` (the members then) and those removed (``@removed``);
        nothing when the membership did not change (``_UNCHANGED``)."""
        select = _select(state)
        shown = odata.project(item, select, spec)
        if "id" not in shown:
            shown = {"id": item["id"], **shown}
        if state.get("mem") and changes_since is not _UNCHANGED:
            members_before = changes_since
            now = self.directory.group_member_ids(item["id"]) or []
            changes: list[dict] = []
            if members_before is None:
                changes = [_member(m) for m in now]
            else:
                current, earlier = set(now), set(members_before)
                changes = [
                    {**_member(m), "@removed": {"reason": "deleted"}} for m in members_before if m not in current
                ]
                changes += [_member(m) for m in now if m not in earlier]
            if changes or members_before is None:
                shown["members@delta"] = changes
        return shown


def _member(user_id: str) -> dict:
    return {"@odata.type": "#microsoft.graph.user", "id": user_id}


def _split_members(query: dict[str, str]) -> tuple[dict[str, str], bool]:
    """`$select=displayName,members` on groups/delta: members is a relationship, not a property."""
    key = next((k for k in query if k.lower() == "$select"), None)
    if key is None:
        return query, False
    parts = [p.strip() for p in query[key].split(",") if p.strip()]
    kept = [p for p in parts if p.lower() != "members"]
    if len(kept) == len(parts):
        return query, False
    return {**query, key: ",".join(kept) or "id"}, True


def _select(state: dict) -> tuple[str, ...] | None:
    sel = state.get("sel")
    return tuple(sel) if sel else None
