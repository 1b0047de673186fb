from __future__ import annotations

from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Graph connections"

    def ready(self) -> None:
        import connections.alerts.signals  # noqa: F401  (a starting worker sends waiting alerts)
        from connections import tasks  # noqa: F401  (declares the job kinds: the pages queue them by kind)
        from connections.jobs import signals  # noqa: F401  (Celery signal handlers that keep Job rows current)
        from connections.throttle import configure

        configure()  # every Graph GET of this process draws from the shared throttle budget
