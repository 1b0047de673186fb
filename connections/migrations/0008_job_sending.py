from django.db import migrations, models
from django.db.models import F


def existing_jobs_were_sent(apps, schema_editor):
    """Jobs from before this migration were handed to the broker when they were created."""
    apps.get_model("connections", "Job").objects.filter(sent_at__isnull=True).update(sent_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0007_login_failures"),
    ]

    operations = [
        migrations.AddField(model_name="job", name="task_name", field=models.CharField(blank=True, max_length=200)),
        migrations.AddField(model_name="job", name="task_args", field=models.JSONField(blank=True, default=list)),
        migrations.AddField(
            model_name="job",
            name="sent_at",
            field=models.DateTimeField(
                blank=True, help_text="when the broker took the task; empty: not yet", null=True
            ),
        ),
        migrations.AddField(model_name="job", name="send_failures", field=models.PositiveIntegerField(default=0)),
        migrations.RunPython(existing_jobs_were_sent, migrations.RunPython.noop),
        migrations.AddIndex(model_name="job", index=models.Index(fields=["state", "sent_at"], name="job_unsent_idx")),
    ]
