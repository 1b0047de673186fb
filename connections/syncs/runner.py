"""Running a sync: read every page of a connection's entity into the versioned store.

A full run reads ``{service_url}/{entity}`` with the profile's ``$select``/``$filter`` and the
entity's largest page, following ``@odata.nextLink`` as-is. For entities with delta queries it
first asks ``…/delta?$deltatoken=latest`` for a deltaLink, so that the next run reads only what
changed since *before* this one began (changes made while paging are reported again, which is
harmless). A delta run follows the stored deltaLink and writes only the changes it received.
Every run is compared with the previous successful run of the same entity, ``$select`` and ``$filter``.

A full run of a collection with a range property is read in partitions side by side
(``partitions``) when it is large enough, and serially otherwise or when the partitions' rows do
not match Graph's count. Memory stays flat: one page is in memory at a time (a few in a
partitioned read), and a full run stages it per page. (A delta
run keeps the changes themselves in memory until they are published.) Progress is written on the
first page and then at most every ``PROGRESS_EVERY`` seconds; whether the run was cancelled is
checked on every page. The run's states are ``lifecycle``'s; the Graph reads are ``reader``'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import reset_queries

from connections import throttle, tokens
from connections.models import Connection, SyncRun
from connections.syncs import lifecycle, partitions, store
from connections.syncs.reader import PageReader, Stopped, SyncFailed, page_items
from microsoft import catalogue, diagnoses, graphclient, outbound

log = logging.getLogger(__name__)

# Directory collections that give @odata.count with ConsistencyLevel: eventual (docs/microsoft-wire-facts.md, "Collections, paging, count and delta").
COUNTABLE = frozenset({"users", "groups", "devices", "applications", "servicePrincipals"})
PROGRESS_EVERY = 1.0  # seconds between progress writes

Changes = dict[str, dict[str, Any] | None]  # key → the item's changed properties; None: removed


class DeltaExpired(Exception):
    """Graph no longer knows the deltaLink's state: read everything again."""


def run_sync(
    connection: Connection, run: SyncRun, job_id: str | None, *, page_size: int | None = None
) -> dict[str, Any]:
    """Run ``run`` to the end. A finished run, or one another worker is running, is left alone
    (so a re-delivered task is harmless). ``page_size`` overrides the entity's largest page."""
    if not lifecycle.claim(run):
        run.refresh_from_db()
        return {"ok": run.status == SyncRun.Status.SUCCEEDED, "skipped": True, "status": run.status}
    user = run.started_by
    reader: PageReader | None = None
    try:
        reader = PageReader.open(connection, run, job_id, user)
        previous = _previous_run(connection, run)
        entity = catalogue.lookup(run.entity)
        use_delta = bool(previous and previous.delta_link and entity and entity.delta and not run.odata_filter)
        changes: Changes | None = None
        with outbound.keep_alive():  # one connection for every page
            if use_delta and previous is not None:  # use_delta implies a previous run
                try:
                    changes = _delta_run(reader, run, previous)
                except DeltaExpired:
                    lifecycle.update(
                        run, pages=0, rows=0, bytes=0, message="The delta token expired: reading everything again…"
                    )
                    _full_run(reader, run, entity, page_size)
            else:
                _full_run(reader, run, entity, page_size)
        return _publish(run, previous, reader, user, changes)
    except (Stopped, lifecycle.NotPublished):
        return lifecycle.stopped(run)
    except SyncFailed as failed:
        return lifecycle.fail(run, failed.diagnosis, user, kept=failed.kept)
    except outbound.OutboundError as err:
        return lifecycle.fail(run, diagnoses.diagnose_transport_error(err, tokens.context_for(connection)), user)
    except SoftTimeLimitExceeded:
        return lifecycle.fail(run, diagnoses.sync.too_long(run.pages, run.rows), user)
    except Exception:
        if not SyncRun.objects.filter(pk=run.pk).exists():
            # Deleted with its connection while it ran (its rows could not be written): nobody to tell.
            log.info("sync run %s stopped: it was deleted with its connection", run.pk)
            return {"ok": False, "run_id": str(run.pk), "deleted": True}
        log.exception("sync run %s crashed", run.pk)
        lifecycle.fail(run, diagnoses.sync.crashed(), user)
        raise
    finally:
        if reader is not None:
            reader.close()
            reader.record_throttle()


def _previous_run(connection: Connection, run: SyncRun) -> SyncRun | None:
    """The last published run of the same stream: its snapshot is the one this run changes."""
    previous = (
        SyncRun.objects.filter(connection=connection, status=SyncRun.Status.SUCCEEDED, stream_id=run.stream_id)
        .exclude(pk=run.pk)
        .order_by("-seq")
        .first()
    )
    if previous is not None:
        lifecycle.update(run, previous=previous)
    return previous


def _full_run(reader: PageReader, run: SyncRun, entity: catalogue.Entity | None, page_size: int | None) -> None:
    lifecycle.update(run, mode=SyncRun.Mode.FULL, message="Reading the first page…")
    base = graphclient.collection_url(reader.connection.service_url, run.entity)
    largest = entity.max_top if entity else None
    top = page_size or (min(largest, settings.SYNC_PAGE_SIZE) if largest and settings.SYNC_PAGE_SIZE else largest)
    params = graphclient.query_params(run.odata_select, run.odata_filter, top=top)
    params.update(dict(entity.params) if entity else {})
    headers: dict[str, str] = {}
    if entity is not None and entity.path in COUNTABLE:
        params["$count"] = "true"
        headers["ConsistencyLevel"] = "eventual"
    if entity is not None and entity.delta and not run.odata_filter:
        run.delta_link = _latest_delta_link(reader, base, run.odata_select)
    prop = partitions.range_property(run, entity.path) if entity is not None else None
    if prop and partitions.read(reader, run, base, params, headers, prop, _key_name(run)):
        return
    stager = store.Stager(run, _key_name(run))
    for body in _pages(reader, run, base, params, headers):
        stager.add(page_items(body))
        run.rows = stager.rows


