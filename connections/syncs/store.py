"""The versioned sync store: staging a run's items, publishing them atomically, reading snapshots.

A connection's items live in ``SyncVersion`` rows, one per state of an item, valid for the runs
with ``valid_from <= seq < valid_to``. A running run never touches them:

- a **full** run stages every item it reads in ``SyncStage`` (``COPY`` on PostgreSQL, batched
  ``INSERT`` on SQLite: no ORM object per item), then ``publish_full`` compares the stage with the
  current snapshot by key and digest in SQL — closing the versions that vanished or changed and
  inserting the new ones and a *tombstone* for each removed item — and marks the run succeeded, all
  in one transaction;
- a **delta** run keeps the changes Graph sent (usually few) and ``publish_delta`` writes only
  those: an unchanged delta re-sync writes the run row and nothing else.

A run that fails, is cancelled or whose worker dies is never published: its staged rows are
dropped (``end_run``) and no snapshot, change set or export sees anything of it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from django.db import connection as db
from django.db import models, transaction
from django.utils import timezone

from connections.jobs import queue as background
from connections.library import audit
from connections.models import Connection, SyncRun, SyncStage, SyncStream, SyncVersion
from microsoft import diagnoses

log = logging.getLogger(__name__)

# A run's lifecycle limits: a running run without a page for STALE_AFTER is taken over, and a
# queued one that no worker picked up for QUEUED_STALE_AFTER no longer blocks Sync now.
STALE_AFTER = timedelta(minutes=10)
QUEUED_STALE_AFTER = timedelta(hours=2)

SQLITE_BATCH = 500  # rows per executemany on SQLite
KEY_BATCH = 500  # keys per ``IN (…)`` lookup
KEY_MAX = 400  # SyncVersion.key's length


# -- items ----------------------------------------------------------------------------------------


def clean(item: dict[str, Any]) -> dict[str, Any]:
    """The item without OData annotations (``@odata.type``, ``@removed``, ``members@delta``…)."""
    return {k: v for k, v in item.items() if "@" not in k}


def encode(data: dict[str, Any]) -> bytes:
    """The one serialisation of an item: sorted keys, so equal items give equal text and digest."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)


def digest_of(text: bytes) -> str:
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def digest(data: dict[str, Any]) -> str:
    return digest_of(encode(data))


def key_of(item: dict[str, Any], key_name: str, text: bytes) -> str:
    key = item.get(key_name)
    return (str(key) if key not in (None, "") else f"#{digest_of(text)}")[:KEY_MAX]  # keyless: by content


# -- staging (full runs) --------------------------------------------------------------------------


def _copy_field(value: bytes) -> bytes:
    """A value in COPY's text format: backslash, tab, newline and carriage return escaped."""
    if b"\\" in value:
        value = value.replace(b"\\", b"\\\\")
    if b"\t" in value or b"\n" in value or b"\r" in value:
        value = value.replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return value


_PLAIN_KEY = re.compile(r"[\w.@#=+/-]*\Z").match  # a GUID, an id or a UPN: nothing to escape


