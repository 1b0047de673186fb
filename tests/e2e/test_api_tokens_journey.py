"""The API tokens page in a real browser: a person creates a token, sees its value once with a Copy
button, uses it from a script, finds it listed without its value, and revokes it."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.e2e.test_accessibility import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_use_and_revoke_a_personal_token(operator_a, connection_a, browser_as):
    page = browser_as(operator_a)
    page.goto("/")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    page.get_by_label("Name").fill("nightly export")
    page.get_by_label("Valid for (days)").fill("30")
    page.get_by_role("button", name="Create token").click()

    shown = page.locator("[data-token-value]")
    expect(shown).to_be_visible()
    value = shown.inner_text().strip()
    assert re.fullmatch(r"gcp_[A-Za-z0-9_-]{43}", value)
    expect(page.get_by_role("button", name="Copy the new token")).to_be_visible()
    assert axe_violations(page) == []

    answer = Client().get("/api/v1/connections", HTTP_AUTHORIZATION=f"Bearer {value}")
    assert answer.status_code == 200 and answer.json()["items"][0]["id"] == str(connection_a.pk)

    page.goto("/accounts/tokens/")
    row = page.locator("tr", has_text="nightly export")
    expect(row).to_contain_text(value[:12])
    assert value not in page.content()
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("tr", has_text="nightly export")).to_contain_text("revoked")
    assert Client().get("/api/v1/connections", HTTP_AUTHORIZATION=f"Bearer {value}").status_code == 401


def test_the_browsable_api_docs_render_under_the_content_security_policy(operator_a, browser_as):
    page = browser_as(operator_a)
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui")).to_be_visible()
    expect(page.get_by_text("/api/v1/connections/{pk}/sync").first).to_be_visible(timeout=10_000)
