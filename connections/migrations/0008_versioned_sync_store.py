"""Sync runs stop storing every record again: items become versions valid across runs.

Every existing successful run gets the next sequence number of its connection (in the order the
runs finished) and its records are folded into versions with the same set-based comparison a full
run uses, so every run stays browsable, comparable and exportable (the next migration drops the per-run
table: PostgreSQL does not alter a table in the transaction that just updated it). The stored
digests are kept: they hash the same sorted, compact JSON text the store writes now (for Graph's
strings, integers, booleans and plain decimals the two serialisers agree byte for byte; an item
holding an exponent-notation number would show as changed once, on the next full run).
"""
import hashlib

import django.db.models.deletion
from django.db import migrations, models


def stream_of(entity: str, odata_select: str, odata_filter: str) -> str:
    # A copy of models.syncs.stream_of as it is today (migrations must not follow later edits).
    text = "\x1f".join((entity.strip(), odata_select.strip(), odata_filter.strip()))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def fold_records_into_versions(apps, schema_editor):
    SyncRun = apps.get_model("connections", "SyncRun")
    SyncRecord = apps.get_model("connections", "SyncRecord")
    SyncVersion = apps.get_model("connections", "SyncVersion")
    version_table = SyncVersion._meta.db_table
    record_table = SyncRecord._meta.db_table
    quote = schema_editor.quote_name
    for run in SyncRun.objects.all().only("pk", "entity", "odata_select", "odata_filter").iterator():
        SyncRun.objects.filter(pk=run.pk).update(stream=stream_of(run.entity, run.odata_select, run.odata_filter))
    seqs: dict = {}
    succeeded = SyncRun.objects.filter(status="succeeded").order_by("connection_id", "finished_at", "created_at")
    def raw(value):  # a UUID as raw SQL takes it: native on PostgreSQL, 32 hex digits on SQLite
        return value if schema_editor.connection.vendor == "postgresql" else value.hex

    with schema_editor.connection.cursor() as cursor:
        for run in succeeded.iterator():
            seq = seqs[run.connection_id] = seqs.get(run.connection_id, 0) + 1
            SyncRun.objects.filter(pk=run.pk).update(seq=seq)
            # Close the current versions this run no longer has as they were…
            same = SyncRecord.objects.filter(run_id=run.pk, key=models.OuterRef("key"), digest=models.OuterRef("digest"))
            SyncVersion.objects.filter(connection_id=run.connection_id, stream=run.stream, valid_to__isnull=True).exclude(
                models.Exists(same)).update(valid_to=seq)
            # …and add the run's records that have no current version.
            cursor.execute(
                f"INSERT INTO {quote(version_table)} (connection_id, stream, {quote('key')}, valid_from, valid_to, digest, data) "
                f"SELECT %s, %s, r.{quote('key')}, %s, NULL, r.digest, r.data FROM {quote(record_table)} r "
                f"WHERE r.run_id = %s AND NOT EXISTS (SELECT 1 FROM {quote(version_table)} v "
                f"WHERE v.connection_id = %s AND v.stream = %s AND v.{quote('key')} = r.{quote('key')} "
                "AND v.valid_to IS NULL)",
                [raw(run.connection_id), run.stream, seq, raw(run.pk), raw(run.connection_id), run.stream])


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0007_login_failures"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncrun",
            name="status",
            field=models.CharField(choices=[("queued", "Queued"), ("running", "Running"), ("succeeded", "Succeeded"),
                                            ("failed", "Failed"), ("cancelled", "Cancelled"),
                                            ("interrupted", "Interrupted")], default="queued", max_length=12),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="stream",
            field=models.CharField(blank=True, help_text="entity + $select + $filter, see stream_of", max_length=32),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="seq",
            field=models.PositiveBigIntegerField(blank=True, help_text="set when published: the snapshot's place",
                                                 null=True),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="trigger",
            field=models.CharField(choices=[("manual", "by hand"), ("schedule", "by schedule")], default="manual",
                                   max_length=10),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="cancel_requested",
            field=models.BooleanField(default=False, help_text="the worker stops at the next page"),
        ),
        migrations.CreateModel(
            name="SyncVersion",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("stream", models.CharField(max_length=32)),
                ("key", models.CharField(max_length=400)),
                ("valid_from", models.PositiveBigIntegerField()),
                ("valid_to", models.PositiveBigIntegerField(blank=True, null=True)),
                ("digest", models.CharField(max_length=32)),
                ("data", models.JSONField()),
                ("connection", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                                 related_name="+", to="connections.connection")),
            ],
            options={
                "indexes": [models.Index(fields=["connection", "stream", "valid_from"], name="sync_version_from"),
                            models.Index(fields=["connection", "stream", "valid_to"], name="sync_version_to")],
                "constraints": [
                    models.UniqueConstraint(fields=("connection", "stream", "key", "valid_from"),
                                            name="one_version_per_key_and_seq"),
                    models.UniqueConstraint(condition=models.Q(("valid_to__isnull", True)),
                                            fields=("connection", "stream", "key"), name="one_current_version_per_key"),
                ],
            },
        ),
        migrations.CreateModel(
            name="SyncStage",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("key", models.CharField(max_length=400)),
                ("digest", models.CharField(max_length=32)),
                ("data", models.TextField()),
                ("run", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                          related_name="+", to="connections.syncrun")),
            ],
            options={
                "indexes": [models.Index(fields=["run", "key"], name="sync_stage_run_key")],
            },
        ),
        migrations.RunPython(fold_records_into_versions, migrations.RunPython.noop, elidable=False),
    ]
