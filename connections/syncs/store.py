"""The versioned sync store: staging a run's items and writing them as versions when it is published.

A connection's items live in ``SyncVersion`` rows, one per state of an item, valid for the runs
with ``valid_from <= seq < valid_to``. A running run never touches them:

- a **full** run stages every item it reads in ``SyncStage`` (``COPY`` on PostgreSQL, batched
  ``INSERT`` on SQLite, a transaction per page: no ORM object per item, no index kept up to date
  row by row), then ``publish_full`` compares the stage with the
  current snapshot by key and digest in SQL — closing the versions that vanished or changed and
  inserting the new ones and a *tombstone* for each removed item;
- a **delta** run keeps the changes Graph sent and ``publish_delta`` writes only those: an
  unchanged delta re-sync writes the run row and nothing else.

Both run inside ``lifecycle.succeed``'s transaction, which marks the run succeeded with them. A
run that fails, is cancelled or whose worker dies is never published: its staged rows are dropped
and no snapshot, change set or export sees anything of it. Reading what runs published is
``results``'s.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection as db
from django.db import models, transaction

from connections.models import SyncRun, SyncStage, SyncVersion

log = logging.getLogger(__name__)

SQLITE_ROWS_PER_INSERT = 200  # rows per staging INSERT on SQLite (4 parameters each: under 999)
KEY_BATCH = 500  # keys per ``IN (…)`` lookup
KEY_MAX = 400  # SyncVersion.key's length
STAGE_INDEX = "sync_stage_publishing"  # SQLite: the stage's index while a run is published


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
    """Writes items of a run to ``SyncStage`` a page at a time; ``rows`` counts what it wrote.

    A stager keeps no state beside its count and writes through the calling thread's database
    connection, so several readers of one run (each with its own stager, in its own thread) can
    stage into the same run; the run's rows are the sum of their counts."""

    def __init__(self, run: SyncRun, key_name: str) -> None:
        self.run = run
        self.key_name = key_name
        self.rows = 0
        self.table = SyncStage._meta.db_table
        self.postgres = db.vendor == "postgresql"

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
                # Many rows per statement: sqlite3 lets other threads run during every step, and a
                # statement per row would wait for the GIL once per row while a partitioned read's
                # threads parse pages.
                # One transaction per page, committed without waiting for the disk (the write-ahead
                # log is synced by the next fully synchronous commit, e.g. publishing's; staged rows
                # are disposable, as on PostgreSQL). SQLite only changes that outside a transaction.
                # The stage has no index on SQLite either: ``publish_full`` builds one.
                run_hex = _uuid(self.run.pk)
                relaxed = transaction.get_autocommit()
                if relaxed:
                    cursor.execute("PRAGMA synchronous")
                    level = int(cursor.fetchone()[0])
                    cursor.execute("PRAGMA synchronous = NORMAL")
                try:
                    with transaction.atomic():
                        for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
                            chunk = rows[start : start + SQLITE_ROWS_PER_INSERT]
                            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
                            cursor.execute(
                                f'INSERT INTO "{self.table}" (run_id, "key", digest, data) VALUES {values}',  # noqa: S608
                                [v for key, digest, text in chunk for v in (run_hex, key, digest, text.decode())],
                            )
                finally:
                    if relaxed:
                        cursor.execute(f"PRAGMA synchronous = {level}")


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