class Stager:
    """Writes a run's items to ``SyncStage`` a page at a time; ``rows`` counts what it wrote."""

    def __init__(self, run: SyncRun, key_name: str) -> None:
        self.run = run
        self.key_name = key_name
        self.rows = 0
        self.table = SyncStage._meta.db_table
        self.postgres = db.vendor == "postgresql"
        discard(run)  # a taken-over run starts from nothing

    def add(self, items: Iterable[dict[str, Any]]) -> int:
        """Stage one page's items (annotations dropped, digests computed once); returns how many."""
        key_name = self.key_name
        rows: list[tuple[str, str, bytes]] = []
        for item in items:
            data = clean(item) if "@" in "\n".join(item) else item  # one C-level scan of the names
            text = encode(data)
            rows.append((key_of(item, key_name, text), digest_of(text), text))
        if rows:
            self._write(rows)
        self.rows += len(rows)
        return len(rows)

    def _write(self, rows: list[tuple[str, str, bytes]]) -> None:
        run_id = str(self.run.pk).encode()
        with db.cursor() as cursor:
            if self.postgres:
                # orjson never writes a raw tab, newline or carriage return: only its backslashes need
                # doubling for COPY's text format (and keys get the full escaping).
                buffer = b"".join(
                    [
                        b"%s\t%s\t%s\t%s\n"
                        % (
                            run_id,
                            key.encode() if _PLAIN_KEY(key) else _copy_field(key.encode()),
                            digest.encode(),
                            text.replace(b"\\", b"\\\\") if b"\\" in text else text,
                        )
                        for key, digest, text in rows
                    ]
                )
                with transaction.atomic():
                    # Staged rows are disposable (a crash drops the run anyway): no waiting for the disk.
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                    with cursor.cursor.copy(f'COPY "{self.table}" (run_id, "key", digest, data) FROM STDIN') as copy:
                        copy.write(buffer)
            else:
                run_hex = _uuid(self.run.pk)
                sql = f'INSERT INTO "{self.table}" (run_id, "key", digest, data) VALUES (%s, %s, %s, %s)'
                for start in range(0, len(rows), SQLITE_BATCH):
                    cursor.executemany(
                        sql,
                        [
                            (run_hex, key, digest, text.decode())
                            for key, digest, text in rows[start : start + SQLITE_BATCH]
                        ],
                    )


def discard(run: SyncRun) -> int:
    """Drop what ``run`` staged (nothing of it was ever visible)."""
    return SyncStage.objects.filter(run_id=run.pk).delete()[0]


# -- publishing -----------------------------------------------------------------------------------


def _uuid(value: Any) -> Any:
    """A UUID as raw SQL takes it: native on PostgreSQL, 32 hex digits on SQLite (as Django stores it)."""
    value = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return value if db.vendor == "postgresql" else value.hex


@dataclass(frozen=True)
class Counts:
    added: int
    changed: int
    removed: int
    rows: int  # items in the published snapshot


class NotPublished(Exception):
    """The run was cancelled or interrupted before it could be published."""


def _lock_for_publish(run: SyncRun) -> int:
    """Inside the publishing transaction: the run must still be running and not cancelled; returns
    the connection's next sequence number (the connection row is locked, so two publishers queue)."""
    Connection.objects.select_for_update().filter(pk=run.connection_id).values_list("pk", flat=True).first()
    state = SyncRun.objects.select_for_update().filter(pk=run.pk).values_list("status", "cancel_requested").first()
    if state is None or state[0] != SyncRun.Status.RUNNING or state[1]:
        raise NotPublished()
    last = SyncRun.objects.filter(connection_id=run.connection_id).aggregate(m=models.Max("seq"))["m"] or 0
    return last + 1


def _current(run: SyncRun) -> models.QuerySet[SyncVersion]:
    """The stream's current versions, tombstones of removed items included."""
    return SyncVersion.objects.filter(stream_id=run.stream_id, valid_to__isnull=True)


def _changed_count(run: SyncRun, seq: int) -> int:
    """Versions that began at ``seq`` replacing one that ended there: the changed items."""
    ended = SyncVersion.objects.filter(stream_id=run.stream_id, valid_to=seq, removed=False, key=models.OuterRef("key"))
    return (
        SyncVersion.objects.filter(stream_id=run.stream_id, valid_from=seq, removed=False)
        .filter(models.Exists(ended))
        .count()
    )


