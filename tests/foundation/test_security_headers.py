"""Every HTML page carries a Content-Security-Policy that allows no inline code and no eval."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cast import make_user

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def test_html_pages_carry_a_strict_policy(client):
    client.force_login(make_user("alice", password="x" * 20))
    for url in ("/", "/accounts/login/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy


def test_json_answers_are_left_alone(client):
    assert "Content-Security-Policy" not in client.get("/healthz")


def test_templates_have_no_inline_scripts_styles_or_handlers():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
