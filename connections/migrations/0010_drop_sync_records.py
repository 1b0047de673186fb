"""The per-run record table goes (its rows are versions now); sequence numbers are unique per
connection; the staging table is tuned per database (see tune_stage)."""

from django.db import migrations, models


def tune_stage(apps, schema_editor):
    """PostgreSQL: UNLOGGED, no index (publishing uses hash joins). SQLite: an index on (run, key)
    for its nested loops, left out of the model on purpose so PostgreSQL does not pay for it."""
    table = schema_editor.quote_name(apps.get_model("connections", "SyncStage")._meta.db_table)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {table} SET UNLOGGED")
    else:
        schema_editor.execute(f"CREATE INDEX sync_stage_run_key ON {table} (run_id, {schema_editor.quote_name('key')})")


def untune_stage(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS sync_stage_run_key")


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0009_fold_sync_records"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="syncrun",
            constraint=models.UniqueConstraint(fields=("connection", "seq"), name="one_sync_seq_per_connection"),
        ),
        migrations.DeleteModel(name="SyncRecord"),
        migrations.RunPython(tune_stage, untune_stage),
    ]
