"""Microsoft Graph's permission reference, as shipped in ``graph_permissions.json``.

Pure Python (no Django), so the dashboard and the sandbox read the same ids and the same facts.
The data is derived from Microsoft's own machine-readable reference (see ``build.py`` and the
MIT ``LICENSE`` beside it). Paths are compared case-insensitively, with any ``{placeholder}``,
a typed value (``users/jane@contoso.com``), or key syntax (``applications(appId='…')``) matching
Microsoft's placeholders.

Choosing the least privileged permission for a read: among the permissions that grant ``GET`` on
the path for the token's kind, Microsoft's ``least=`` mark comes first, then the lower
``privilegeLevel``, then read before write, then the name. One path set in the reference often
groups read and write methods, which is why a ``…ReadWrite…`` permission can carry the mark too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DATA_FILE = Path(__file__).with_name("graph_permissions.json")
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
APPLICATION, DELEGATED = "application", "delegated"
KINDS = (APPLICATION, DELEGATED)

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_KEY_SYNTAX = re.compile(r"^([^(]*)\((.*)\)$")
_VERSIONS = ("v1.0", "beta")
_WRITE_WORDS = ("write", "manage", "send", "create", "delete")


def _segment(raw: str) -> str:
    """One path segment in the reference's comparable form: lower case, values as ``{}``."""
    text = raw.strip().lower()
    match = _KEY_SYNTAX.match(text)
    if match:
        head, args = match.groups()
        if not args.strip():
            return f"{head}()"
        keys = [f"{a.split('=', 1)[0].strip()}={{}}" if "=" in a else "{}" for a in args.split(",")]
        return f"{head}({','.join(keys)})"
    if _PLACEHOLDER.fullmatch(text) or (text.startswith("<") and text.endswith(">")) or text.startswith(":"):
        return "{}"
    return _PLACEHOLDER.sub("{}", text)


def _short_form(segment: str) -> str:
    """``microsoft.graph.delta()`` → ``delta``: the namespace and empty call are optional in Graph."""
    short = segment[len("microsoft.graph.") :] if segment.startswith("microsoft.graph.") else segment
    return short[:-2] if short.endswith("()") else short


def normalise_reference_path(path: str) -> str:
    """A path of Microsoft's reference (``/groups/{id}/members``) in comparable form."""
    return "/" + "/".join(_segment(s) for s in path.split("/") if s.strip())


def bare_path(path_or_url: str) -> str:
    """The path part of a path or URL someone typed, without scheme, host, query or fragment
    ("" for a URL that does not parse, such as ``https://[x/users``)."""
    text = path_or_url.strip()
    if "://" in text:
        try:
            text = urlsplit(text).path
        except ValueError:
            return ""
    return text.split("?", 1)[0].split("#", 1)[0]


def api_segments(path_or_url: str) -> list[str]:
    """The comparable segments of a path or URL someone typed, without version, query or fragment."""
    parts = [p for p in bare_path(path_or_url).split("/") if p.strip()]
    if parts and parts[0].strip().lower() in _VERSIONS:
        parts = parts[1:]
    return [_segment(p) for p in parts]


def is_write(name: str) -> bool:
    """Whether a permission's name says it writes (``ReadWrite``, ``Manage``, …)."""
    lowered = name.lower()
    return any(word in lowered for word in _WRITE_WORDS)


@dataclass(frozen=True)
class Permission:
    """One permission for one kind of token (``application``: an app role; ``delegated``: a scope)."""

    name: str
    kind: str
    id: str
    display: str  # Microsoft's admin display name, e.g. "Read all users' full profiles"
    admin_consent: bool
    privilege: int
    offered: bool  # false: hidden or disabled in the public cloud, so never suggested

    @property
    def manifest_type(self) -> str:
        """``Role`` (application) or ``Scope`` (delegated), as ``requiredResourceAccess`` spells it."""
        return "Role" if self.kind == APPLICATION else "Scope"


