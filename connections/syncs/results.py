"""Reading what a run published: its snapshot, its change set against the run before it, the
fields that changed, and its values as text for a table cell or a CSV field.

Pages, exports and template tags read a run's results through here and nowhere else; the
snapshot query itself is ``SyncRun.records`` (every version of the run's stream valid at its
sequence number).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import models
from django.db.models.functions import Cast

from connections.models import SyncRun, SyncVersion

CHANGE_KINDS = ("added", "changed", "removed")
SAMPLE_FOR_COLUMNS = 100  # records whose names make the columns of a run without $select
COLUMNS_CACHED_SECONDS = 3600
LABEL_FIELDS = ("displayName", "userPrincipalName", "name", "mail")


def snapshot(run: SyncRun) -> models.QuerySet[SyncVersion]:
    """Every item of ``run`` as published (nothing for a run that was never published)."""
    return run.records


def search(records: models.QuerySet[SyncVersion], query: str) -> models.QuerySet[SyncVersion]:
    """Records whose JSON text contains ``query`` (any case; on SQLite, letters outside ASCII only
    in their own case). SQLite stores non-ASCII escaped in JSON text, so the escaped spelling is
    searched too."""
    if not query:
        return records
    escaped = json.dumps(query)[1:-1]
    text = records.annotate(_text=Cast("data", models.TextField()))
    condition = models.Q(_text__icontains=query)
    if escaped != query:
        condition |= models.Q(_text__icontains=escaped)
    return text.filter(condition)


def columns_for(run: SyncRun) -> list[str]:
    """The run's ``$select`` if it had one, else the names in its first records, in order.

    Those records are read once per published snapshot (it never changes once published): the cache
    key names the run, its snapshot and when the run was made, so a reused id never meets old names."""
    if run.odata_select.strip():
        return [name.strip() for name in run.odata_select.split(",") if name.strip()]
    if run.seq is None:
        return []
    key = f"run-columns:{run.pk}:{run.stream_id}:{run.seq}:{run.created_at.isoformat()}"
    columns: list[str] | None = cache.get(key)
    if columns is None:
        columns = _sampled_columns(run)
        cache.set(key, columns, COLUMNS_CACHED_SECONDS)
    return columns


def _sampled_columns(run: SyncRun) -> list[str]:
    seen: dict[str, None] = {}
    for data in run.records.order_by("key").values_list("data", flat=True)[:SAMPLE_FOR_COLUMNS]:
        seen.update(dict.fromkeys(data))
    if "id" in seen:  # the key first: people look rows up by it
        seen = {"id": None, **seen}
    return list(seen)


def as_text(value: Any) -> str:
    """A value as text for a table cell or a CSV field (lists joined, objects as JSON)."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# -- what changed ---------------------------------------------------------------------------------


def change_querysets(run: SyncRun) -> dict[str, models.QuerySet[SyncVersion]]:
    """What ``run`` added, changed (its new versions) and removed (the versions that ended) compared
    with the snapshot before it — each one indexed query on the run's sequence number."""
    if run.seq is None:
        none = SyncVersion.objects.none()
        return {"added": none, "changed": none, "removed": none}
    began = SyncVersion.objects.filter(stream_id=run.stream_id, valid_from=run.seq)  # the run's change set
    replaced = SyncVersion.objects.filter(
        stream_id=run.stream_id, valid_to=run.seq, removed=False, key=models.OuterRef("key")
    )
    return {
        "added": began.filter(removed=False).exclude(models.Exists(replaced)),
        "changed": began.filter(removed=False).filter(models.Exists(replaced)),
        "removed": began.filter(removed=True),  # tombstones, holding the item as it last was
    }


def versions_before(run: SyncRun, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The data of ``keys`` as they were before ``run`` changed them."""
    rows = SyncVersion.objects.filter(
        stream_id=run.stream_id, valid_to=run.seq, removed=False, key__in=keys
    ).values_list("key", "data")
    return dict(rows)


@dataclass(frozen=True)
class Change:
    kind: str  # added, changed, removed
    key: str
    data: dict[str, Any]  # the record now (or, when removed, as it was)
    fields: tuple[tuple[str, Any, Any], ...] = ()  # changed: (field, before, after)

    @property
    def label(self) -> str:
        for name in LABEL_FIELDS:
            if self.data.get(name):
                return str(self.data[name])
        return self.key


def changes(run: SyncRun, kind: str, offset: int = 0, limit: int = 50) -> list[Change]:
    """One page of ``kind`` changes of ``run`` against the snapshot before it (two queries)."""
    if not run.compared:
        return []
    rows = list(change_querysets(run)[kind].order_by("key")[offset : offset + limit])
    if kind != "changed":
        return [Change(kind, r.key, r.data) for r in rows]
    before = versions_before(run, [r.key for r in rows])
    return [Change(kind, r.key, r.data, changed_fields(before.get(r.key, {}), r.data)) for r in rows]


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    """The fields whose value differs, as (name, before, after): changed or added ones, then dropped ones."""
    names = [n for n in after if before.get(n) != after.get(n)] + [n for n in before if n not in after]
    return tuple((n, before.get(n), after.get(n)) for n in names)


def signed_changes(run: SyncRun) -> str:
    """ "+1 ~2 −3" for a compared run, "" for a first run."""
    if not run.compared:
        return ""
    return f"+{run.added} ~{run.changed} \u2212{run.removed}"
