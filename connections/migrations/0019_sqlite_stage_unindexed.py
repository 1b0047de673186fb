"""SQLite's staging table loses its (run, key) index: keeping it up to date row by row made
staging a full run cost several times the download. Publishing builds the index it needs inside
its own transaction (``store.publish_full``). PostgreSQL's stage never had one."""

from django.db import migrations


def drop_stage_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS sync_stage_run_key")


def restore_stage_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        table = schema_editor.quote_name(apps.get_model("connections", "SyncStage")._meta.db_table)
        schema_editor.execute(f"CREATE INDEX sync_stage_run_key ON {table} (run_id, {schema_editor.quote_name('key')})")


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0018_sync_run_throttle"),
    ]

    operations = [
        migrations.RunPython(drop_stage_index, restore_stage_index),
    ]