def publish_full(run: SyncRun, previous_rows: int | None, **fields: Any) -> Counts:
    """Make the staged items of a full run its snapshot, set-wise in SQL, and mark it succeeded
    with ``fields`` — one transaction. Raises ``NotPublished`` (and keeps nothing) when the run
    was cancelled or interrupted meanwhile."""
    version, stage = SyncVersion._meta.db_table, SyncStage._meta.db_table
    run_id, stream_id = _uuid(run.pk), run.stream_id
    data = "s.data::jsonb" if db.vendor == "postgresql" else "s.data"
    with transaction.atomic():
        seq = _lock_for_publish(run)
        with db.cursor() as cursor:
            if db.vendor == "postgresql":
                # The stage has no index (staging stays cheap): every comparison below is a hash join.
                # With nested loops allowed, stale statistics can make one scan the stage per row.
                cursor.execute("SET LOCAL enable_nestloop TO OFF")
                cursor.execute(f'ANALYZE "{stage}"')
            # Current items the run did not see with the same digest end here (removed or changed)…
            cursor.execute(
                f'UPDATE "{version}" SET valid_to = %s WHERE stream_id = %s AND valid_to IS NULL AND NOT removed '
                f'AND NOT EXISTS (SELECT 1 FROM "{stage}" s WHERE s.run_id = %s '
                f'AND s."key" = "{version}"."key" AND s.digest = "{version}".digest)',
                [seq, stream_id, run_id],
            )
            ended = cursor.rowcount
            # …so do the tombstones of removed items that are back…
            cursor.execute(
                f'UPDATE "{version}" SET valid_to = %s WHERE stream_id = %s AND valid_to IS NULL AND removed '
                f'AND EXISTS (SELECT 1 FROM "{stage}" s WHERE s.run_id = %s AND s."key" = "{version}"."key")',
                [seq, stream_id, run_id],
            )
            # …the staged items without a current version begin here (added, changed or back). An
            # item Graph listed twice (it changed while the run paged) counts once, as last read…
            cursor.execute(
                f'INSERT INTO "{version}" (stream_id, "key", valid_from, valid_to, digest, data, removed) '
                f'SELECT %s, s."key", %s, NULL, s.digest, {data}, FALSE FROM "{stage}" s WHERE s.run_id = %s '
                f'AND NOT EXISTS (SELECT 1 FROM "{stage}" later WHERE later.run_id = s.run_id '
                f'AND later."key" = s."key" AND later.id > s.id) '
                f'AND NOT EXISTS (SELECT 1 FROM "{version}" v WHERE v.stream_id = %s '
                f'AND v."key" = s."key" AND v.valid_to IS NULL)',
                [stream_id, seq, run_id, stream_id],
            )
            began = cursor.rowcount
            # …and each item that ended without coming back gets a tombstone (its last data).
            cursor.execute(
                f'INSERT INTO "{version}" (stream_id, "key", valid_from, valid_to, digest, data, removed) '
                f'SELECT stream_id, "key", %s, NULL, digest, data, TRUE FROM "{version}" v '
                f"WHERE v.stream_id = %s AND v.valid_to = %s AND NOT v.removed AND NOT EXISTS ("
                f'SELECT 1 FROM "{version}" n WHERE n.stream_id = %s AND n."key" = v."key" AND n.valid_from = %s)',
                [seq, stream_id, seq, stream_id, seq],
            )
            removed = cursor.rowcount
        changed = _changed_count(run, seq) if ended and began else 0
        added = began - changed
        rows = _current(run).filter(removed=False).count() if previous_rows is None else previous_rows + added - removed
        counts = Counts(added, changed, removed, rows)
        _mark_succeeded(run, seq, counts, fields)
        SyncStage.objects.filter(run_id=run.pk).delete()
    return counts


def publish_delta(run: SyncRun, changes: dict[str, dict[str, Any] | None], previous_rows: int, **fields: Any) -> Counts:
    """Apply a delta run's ``changes`` (key → changed properties, None: removed) to the current
    snapshot and mark the run succeeded — one transaction, writing only what really changed."""
    with transaction.atomic():
        seq = _lock_for_publish(run)
        assert run.stream_id is not None  # a saved run always has its stream (SyncRun.save)
        ends: list[int] = []
        begins: list[SyncVersion] = []
        added = changed = removed = 0
        keys = list(changes)
        for start in range(0, len(keys), KEY_BATCH):
            batch = keys[start : start + KEY_BATCH]
            current = {
                v.key: v for v in _current(run).filter(key__in=batch).only("id", "key", "digest", "data", "removed")
            }
            for key in batch:
                change, old = changes[key], current.get(key)
                if old is not None and old.removed:  # a tombstone: the item was removed before
                    if change is None:
                        continue
                    ends.append(old.id)
                    old = None
                if change is None:
                    if old is not None:
                        ends.append(old.id)
                        begins.append(
                            SyncVersion(
                                stream_id=run.stream_id,
                                key=key,
                                valid_from=seq,
                                digest=old.digest,
                                data=old.data,
                                removed=True,
                            )
                        )
                        removed += 1
                    continue
                data = {**old.data, **change} if old is not None else change
                text = encode(data)
                new_digest = digest_of(text)
                if old is not None and old.digest == new_digest:
                    continue  # reported again, but the same as stored
                if old is not None:
                    ends.append(old.id)
                    changed += 1
                else:
                    added += 1
                begins.append(
                    SyncVersion(
                        stream_id=run.stream_id,
                        key=key[:KEY_MAX],
                        valid_from=seq,
                        digest=new_digest,
                        data=orjson.loads(text),
                    )
                )
        for start in range(0, len(ends), KEY_BATCH):
            SyncVersion.objects.filter(pk__in=ends[start : start + KEY_BATCH]).update(valid_to=seq)
        SyncVersion.objects.bulk_create(begins, batch_size=KEY_BATCH)
        counts = Counts(added, changed, removed, previous_rows + added - removed)
        _mark_succeeded(run, seq, counts, fields)
    return counts


