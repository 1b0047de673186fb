"""Sync runs stop storing every record again: items become versions valid across runs.

Every existing successful run gets the next sequence number of its connection (in the order the
runs finished) and its records are folded into versions with the same set-based comparison a full
run uses, so every run stays browsable, comparable and exportable. This migration makes the tables; the
next one folds the records into versions and the one after drops the per-run table (PostgreSQL
does not alter a table in the transaction that just updated its rows).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0007_login_failures"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                    ("interrupted", "Interrupted"),
                ],
                default="queued",
                max_length=12,
            ),
        ),
        migrations.CreateModel(
            name="SyncStream",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("signature", models.CharField(help_text="signature_of(entity, $select, $filter)", max_length=32)),
                ("entity", models.CharField(max_length=300)),
                ("odata_select", models.CharField(blank=True, max_length=1000, verbose_name="$select")),
                ("odata_filter", models.CharField(blank=True, max_length=1000, verbose_name="$filter")),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="sync_streams",
                        to="connections.connection",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("connection", "signature"), name="one_stream_per_read")
                ],
            },
        ),
        migrations.AddField(
            model_name="syncrun",
            name="stream",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="runs",
                to="connections.syncstream",
            ),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="seq",
            field=models.PositiveBigIntegerField(
                blank=True, help_text="set when published: the snapshot's place", null=True
            ),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="trigger",
            field=models.CharField(
                choices=[("manual", "by hand"), ("schedule", "by schedule")], default="manual", max_length=10
            ),
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
                ("key", models.CharField(max_length=400)),
                ("valid_from", models.PositiveBigIntegerField()),
                ("valid_to", models.PositiveBigIntegerField(blank=True, null=True)),
                ("digest", models.CharField(max_length=32)),
                ("data", models.JSONField()),
                (
                    "removed",
                    models.BooleanField(
                        default=False,
                        help_text="a tombstone: the item was removed at valid_from (data: as it last was)",
                    ),
                ),
                (
                    "stream",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connections.syncstream",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["stream", "valid_from"], name="sync_version_from"),
                    models.Index(
                        condition=models.Q(("valid_to__isnull", False)),
                        fields=["stream", "valid_to"],
                        name="sync_version_to",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("stream", "key", "valid_from"), name="one_version_per_key_and_seq"),
                    models.UniqueConstraint(
                        condition=models.Q(("valid_to__isnull", True)),
                        fields=("stream", "key"),
                        name="one_current_version_per_key",
                    ),
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
                (
                    "run",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="connections.syncrun",
                    ),
                ),
            ],
        ),
    ]
