"""Rebuild the shipped Microsoft Graph permission data from Microsoft's reference files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from graphpermissions import build


class Command(BaseCommand):
    help = (
        "Derive graphpermissions/graph_permissions.json from Microsoft Graph's permission reference "
        "(permissions.json and provisioningInfo.json; default: graphpermissions/source/)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("folder", nargs="?", type=Path, default=build.SOURCE_FOLDER)
        parser.add_argument(
            "--commit",
            default=build.SOURCE_COMMIT,
            help="the commit of microsoftgraph/microsoft-graph-devx-content the files come from",
        )

    def handle(self, *args: Any, folder: Path, commit: str, **options: Any) -> None:
        missing = [n for n in ("permissions.json", "provisioningInfo.json") if not (folder / n).is_file()]
        if missing:
            raise CommandError(f"{folder} lacks {', '.join(missing)}.")
        try:
            counts = build.build(folder, commit=commit)
        except (ValueError, KeyError) as exc:
            raise CommandError(f"The reference files could not be read: {exc}") from exc
        self.stdout.write(
            f"{counts['permissions']} permissions, {counts['paths']} paths, {counts['bytes']} bytes "
            f"written to {build.DATA_FILE}"
        )