def _mark_succeeded(run: SyncRun, seq: int, counts: Counts, fields: dict[str, Any]) -> None:
    now = timezone.now()
    values = {
        "status": SyncRun.Status.SUCCEEDED,
        "seq": seq,
        "finished_at": now,
        "heartbeat_at": now,
        "rows": counts.rows,
        "error": {},
        **fields,
    }
    if run.previous_id is not None:
        values.update(added=counts.added, changed=counts.changed, removed=counts.removed)
    SyncRun.objects.filter(pk=run.pk).update(**values)
    for name, value in values.items():
        setattr(run, name, value)


# -- stopping -------------------------------------------------------------------------------------


def end_run(
    run: SyncRun,
    status: str,
    message: str,
    *,
    error: dict[str, Any] | None = None,
    job_id: object | None = None,
    job_result: dict[str, Any] | None = None,
    only_active: bool = True,
) -> bool:
    """End ``run`` without publishing it — failed, cancelled or interrupted — and fail its job with
    it, in one transaction: the one place a run stops short. The run says ``message`` (and
    ``error``, its diagnosis), what it staged is dropped and its rows figure is zeroed (nothing of
    it is visible); job ``job_id`` fails with the same ``message`` (and ``job_result``).

    Only a queued or running run is ended, unless ``only_active`` is False (the worker that ran it
    and failed, which has the last word). Returns False when nothing was ended."""
    message = message[:300]
    now = timezone.now()
    with transaction.atomic():
        runs = SyncRun.objects.filter(pk=run.pk)
        if only_active:
            runs = runs.filter(status__in=SyncRun.ACTIVE)
        ended = (
            runs.update(status=status, finished_at=now, message=message, error=error or {}, rows=0) > 0
            or not only_active
        )  # rows: no partial figure that looks like data
        if ended:
            SyncStage.objects.filter(run_id=run.pk).delete()
            if job_id:
                background.mark_failed(str(job_id), message, result=job_result)
    if not ended:
        return False
    run.status, run.finished_at, run.message, run.error, run.rows = status, now, message, error or {}, 0
    return True


def interrupt_run(run: SyncRun, message: str) -> bool:
    """Mark ``run`` interrupted with ``message`` and leave nothing of it visible (its staged items
    are dropped; it was never published), its job failed with it. For a run whose worker died;
    harmless on a finished run (returns False then).
    The next run starts from the last published snapshot, exactly as if this one never happened."""
    diagnosis = diagnoses.sync.interrupted(message, run.heartbeat_at or run.created_at, run.pages)
    if not end_run(
        run, SyncRun.Status.INTERRUPTED, message, error={**diagnosis.to_dict(), "kept": False}, job_id=run.job_id
    ):
        return False
    audit.record(None, run.connection, audit.Action.SYNCED, detail=f"{run.entity}: interrupted: {message}"[:500])
    return True


# -- reading --------------------------------------------------------------------------------------


def snapshot(run: SyncRun) -> models.QuerySet[SyncVersion]:
    """Every item of ``run`` as published (nothing for a run that was never published)."""
    return run.records


def current(stream: SyncStream) -> models.QuerySet[SyncVersion]:
    """The stream's items as its last published run left them."""
    return SyncVersion.objects.filter(stream=stream, valid_to__isnull=True)


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
