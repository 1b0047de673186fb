from django.db import migrations, models
from django.db.models import F


def mark_existing_sent(apps, schema_editor):
    """Alerts recorded before this field existed were handed over (or lost) long ago: not re-sent."""
    apps.get_model("connections", "Alert").objects.update(sent_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("connections", "0015_merge_job_kinds_graph_refusal")]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="sent_at",
            field=models.DateTimeField(blank=True, help_text="when the broker took it; empty: not yet", null=True),
        ),
        migrations.AddField(
            model_name="alert",
            name="send_failures",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["sent_at"], name="alert_unsent_idx"),
        ),
        migrations.RunPython(mark_existing_sent, migrations.RunPython.noop),
    ]
