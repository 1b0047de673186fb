"""The sandbox tenant's directory: generated users, groups and devices plus an overlay of changes.

Generated items are never stored (see `generator`); only added, updated and deleted ones are, in
an overlay, and every change is appended to a change log whose sequence number delta tokens carry.
Readers take a `View` (a cheap copy of one entity set's overlay, made under the lock) and page
through it without holding the lock, so a slow filter scan never blocks a writer.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

from . import generator, ranges
from .odata import fold

KINDS = ("users", "groups", "devices")
SEVEN_DAYS = 7 * 24 * 3600.0
_UPN_INDEX = re.compile(r"(\d+)@[^@]+$")


@dataclass(frozen=True)
class Change:
    seq: int
    kind: str
    id: str
    op: str  # "added" | "updated" | "deleted"
    props: tuple[str, ...]  # changed properties (empty for deletes)
    at: float
    members_before: tuple[str, ...] | None = None  # a group's member ids before this change set them


@dataclass
class View:
    """One entity set as of one moment. Positions: 0..n_base-1 generated, then added items."""

    kind: str
    n_base: int
    make: Callable[[int], dict]
    index_of: Callable[[str], int | None]
    deleted: set[str]
    patched: dict[str, dict]
    added_ids: list[str]
    added: dict[str, dict]
    upn_index: dict[str, str] = field(default_factory=dict)
    # (lo, hi) -> ascending positions of generated users whose folded UPN is in range (users only)
    upn_between: Callable[[str | None, str | None], list[int]] | None = None
    # (lo, hi) -> how many generated users' folded UPN is in range, as generated (users only)
    upn_count: Callable[[str | None, str | None], int] | None = None
    # position -> generated user's UPN as generated (users only)
    upn_of: Callable[[int], str] | None = None

    @property
    def end(self) -> int:
        return self.n_base + len(self.added_ids)

    def count(self) -> int:
        return self.n_base - len(self.deleted) + len(self.added)

    def at(self, pos: int) -> dict | None:
        """The item at a position, with its overlay applied; None if deleted or out of range."""
        if 0 <= pos < self.n_base:
            item = self.make(pos)
            if self.deleted and item["id"] in self.deleted:
                return None
            patch = self.patched.get(item["id"])
            return {**item, **patch} if patch else item
        k = pos - self.n_base
        if 0 <= k < len(self.added_ids):
            added = self.added.get(self.added_ids[k])
            return dict(added) if added is not None else None
        return None

    def iter_from(self, pos: int) -> Iterator[tuple[int, dict]]:
        for p in range(max(0, pos), self.end):
            item = self.at(p)
            if item is not None:
                yield p, item

    def candidates(self, prop: str, lo: str | None, hi: str | None) -> list[int] | None:
        """Ascending positions that may hold a user whose folded ``prop`` is within [lo, hi] (a
        superset: the caller still applies the filter), or None when no index covers ``prop``."""
        if prop != "userPrincipalName" or self.upn_between is None:
            return None
        base = self.upn_between(lo, hi)
        renamed = [self.index_of(oid) for oid, patch in self.patched.items() if "userPrincipalName" in patch]
        extra = [i for i in renamed if i is not None and i < self.n_base]
        if not extra and not self.added_ids:
            return base
        return sorted(set(base).union(extra, range(self.n_base, self.end)))

    def count_in_range(self, prop: str, lo: str | None, hi: str | None) -> int | None:
        """How many users' folded ``prop`` is within [lo, hi], from the index and the overlay alone
        (no user is built), or None when no index covers ``prop``. Exactly what reading and
        filtering every user would count: generated users start from the index's count, and those
        the overlay deleted or renamed are taken out as generated and put back as they are now."""
        if prop != "userPrincipalName" or self.upn_count is None or self.upn_of is None:
            return None

        def inside(value: object) -> bool:
            if not isinstance(value, str):
                return False
            folded = fold(value)
            return (lo is None or folded >= lo) and (hi is None or folded <= hi)

        total = self.upn_count(lo, hi)
        changed = set(self.deleted).union(oid for oid, patch in self.patched.items() if prop in patch)
        for oid in changed:
            i = self.index_of(oid)
            if i is None or i >= self.n_base:
                continue
            generated = self.upn_of(i)
            total -= inside(generated)
            if oid not in self.deleted:
                total += inside(self.patched[oid].get(prop, generated))
        return total + sum(1 for item in self.added.values() if inside(item.get(prop)))

    def get(self, key: str) -> dict | None:
        """By object id, or (users) by userPrincipalName, case-insensitively."""
        key_l = key.lower()
        found = self.added.get(key) or self.added.get(key_l)
        if found is not None:
            return dict(found)
        if "@" in key and self.kind == "users":
            if key_l in self.upn_index:
                return self.get(self.upn_index[key_l])
            m = _UPN_INDEX.search(key_l)
            if m is None:
                return None
            item = self.at(int(m.group(1)) - 1)
            return item if item and item["userPrincipalName"].lower() == key_l else None
        i = self.index_of(key_l)
        if i is None or i >= self.n_base:
            return None
        item = self.at(i)
        return item if item and item["id"] == key_l else None


class Directory:
    """Generated directory + overlay + change log; thread-safe."""

    def __init__(
        self,
        *,
        tenant_id: str,
        domain: str,
        users: int,
        groups: int | None = None,
        devices: int | None = None,
        seed: int = 1,
    ) -> None:
        self.tenant_id = tenant_id
        self.domain = domain
        self.seed = seed
        self.n_users = users
        self.n_groups = groups if groups is not None else max(3, users // 20)
        self.n_devices = devices if devices is not None else max(1, users * 3 // 4)
        self.delta_token_lifetime: float = SEVEN_DAYS
        self._lock = threading.Lock()
        self._group_template = _blank(generator.group(seed, domain, 0))
        self._device_template = _blank(generator.device(seed, 0))
        self.reset()

    # -- state -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the generated directory; old delta tokens stop working (new epoch)."""
        with self._lock:
            self.epoch = uuid.uuid4().hex[:12]
            self._deleted: dict[str, set[str]] = {k: set() for k in KINDS}
            self._patched: dict[str, dict[str, dict]] = {k: {} for k in KINDS}
            self._added_ids: dict[str, list[str]] = {k: [] for k in KINDS}
            self._added: dict[str, dict[str, dict]] = {k: {} for k in KINDS}
            self._upn_index: dict[str, str] = {}
            self._members: dict[str, list[str]] = {}
            self._log: list[Change] = []

    def stats(self) -> dict:
        with self._lock:
            counts = {k: self._base(k) - len(self._deleted[k]) + len(self._added[k]) for k in KINDS}
            return {
                **counts,
                "changes": len(self._log),
                "seed": self.seed,
                "domain": self.domain,
                "tenant_id": self.tenant_id,
            }

    def _base(self, kind: str) -> int:
        return {"users": self.n_users, "groups": self.n_groups, "devices": self.n_devices}[kind]

    def _maker(self, kind: str) -> Callable[[int], dict]:
        seed, domain = self.seed, self.domain
        if kind == "users":
            return lambda i: generator.user(seed, domain, i)
        if kind == "groups":
            return lambda i: generator.group(seed, domain, i)
        return lambda i: generator.device(seed, i)

    def view(self, kind: str) -> View:
        kind_key = kind[:-1]
        seed, domain, n_users = self.seed, self.domain, self.n_users

        def upn_between(lo: str | None, hi: str | None) -> list[int]:
            return ranges.upn_index(seed, domain, n_users, fold).between(lo, hi)

        def upn_count(lo: str | None, hi: str | None) -> int:
            return ranges.upn_index(seed, domain, n_users, fold).count(lo, hi)

        def upn_of(i: int) -> str:
            return generator.user_upn(seed, domain, i)

        with self._lock:
            return View(
                kind=kind,
                n_base=self._base(kind),
                make=self._maker(kind),
                index_of=lambda object_id: generator.index_of(seed, kind_key, object_id),
                deleted=set(self._deleted[kind]),
                patched=dict(self._patched[kind]),
                added_ids=list(self._added_ids[kind]),
                added=dict(self._added[kind]),
                upn_index=dict(self._upn_index) if kind == "users" else {},
                upn_between=upn_between if kind == "users" else None,
                upn_count=upn_count if kind == "users" else None,
                upn_of=upn_of if kind == "users" else None,
            )

    @property
    def seq(self) -> int:
        """Sequence number of the latest change (0 when unchanged)."""
        return len(self._log)

    def changes_since(self, kind: str, seq: int) -> tuple[int, list[Change]]:
        """(current seq, changes to `kind` after `seq`), read atomically."""
        with self._lock:
            return len(self._log), [c for c in self._log[seq:] if c.kind == kind]

    # -- reads -----------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> dict | None:
        return self.view(kind).get(key)

    def get_user(self, id_or_upn: str) -> dict | None:
        return self.get("users", id_or_upn)

    def get_group(self, group_id: str) -> dict | None:
        return self.get("groups", group_id)

    def sample_users(self, n: int) -> list[dict]:
        """The first n users that exist (demo sign-ins, fixtures)."""
        out: list[dict] = []
        for _, item in self.view("users").iter_from(0):
            if len(out) >= n:
                break
            out.append(item)
        return out

    def group_member_ids(self, group_id: str) -> list[str] | None:
        """Ids of the users in a group (None if the group does not exist)."""
        groups = self.view("groups")
        group = groups.get(group_id)
        if group is None:
            return None
        with self._lock:
            override = self._members.get(group["id"])
        if override is not None:
            return list(override)
        i = groups.index_of(group["id"])
        if group["id"] in groups.added or i is None:
            return []
        users = self.view("users")
        out = []
        for idx in generator.group_member_indices(self.seed, i, self.n_users):
            item = users.at(idx)
            if item is not None:
                out.append(item["id"])
        return out

    def member_override(self, group_id: str) -> list[str] | None:
        """A group's member ids when they were set through the control API (None: as generated)."""
        with self._lock:
            members = self._members.get(group_id)
        return None if members is None else list(members)

    def group_members(self, group_id: str) -> list[dict] | None:
        ids = self.group_member_ids(group_id)
        if ids is None:
            return None
        users = self.view("users")
        return [u for u in (users.get(i) for i in ids) if u is not None]

    def messages(self, user_id_or_upn: str) -> list[dict] | None:
        user = self.get_user(user_id_or_upn)
        return None if user is None else generator.messages(self.seed, user)

    def directory_roles(self) -> list[dict]:
        return generator.directory_roles(self.seed)

    def organization(self) -> list[dict]:
        return [generator.organization(self.tenant_id, self.domain)]

    def domains(self) -> list[dict]:
        return generator.domains(self.domain)

    def subscribed_skus(self) -> list[dict]:
        return generator.subscribed_skus(self.tenant_id, self.domain, self.n_users)

    # -- writes ----------------------------------------------------------------------------

    def _record(
        self, kind: str, object_id: str, op: str, props: tuple[str, ...], members_before: list[str] | None = None
    ) -> None:
        before = tuple(members_before) if members_before is not None else None
        self._log.append(Change(len(self._log) + 1, kind, object_id, op, props, time.time(), before))

    def add(self, kind: str, data: dict) -> dict:
        """Create an item; fills id, createdDateTime and the usual properties with null."""
        item = dict(data)
        members = item.pop("members", None)
        item["id"] = str(item.get("id") or uuid.uuid4())
        item.setdefault("createdDateTime", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if kind == "users":
            item = self._complete_user(item)
        else:
            template = self._group_template if kind == "groups" else self._device_template
            item = {**template, **item}
        with self._lock:
            if self._exists(kind, item["id"]):
                raise ValueError(f"An object with id '{item['id']}' already exists.")
            if kind == "users":
                self._claim_upn(item["userPrincipalName"], item["id"])
            self._added_ids[kind].append(item["id"])
            self._added[kind][item["id"]] = item
            if members is not None:
                self._members[item["id"]] = [str(m) for m in members]
            self._record(kind, item["id"], "added", tuple(item))
        return dict(item)

    def update(self, kind: str, object_id: str, patch: dict) -> dict | None:
        """Apply a PATCH; returns the new item, or None if it does not exist."""
        patch = {k: v for k, v in patch.items() if k != "id"}
        members = patch.pop("members", None)
        current = self.get(kind, object_id)
        if current is None:
            return None
        oid = current["id"]
        # Delta rounds report membership changes only (added and removed members): keep what it was.
        before = self.group_member_ids(oid) if members is not None and kind == "groups" else None
        with self._lock:
            if kind == "users" and "userPrincipalName" in patch:
                new_upn = str(patch["userPrincipalName"])
                if new_upn.lower() != current["userPrincipalName"].lower():
                    self._claim_upn(new_upn, oid)
                    self._upn_index.pop(current["userPrincipalName"].lower(), None)
            if oid in self._added[kind]:
                self._added[kind][oid] = {**self._added[kind][oid], **patch}
            elif patch:
                self._patched[kind][oid] = {**self._patched[kind].get(oid, {}), **patch}
            props = tuple(patch)
            if members is not None and kind == "groups":
                self._members[oid] = [str(m) for m in members]
                props += ("members",)
            if props:
                self._record(kind, oid, "updated", props, before)
        return {**current, **patch}

    def delete(self, kind: str, object_id: str) -> bool:
        current = self.get(kind, object_id)
        if current is None:
            return False
        oid = current["id"]
        with self._lock:
            if oid in self._added[kind]:
                del self._added[kind][oid]
            else:
                self._deleted[kind].add(oid)
                self._patched[kind].pop(oid, None)
            if kind == "users":
                self._upn_index.pop(current["userPrincipalName"].lower(), None)
            self._members.pop(oid, None)
            self._record(kind, oid, "deleted", ())
        return True

    def add_user(self, data: dict) -> dict:
        return self.add("users", data)

    def update_user(self, id: str, patch: dict) -> dict | None:
        return self.update("users", id, patch)

    def delete_user(self, id: str) -> bool:
        return self.delete("users", id)

    def add_group(self, data: dict) -> dict:
        return self.add("groups", data)

    def update_group(self, id: str, patch: dict) -> dict | None:
        return self.update("groups", id, patch)

    def delete_group(self, id: str) -> bool:
        return self.delete("groups", id)

    # -- helpers ---------------------------------------------------------------------------

    def _exists(self, kind: str, object_id: str) -> bool:
        if object_id in self._added[kind]:
            return True
        i = generator.index_of(self.seed, kind[:-1], object_id)
        return (
            i is not None
            and i < self._base(kind)
            and object_id not in self._deleted[kind]
            and self._maker(kind)(i)["id"] == object_id
        )

    def _claim_upn(self, upn: str, object_id: str) -> None:
        """Reserve a UPN for an object; a UPN in use raises ValueError (as Graph's 400 would)."""
        existing = self._upn_index.get(upn.lower())
        if existing is None:
            m = _UPN_INDEX.search(upn.lower())
            if m is not None and 0 < int(m.group(1)) <= self.n_users:
                base = generator.user(self.seed, self.domain, int(m.group(1)) - 1)
                patched_upn = self._patched["users"].get(base["id"], {}).get("userPrincipalName")
                live = base["id"] not in self._deleted["users"]
                if live and (patched_upn or base["userPrincipalName"]).lower() == upn.lower():
                    existing = base["id"]
        if existing is not None and existing != object_id:
            raise ValueError(
                f"Another object with the same value for property userPrincipalName already exists: '{upn}'."
            )
        self._upn_index[upn.lower()] = object_id

    def _complete_user(self, item: dict) -> dict:
        given = item.get("givenName")
        surname = item.get("surname")
        display = item.get("displayName") or " ".join(p for p in (given, surname) if p) or "New User"
        if not item.get("userPrincipalName"):
            local = ".".join(p for p in re.split(r"\W+", display.lower()) if p) or "user"
            item["userPrincipalName"] = f"{local}.{item['id'][:8]}@{self.domain}"
        base = _blank(generator.user(self.seed, self.domain, 0))
        base.update(accountEnabled=True, userType="Member")
        return {**base, "displayName": display, **item}


def _blank(example: dict) -> dict:
    """An item's shape with no values: empty lists for collections, null for the rest."""
    return {k: [] if isinstance(v, list) else None for k, v in example.items()}
