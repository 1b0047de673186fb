# Job.kind gets its choices (Job.Kind); the stored values are the ones already written, so no data changes.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0012_merge_sync_store"),
    ]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="kind",
            field=models.CharField(
                choices=[
                    ("token_fetch", "Get access token"),
                    ("token_refetch", "Re-fetch token"),
                    ("token_refresh", "Automatic refresh"),
                    ("test", "Test connection"),
                    ("sync", "Sync"),
                    ("ping", "Ping"),
                ],
                max_length=40,
            ),
        ),
    ]
