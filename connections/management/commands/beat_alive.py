"""Exit 0 when ``celery beat`` has fired recently (the container health check of the beat service).

With the database scheduler beat keeps no schedule file; it stores each entry's last run in the
database. The token refresher fires every minute, and beat writes its state back at least every
few minutes, so an entry seen within ``--minutes`` means beat is alive.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask


class Command(BaseCommand):
    help = "Exit 0 if beat fired a periodic task within the last N minutes (default 10)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--minutes", type=int, default=10)

    def handle(self, *args, **options) -> None:
        since = timezone.now() - timedelta(minutes=options["minutes"])
        if not PeriodicTask.objects.filter(last_run_at__gte=since).exists():
            raise CommandError(f"beat has not fired any periodic task in the last {options['minutes']} minutes")
        self.stdout.write("beat alive")