def _latest_delta_link(reader: PageReader, base: str, select: str) -> str:
    """A deltaLink for "now", asked *before* the full read so nothing changed during it is missed."""
    params = {"$deltatoken": "latest", **graphclient.query_params(select)}
    response = reader.get(f"{base}/delta", params=params)
    if not response.ok:
        raise reader.refuse(response)
    link = response.body.get("@odata.deltaLink") if isinstance(response.body, dict) else None
    return link if isinstance(link, str) else ""


def _delta_run(reader: PageReader, run: SyncRun, previous: SyncRun) -> Changes:
    """Follow the previous run's deltaLink; the changes it lists, merged per key (None: removed)."""
    lifecycle.update(run, mode=SyncRun.Mode.DELTA, message="Reading the changes since the last sync…")
    key_name = _key_name(run)
    changes: Changes = {}
    headers = {"Prefer": "odata.maxpagesize=999"}
    for body in _pages(reader, run, previous.delta_link, None, headers):
        for item in page_items(body):
            key = str(item.get(key_name) or "")
            if not key:
                continue
            if "@removed" in item:
                changes[key] = None
            else:
                changes[key] = {**(changes.get(key) or {}), **store.clean(item)}
    lifecycle.update(run, message=f"Applying {len(changes)} changes to the {previous.rows} records of the last sync…")
    return changes


def _pages(
    reader: PageReader, run: SyncRun, url: str, params: dict[str, str] | None, headers: dict[str, str]
) -> Iterator[dict[str, Any]]:
    """Each page's body, following ``@odata.nextLink`` as-is; counts pages and bytes on the run."""
    next_url: str | None = url
    reported = 0.0
    while next_url:
        if lifecycle.should_stop(run):
            raise Stopped()
        response = reader.get(next_url, params=params, headers=headers)
        if not response.ok or not isinstance(response.body, dict) or "_text" in response.body:  # _text: not JSON
            if run.mode == SyncRun.Mode.DELTA and (
                response.status == 410 or response.error_code in ("syncStateNotFound", "resyncRequired")
            ):
                raise DeltaExpired()
            raise reader.refuse(response)
        body = response.body
        if run.pages == 0 and isinstance(body.get("@odata.count"), int):
            lifecycle.update(run, total=body["@odata.count"])
        run.pages += 1
        run.bytes += response.size
        next_url, params = body.get("@odata.nextLink"), None  # the link carries every query option
        if next_url:
            reader.prefetch(next_url, headers)
        yield body
        if isinstance(body.get("@odata.deltaLink"), str):  # checked like a nextLink when it is followed
            run.delta_link = body["@odata.deltaLink"]
        if not next_url or time.monotonic() - reported >= PROGRESS_EVERY:
            _progress(reader.job_id, run)
            reported = time.monotonic()


def _progress(job_id: str | None, run: SyncRun) -> None:
    pages = f"{run.pages} page{'s' if run.pages != 1 else ''}"
    total = f" of {run.total}" if run.total else ""
    message = (
        f"{pages} of changes read…" if run.mode == SyncRun.Mode.DELTA else f"{pages}, {run.rows} rows{total} so far…"
    )
    lifecycle.heartbeat(run, job_id, message, pages=run.pages, rows=run.rows, bytes=run.bytes)
    reset_queries()  # with DEBUG on, Django keeps every query's text (each page's INSERT) until a request ends


def _key_name(run: SyncRun) -> str:
    entity = catalogue.lookup(run.entity)
    return entity.key if entity else "id"


def _publish(
    run: SyncRun, previous: SyncRun | None, reader: PageReader, user: Any, changes: Changes | None
) -> dict[str, Any]:
    """Publish the run (``lifecycle.succeed``: one transaction) and say so; a cancelled run raises
    ``NotPublished``."""
    fields = {
        "pages": run.pages,
        "bytes": run.bytes,
        "delta_link": run.delta_link,
        "mode": run.mode,
        **reader.throttle_fields(),  # published with the run, so its page shows them from the start
    }
    previous_rows = previous.rows if previous is not None else None

    def publish(seq: int) -> store.Counts:
        if changes is not None and previous_rows is not None:
            counts = store.publish_delta(run, seq, changes, previous_rows)
        else:
            counts = store.publish_full(run, seq, previous_rows)
        reader.session.succeeded()  # the connection's last Graph refusal ends with the run's success
        return counts

    counts = lifecycle.succeed(run, publish, user, **fields)
    throttle.note_tenant_size(run, reader.session.access_token)
    compared: dict[str, int | None] = {"added": None, "changed": None, "removed": None}
    if previous is not None:
        compared = {"added": counts.added, "changed": counts.changed, "removed": counts.removed}
    return {"ok": True, "run_id": str(run.pk), "rows": counts.rows, "pages": run.pages, "mode": run.mode, **compared}