def publish_full(run: SyncRun, seq: int, previous_rows: int | None) -> Counts:
    """Make the staged items of a full run its snapshot as sequence number ``seq``, set-wise in SQL
    (inside the publishing transaction), and drop the stage."""
    version, stage = SyncVersion._meta.db_table, SyncStage._meta.db_table
    run_id, stream_id = _uuid(run.pk), run.stream_id
    data = "s.data::jsonb" if db.vendor == "postgresql" else "s.data"
    with transaction.atomic():
        with db.cursor() as cursor:
            if db.vendor == "postgresql":
                # The stage has no index (staging stays cheap): every comparison below is a hash join.
                # With nested loops allowed, stale statistics can make one scan the stage per row.
                cursor.execute("SET LOCAL enable_nestloop TO OFF")
                cursor.execute(f'ANALYZE "{stage}"')
            else:
                # SQLite only joins by nested loops, so the comparisons need an index on the stage.
                # Built here in one sort, it costs far less than keeping it up to date row by row
                # while staging; it lives only inside this transaction (dropped below, gone with a
                # rollback), so staging by other runs never pays for it.
                cursor.execute(f'CREATE INDEX "{STAGE_INDEX}" ON "{stage}" (run_id, "key", digest)')
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
            if db.vendor != "postgresql":
                cursor.execute(f'DROP INDEX "{STAGE_INDEX}"')  # before the DELETE, which would update it
        changed = _changed_count(run, seq) if ended and began else 0
        added = began - changed
        rows = _current(run).filter(removed=False).count() if previous_rows is None else previous_rows + added - removed
        SyncStage.objects.filter(run_id=run.pk).delete()
    return Counts(added, changed, removed, rows)


def publish_delta(run: SyncRun, seq: int, changes: dict[str, dict[str, Any] | None], previous_rows: int) -> Counts:
    """Apply a delta run's ``changes`` (key → changed properties, None: removed) to the current
    snapshot as sequence number ``seq`` (inside the publishing transaction), writing only what
    really changed.

    Plain SQL rather than model instances: a stored version's JSON text is parsed once (orjson) and
    a new version's text is written as it was encoded for its digest, never serialised again."""
    assert run.stream_id is not None  # a saved run always has its stream (SyncRun.save)
    version = SyncVersion._meta.db_table
    stream_id = run.stream_id
    json_value = "%s::jsonb" if db.vendor == "postgresql" else "%s"
    ends: list[int] = []
    begins: list[tuple[Any, ...]] = []  # (stream, key, valid_from, digest, data text, removed)
    added = changed = removed = 0
    keys = list(changes)
    with transaction.atomic(), db.cursor() as cursor:
        for start in range(0, len(keys), KEY_BATCH):
            batch = keys[start : start + KEY_BATCH]
            cursor.execute(
                f'SELECT "key", id, digest, data, removed FROM "{version}" '  # noqa: S608
                f'WHERE stream_id = %s AND valid_to IS NULL AND "key" IN ({", ".join(["%s"] * len(batch))})',
                [stream_id, *batch],
            )
            current = {row[0]: row[1:] for row in cursor.fetchall()}
            for key in batch:
                change, old = changes[key], current.get(key)
                if old is not None and old[3]:  # a tombstone: the item was removed before
                    if change is None:
                        continue
                    ends.append(old[0])
                    old = None
                if change is None:
                    if old is not None:
                        ends.append(old[0])
                        begins.append((stream_id, key, seq, old[1], _text(old[2]), True))
                        removed += 1
                    continue
                data = {**_parsed(old[2]), **change} if old is not None else change
                text = encode(data)
                new_digest = digest_of(text)
                if old is not None and old[1] == new_digest:
                    continue  # reported again, but the same as stored
                if old is not None:
                    ends.append(old[0])
                    changed += 1
                else:
                    added += 1
                begins.append((stream_id, key[:KEY_MAX], seq, new_digest, text.decode(), False))
        for start in range(0, len(ends), KEY_BATCH):
            batch_ids = ends[start : start + KEY_BATCH]
            cursor.execute(
                f'UPDATE "{version}" SET valid_to = %s WHERE id IN ({", ".join(["%s"] * len(batch_ids))})',  # noqa: S608
                [seq, *batch_ids],
            )
        if begins:
            cursor.executemany(
                f'INSERT INTO "{version}" (stream_id, "key", valid_from, valid_to, digest, data, removed) '
                f"VALUES (%s, %s, %s, NULL, %s, {json_value}, %s)",
                begins,
            )
    return Counts(added, changed, removed, previous_rows + added - removed)


def _text(value: Any) -> str:
    """A stored JSON value as text (both backends hand JSON columns to raw SQL as text)."""
    return value if isinstance(value, str) else encode(value).decode()


def _parsed(value: Any) -> dict[str, Any]:
    return orjson.loads(value) if isinstance(value, str | bytes) else value