class Reference:
    """Lookups over the derived data; build one with ``reference()``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.source: dict[str, str] = data.get("source") or {}
        self._names: list[str] = data["names"]
        self._perms: dict[tuple[str, str], Permission] = {}
        self._by_id: dict[tuple[str, str], str] = {}
        for name, kinds in zip(self._names, data["permissions"], strict=False):
            for kind, (guid, display, admin_consent, privilege, offered) in kinds.items():
                perm = Permission(name, kind, guid, display, bool(admin_consent), privilege, bool(offered))
                self._perms[(name.lower(), kind)] = perm
                self._by_id[(perm.id, kind)] = name
        self._lists: list[list[int]] = data["grant_lists"]
        self._paths: dict[str, list[int]] = data["paths"]
        self._trie: dict[str, Any] = {}
        for path in self._paths:
            node = self._trie
            for seg in path.strip("/").split("/"):
                node = node.setdefault(seg, {})
            node["$"] = path

    # -- permissions -------------------------------------------------------------------------
    def permission(self, name: str, kind: str) -> Permission | None:
        return self._perms.get((name.strip().lower(), kind))

    def id_of(self, name: str, kind: str) -> str | None:
        perm = self.permission(name, kind)
        return perm.id if perm else None

    def name_of_id(self, guid: str, kind: str) -> str | None:
        return self._by_id.get((guid.strip().lower(), kind))

    def names(self, kind: str) -> list[str]:
        return [n for n in self._names if (n.lower(), kind) in self._perms]

    def spelling(self, name: str) -> str:
        """Microsoft's spelling of a permission name (tokens and people vary the case)."""
        for kind in KINDS:
            perm = self.permission(name, kind)
            if perm:
                return perm.name
        return name

    # -- paths -------------------------------------------------------------------------------
    def match(self, path_or_url: str) -> str | None:
        """The reference path an API path falls under (literal segments before placeholders)."""
        segments = api_segments(path_or_url)
        return self._walk(self._trie, segments, 0) if segments else None

    def _walk(self, node: dict[str, Any], segments: list[str], i: int) -> str | None:
        if i == len(segments):
            return node.get("$")
        seg = segments[i]
        for literal in dict.fromkeys((seg, _short_form(seg))):
            if literal != "{}" and literal in node:
                found = self._walk(node[literal], segments, i + 1)
                if found:
                    return found
        if "{}" in node:
            return self._walk(node["{}"], segments, i + 1)
        return None

    def _grants(self, reference_path: str, kind: str) -> dict[str, bool]:
        """Permission name → Microsoft's least mark, for GET on one reference path."""
        out = {}
        row = self._paths.get(reference_path)
        which = row[KINDS.index(kind)] if row else -1
        for code in self._lists[which] if which >= 0 else []:
            name = self._names[-code - 1 if code < 0 else code]
            out[name] = code < 0
        return out

    def granting(self, paths: Iterable[str], kind: str) -> tuple[str, ...]:
        """Permissions that grant GET on every one of ``paths`` for ``kind``, least privileged first.

        Empty when a path is unknown to the reference or no single permission covers them all.
        """
        grant_sets = []
        for path in paths:
            matched = self.match(path)
            if matched is None:
                return ()
            grant_sets.append(self._grants(matched, kind))
        if not grant_sets:
            return ()
        common = set(grant_sets[0]).intersection(*grant_sets[1:])

        def rank(name: str) -> tuple[int, int, bool, str]:
            unmarked = sum(1 for grants in grant_sets if not grants[name])
            perm = self._perms[(name.lower(), kind)]
            return (unmarked, perm.privilege, is_write(name), name.lower())

        offered = [n for n in common if self._perms[(n.lower(), kind)].offered]
        return tuple(sorted(offered, key=rank))

    def least(self, paths: Iterable[str], kind: str) -> str | None:
        found = self.granting(paths, kind)
        return found[0] if found else None

    def marked_least(self, path: str, kind: str) -> tuple[str, ...]:
        """Microsoft's own ``least=`` marks for GET on one path (as written in the reference)."""
        matched = self.match(path)
        return tuple(sorted(n for n, m in self._grants(matched, kind).items() if m)) if matched else ()


@lru_cache(maxsize=1)
def reference() -> Reference:
    """The shipped reference, read once per process."""
    return Reference(json.loads(DATA_FILE.read_text(encoding="utf-8")))
