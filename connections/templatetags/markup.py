"""What the tags that write table rows in Python share (not a tag library: it registers nothing)."""

from __future__ import annotations

import html
from typing import Any

from django.urls import reverse

# UUIDs no connection or run has: a link is reversed once per table with them and filled in per row
# (a reverse per row cost a twentieth of the list, and as much as the rest of a runs table's row).
MARKS = ("00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001")


def escape(value: Any) -> str:
    """Escaped as the template escaped it (Django's ``escape`` is this, without its lazy-string wrapper)."""
    return html.escape(str(value))


class UrlPattern:
    """``reverse(name, args=[...])`` for many rows, reversed once: ``UrlPattern(name, 2).fill(a, b)``."""

    def __init__(self, name: str, args: int = 1) -> None:
        self.marks = MARKS[:args]
        self.pattern = reverse(name, args=list(self.marks))

    def fill(self, *values: Any) -> str:
        url = self.pattern
        for mark, value in zip(self.marks, values, strict=True):
            url = url.replace(mark, str(value))
        return escape(url)
