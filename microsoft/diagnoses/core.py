"""What a diagnosis is: its severity, the actions its steps offer, and the registry of every kind.

A ``Diagnosis`` is built by keyword from its registered ``Kind`` (``KIND.build(title=..., ...)``),
so every key the dashboard can show is listed in ``REGISTRY`` with its severity and the actions
its steps may offer. Stored diagnoses (JSON on sync runs, token rows and fetches, in the session)
keep the shape ``to_dict`` has always written; ``from_dict`` reads it back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from microsoft.clouds import DEFAULT_CLOUD, is_guid
from microsoft.tokenclient import cloud_for_login_host


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Action(StrEnum):
    """What a step offers the user. All but ``OPEN_LINK`` are a step's ``action`` (a dashboard
    button); ``OPEN_LINK`` is a step with a ``url`` (a portal, consent or reference page)."""

    REFETCH_TOKEN = "refetch_token"
    EDIT_SECRET = "edit_secret"
    EDIT_CONNECTION = "edit_connection"
    SIGN_IN = "sign_in"
    RETRY = "retry"  # the same request again: Sync now for a sync run, else Test connection
    ADMIN_CONSENT = "admin_consent"  # the consent round trip (state bound to the session)
    TEST = "test"
    OPEN_LINK = "open_link"


@dataclass(frozen=True)
class Step:
    text: str
    url: str | None = None
    action: Action | None = None

    def __post_init__(self) -> None:
        if self.action is not None and not isinstance(self.action, Action):
            object.__setattr__(self, "action", Action(self.action))
        if self.action is Action.OPEN_LINK:
            raise ValueError("a link is a step's url, not its action")

    @property
    def controls(self) -> tuple[Action, ...]:
        """The actions this step offers: its button, and its link."""
        return tuple(a for a in (self.action, Action.OPEN_LINK if self.url else None) if a is not None)


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    """``key`` is stable (for tests, storage and ``PreviousAttempt``) and registered in
    ``REGISTRY``. ``missing`` lists the permissions this diagnosis says the token lacks."""

    key: str
    severity: Severity
    title: str
    explanation: str
    evidence: list[tuple[str, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    missing: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.severity, Severity):
            object.__setattr__(self, "severity", Severity(self.severity))

    @property
    def controls(self) -> frozenset[Action]:
        return frozenset(a for step in self.steps for a in step.controls)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, to store a diagnosis with a run or a token (plain strings only)."""
        return {
            "key": self.key,
            "severity": str(self.severity),
            "title": self.title,
            "explanation": self.explanation,
            "evidence": [[str(a), str(b)] for a, b in self.evidence],
            "steps": [
                {"text": s.text, "url": s.url, "action": str(s.action) if s.action else None} for s in self.steps
            ],
            "missing": list(self.missing),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnosis:
        """Read a stored diagnosis; an action or severity this version does not know (stored by
        another version) becomes a plain step, or an error."""
        severities = {s.value for s in Severity}
        return cls(
            key=data["key"],
            severity=data["severity"] if data.get("severity") in severities else Severity.ERROR,
            title=data["title"],
            explanation=data["explanation"],
            evidence=[(str(a), str(b)) for a, b in data.get("evidence", [])],
            steps=[_step_from_dict(s) for s in data.get("steps", [])],
            missing=tuple(data.get("missing", ())),
        )


_STEP_ACTIONS = {a.value for a in Action} - {Action.OPEN_LINK.value}


def _step_from_dict(data: Mapping[str, Any]) -> Step:
    action = data.get("action")
    return Step(
        str(data.get("text", "")), url=data.get("url") or None, action=action if action in _STEP_ACTIONS else None
    )


# --- the registry --------------------------------------------------------------------------------

# Strict (DIAGNOSES_STRICT=1, which the tests set): building a diagnosis whose steps offer an action
# its kind does not declare raises, so the registry cannot drift from the builders. Otherwise (in
# production) it never raises.
STRICT_ENV = "DIAGNOSES_STRICT"


@dataclass(frozen=True)
class Kind:
    """One registered diagnosis: its key (a family ends with ``.*``: the rest of the key is a
    code Microsoft sent), its usual severity, the actions its steps may offer and its domain."""

    key: str
    severity: Severity
    actions: frozenset[Action]
    domain: str

    @property
    def family(self) -> bool:
        return self.key.endswith(".*")

    def matches(self, key: str) -> bool:
        return key.startswith(self.key[:-1]) if self.family else key == self.key

    def build(
        self,
        *,
        title: str,
        explanation: str,
        evidence: Iterable[tuple[str, str]] = (),
        steps: Iterable[Step] = (),
        missing: Iterable[str] = (),
        severity: Severity | None = None,
        key: str | None = None,
    ) -> Diagnosis:
        """The diagnosis of this kind. ``key``: a family's full key; ``severity``: when this case
        is more (or less) serious than the kind's usual one."""
        key = key or self.key
        if not self.matches(key) or (self.family and key == self.key):
            raise ValueError(f"{key!r} is not a key of the kind {self.key!r}")
        diagnosis = Diagnosis(
            key=key,
            severity=severity or self.severity,
            title=title,
            explanation=explanation,
            evidence=list(evidence),
            steps=list(steps),
            missing=tuple(missing),
        )
        undeclared = diagnosis.controls - self.actions
        if undeclared and os.environ.get(STRICT_ENV) == "1":
            raise ValueError(f"{key} offers {sorted(undeclared)}, which its kind does not declare")
        return diagnosis


class Registry(Mapping[str, Kind]):
    """Every kind of diagnosis, by key."""

    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}

    def register(self, key: str, severity: Severity, *actions: Action, domain: str) -> Kind:
        if key in self._kinds:
            raise ValueError(f"the diagnosis {key!r} is registered twice")
        kind = Kind(key, severity, frozenset(actions), domain)
        self._kinds[key] = kind
        return kind

    def lookup(self, key: str) -> Kind | None:
        """The kind of a (stored) diagnosis key: its own entry, else the family it belongs to."""
        if key in self._kinds:
            return self._kinds[key]
        return next((k for k in self._kinds.values() if k.family and k.matches(key)), None)

    def __getitem__(self, key: str) -> Kind:
        return self._kinds[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    @property
    def actions(self) -> frozenset[Action]:
        """Every action some registered diagnosis can offer."""
        return frozenset(a for kind in self._kinds.values() for a in kind.actions)


REGISTRY = Registry()


def register(key: str, severity: Severity, *actions: Action) -> Kind:
    """Register a kind; its domain is the first part of the module that registers it."""
    return REGISTRY.register(key, severity, *actions, domain=key.split(".")[0])


# --- what the caller knows ----------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What the dashboard knows about the connection (never its secret)."""

    connection_name: str
    tenant: str
    client_id: str
    entity_path: str | None = None
    login_host: str = DEFAULT_CLOUD.login_host  # host[:port]; the sandbox's for sandbox profiles
    cloud: str | None = None  # global, usgov, usdod, china; None: from login_host
    grant_type: str = "client_credentials"
    redirect_uri: str | None = None
    secret_looks_like_guid: bool = False
    scope_or_resource: str | None = None
    endpoint_version: str = "v2"
    graph_service_url: str = DEFAULT_CLOUD.graph_base
    secret_expires_on: date | None = None
    permissions_page_url: str | None = None  # replaces the Azure portal link (e.g. sandbox portal)
    odata_select: str = ""  # the connection's $select: basic permissions return only some properties
    now: datetime | None = None
    certificate_thumbprint: str | None = None  # SHA-1, of the certificate a private_key_jwt connection signs with

    @property
    def portal_cloud(self) -> str:
        return self.cloud or cloud_for_login_host(self.login_host).name

    @property
    def delegated(self) -> bool:
        return self.grant_type in ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class PreviousAttempt:
    """The diagnosis shown before the latest re-fetch, and the permissions that older token had."""

    key: str
    token_permissions: frozenset[str] = frozenset()
    missing: tuple[str, ...] = ()

    @classmethod
    def of(cls, diagnosis: Diagnosis, token_permissions: Iterable[str] = ()) -> PreviousAttempt:
        return cls(diagnosis.key, frozenset(token_permissions), diagnosis.missing)


def looks_like_guid(value: str) -> bool:
    """True for a GUID, which is what a client secret's *ID* looks like (its value never does)."""
    return is_guid(value)
