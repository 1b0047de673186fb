"""Django's ``{# #}`` comment ends at the line's end: one that spans lines is shown to every reader
as text. The browser tests (tests/e2e/test_accessibility.py) also look for leaked template text."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
OPEN_COMMENT = re.compile(r"\{#(?![^\n]*#\})")


def test_no_template_comment_spans_lines():
    unclosed = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OPEN_COMMENT.search(line)
    ]
    assert not unclosed, f"{{# … #}} comments that span lines (use {{% comment %}}): {unclosed}"
