"""Journey 7 in a real browser: a viewer sees the connection but no operator or admin buttons, and
another team's connection is a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

OPERATOR_BUTTONS = ("Test connection", "Get access token", "Re-fetch token", "Sync now", "Sign in with Microsoft")


def test_viewer_sees_the_connection_but_no_operator_buttons(connection_a, connection_b, viewer_a, browser_as):
    page = browser_as(viewer_a)
    page.goto(reverse("connections:detail", args=[connection_a.pk]))

    expect(page.get_by_role("heading", name=connection_a.name)).to_be_visible()
    expect(page.locator(".token-panel")).to_contain_text("Your role in Team A is viewer")
    expect(page.locator("#sync-panel")).to_contain_text("starting a sync needs the operator role")
    for name in OPERATOR_BUTTONS:
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.locator("[hx-post]")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete…")).to_have_count(0)

    response = page.goto(reverse("connections:detail", args=[connection_b.pk]))
    assert response is not None and response.status == 404
