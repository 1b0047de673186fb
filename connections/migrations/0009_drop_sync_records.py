"""The per-run record table goes (its rows are versions now); sequence numbers are unique per
connection; the staging table is UNLOGGED on PostgreSQL (nothing in it must survive a crash)."""
from django.db import migrations, models


def unlogged_stage(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        table = apps.get_model("connections", "SyncStage")._meta.db_table
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET UNLOGGED")


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0008_versioned_sync_store"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="syncrun",
            constraint=models.UniqueConstraint(fields=("connection", "seq"), name="one_sync_seq_per_connection"),
        ),
        migrations.DeleteModel(name="SyncRecord"),
        migrations.RunPython(unlogged_stage, migrations.RunPython.noop),
    ]
