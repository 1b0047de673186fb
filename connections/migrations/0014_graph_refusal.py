"""A Graph refusal gets a home of its own (GraphRefusal, one per connection) instead of two columns of
the token row; the refusal each token row held moves across, then the columns go."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def move_refusals_off_the_token_rows(apps, schema_editor):
    ConnectionToken = apps.get_model("connections", "ConnectionToken")
    GraphRefusal = apps.get_model("connections", "GraphRefusal")
    now = django.utils.timezone.now()
    for token in ConnectionToken.objects.exclude(graph_error={}).iterator():
        stored = token.graph_error if isinstance(token.graph_error, dict) else {}
        if not stored:
            continue
        GraphRefusal.objects.update_or_create(
            connection_id=token.connection_id,
            defaults={
                "refused_at": token.graph_error_at or now,
                "status": int(stored.get("status") or 0),
                "entity": str(stored.get("entity") or "")[:300],
                "body": stored.get("body"),
                "headers": stored.get("headers") or {},
                "diagnosis": stored.get("diagnosis") or {},
                "resolved": bool(stored.get("resolved")),
                "token_kind": str(stored.get("token_kind") or "")[:10],
                "token_permissions": stored.get("token_permissions") or [],
                "granted": stored.get("granted"),
            },
        )


def move_refusals_back(apps, schema_editor):
    ConnectionToken = apps.get_model("connections", "ConnectionToken")
    GraphRefusal = apps.get_model("connections", "GraphRefusal")
    for refusal in GraphRefusal.objects.iterator():
        stored = {
            "diagnosis": refusal.diagnosis,
            "status": refusal.status,
            "body": refusal.body,
            "headers": refusal.headers,
            "token_permissions": refusal.token_permissions,
            "token_kind": refusal.token_kind,
            "entity": refusal.entity,
            "granted": refusal.granted,
        }
        if refusal.resolved:
            stored["resolved"] = True
        ConnectionToken.objects.filter(connection_id=refusal.connection_id).update(
            graph_error=stored, graph_error_at=refusal.refused_at
        )


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0012_merge_sync_store"),
    ]

    operations = [
        migrations.CreateModel(
            name="GraphRefusal",
            fields=[
                (
                    "connection",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="last_refusal",
                        serialize=False,
                        to="connections.connection",
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        blank=True, choices=[("test", "Test connection"), ("sync", "Sync")], max_length=10
                    ),
                ),
                ("refused_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("status", models.PositiveSmallIntegerField(help_text="Graph's HTTP status")),
                (
                    "entity",
                    models.CharField(blank=True, help_text="the entity path read when Graph refused", max_length=300),
                ),
                (
                    "body",
                    models.JSONField(
                        blank=True, help_text="Graph's error body (no secrets: Graph sends none)", null=True
                    ),
                ),
                (
                    "headers",
                    models.JSONField(blank=True, default=dict, help_text="request-id, client-request-id and date"),
                ),
                (
                    "diagnosis",
                    models.JSONField(
                        blank=True, default=dict, help_text="what the page shows, reassessed after a re-fetch"
                    ),
                ),
                (
                    "resolved",
                    models.BooleanField(default=False, help_text="a re-fetched token now carries what was missing"),
                ),
                ("token_kind", models.CharField(blank=True, help_text="app or delegated", max_length=10)),
                (
                    "token_permissions",
                    models.JSONField(
                        blank=True, default=list, help_text="the permissions of the token the diagnosis last compared"
                    ),
                ),
                (
                    "granted",
                    models.JSONField(
                        blank=True,
                        help_text="the app's granted permissions when diagnosed; null when unreadable",
                        null=True,
                    ),
                ),
            ],
        ),
        migrations.RunPython(move_refusals_off_the_token_rows, move_refusals_back),
        migrations.RemoveField(
            model_name="connectiontoken",
            name="graph_error",
        ),
        migrations.RemoveField(
            model_name="connectiontoken",
            name="graph_error_at",
        ),
    ]
