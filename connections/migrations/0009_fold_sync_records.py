"""Every existing successful run gets the next sequence number of its connection (in the order the
runs finished) and its records are folded into versions with the same set-based comparison a full
run uses, so every run stays browsable, comparable and exportable. The stored digests are kept:
they hash the same sorted, compact JSON text the store writes now (for Graph's strings, integers,
booleans and plain decimals the two serialisers agree byte for byte; an item holding an
exponent-notation number would show as changed once, on the next full run).
"""

import hashlib

from django.db import migrations, models


def signature_of(entity: str, odata_select: str, odata_filter: str) -> str:
    # A copy of models.syncs.signature_of as it is today (migrations must not follow later edits).
    text = "\x1f".join((entity.strip(), odata_select.strip(), odata_filter.strip()))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def fold_records_into_versions(apps, schema_editor):
    SyncRun = apps.get_model("connections", "SyncRun")
    SyncStream = apps.get_model("connections", "SyncStream")
    SyncRecord = apps.get_model("connections", "SyncRecord")
    SyncVersion = apps.get_model("connections", "SyncVersion")
    version_table = SyncVersion._meta.db_table
    record_table = SyncRecord._meta.db_table
    quote = schema_editor.quote_name
    for run in SyncRun.objects.all().only("pk", "connection_id", "entity", "odata_select", "odata_filter").iterator():
        stream, _ = SyncStream.objects.get_or_create(
            connection_id=run.connection_id,
            signature=signature_of(run.entity, run.odata_select, run.odata_filter),
            defaults={"entity": run.entity, "odata_select": run.odata_select, "odata_filter": run.odata_filter},
        )
        SyncRun.objects.filter(pk=run.pk).update(stream=stream)
    seqs: dict = {}
    succeeded = SyncRun.objects.filter(status="succeeded").order_by("connection_id", "finished_at", "created_at")

    def raw(value):  # a UUID as raw SQL takes it: native on PostgreSQL, 32 hex digits on SQLite
        return value if schema_editor.connection.vendor == "postgresql" else value.hex

    with schema_editor.connection.cursor() as cursor:
        for run in succeeded.iterator():
            seq = seqs[run.connection_id] = seqs.get(run.connection_id, 0) + 1
            SyncRun.objects.filter(pk=run.pk).update(seq=seq)
            # Close the current versions this run no longer has as they were…
            same = SyncRecord.objects.filter(
                run_id=run.pk, key=models.OuterRef("key"), digest=models.OuterRef("digest")
            )
            SyncVersion.objects.filter(stream_id=run.stream_id, valid_to__isnull=True, removed=False).exclude(
                models.Exists(same)
            ).update(valid_to=seq)
            back = SyncRecord.objects.filter(run_id=run.pk, key=models.OuterRef("key"))
            SyncVersion.objects.filter(stream_id=run.stream_id, valid_to__isnull=True, removed=True).filter(
                models.Exists(back)
            ).update(valid_to=seq)
            # …add the run's records that have no current version…
            key = quote("key")
            cursor.execute(
                f"INSERT INTO {quote(version_table)} (stream_id, {key}, valid_from, valid_to, digest, data, removed) "
                f"SELECT %s, r.{key}, %s, NULL, r.digest, r.data, FALSE FROM {quote(record_table)} r "
                f"WHERE r.run_id = %s AND NOT EXISTS (SELECT 1 FROM {quote(version_table)} v "
                f"WHERE v.stream_id = %s AND v.{key} = r.{key} AND v.valid_to IS NULL)",
                [run.stream_id, seq, raw(run.pk), run.stream_id],
            )
            # …and a tombstone for each item that ended without coming back (the store's own rule).
            cursor.execute(
                f"INSERT INTO {quote(version_table)} (stream_id, {key}, valid_from, valid_to, digest, data, removed) "
                f"SELECT stream_id, {key}, %s, NULL, digest, data, TRUE FROM {quote(version_table)} v "
                f"WHERE v.stream_id = %s AND v.valid_to = %s AND NOT v.removed AND NOT EXISTS (SELECT 1 FROM "
                f"{quote(version_table)} n WHERE n.stream_id = %s AND n.{key} = v.{key} AND n.valid_from = %s)",
                [seq, run.stream_id, seq, run.stream_id, seq],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0008_versioned_sync_store"),
    ]

    operations = [
        migrations.RunPython(fold_records_into_versions, migrations.RunPython.noop, elidable=False),
    ]
