"""Times as people read them: ``{% when run.finished_at %}`` and ``{{ value|relative }}`` (library.times)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from connections.library.times import When, relative

register = template.Library()

register.filter("relative", relative)


@register.inclusion_tag("connections/_when.html")
def when(value: Any) -> dict[str, Any]:
    """A ``<time>`` saying how long ago (or how soon), with the exact UTC time on hover."""
    if isinstance(value, dt.datetime):
        return {"w": When.of(value)}
    return {"w": None, "text": "" if value is None else value}
