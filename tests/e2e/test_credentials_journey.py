"""In a real browser: switch a connection to a certificate, see every credential's expiry read from
the sandbox's Entra without a reload, add a Slack and an email channel, and get exactly one alert."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from connections.models import Alert, ConnectionToken
from tests.e2e.pages import assert_not_reloaded, button, mark_page, press_job_button, token_panel, wait_for_job
from tests.factories import make_cert

pytestmark = pytest.mark.django_db(transaction=True)


def test_certificate_entra_expiry_channels_and_one_alert(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, browser_as, live_worker, webhook_receiver, tmp_path
):
    webhook_receiver.clear()
    cert = make_cert(cn="browser journey", days=5)
    app = sandbox_app(roles=["User.Read.All", "Application.Read.All"], certificate=cert)
    connection = sandbox_connection(team_a, app, name="journey")
    pfx = tmp_path / "journey.pfx"
    pfx.write_bytes(cert.pkcs12("journey-pw"))
    page = browser_as(admin_a)

    # Channels first: a Slack webhook on an allowed host, and an email address.
    page.goto(reverse("connections:alerts"))
    page.get_by_label("Name").fill("Ops Slack")
    page.get_by_label("Kind").select_option("slack")
    page.get_by_label("Webhook URL").fill(webhook_receiver.url("/slack"))
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator(".message.success")).to_contain_text("Ops Slack")
    page.get_by_label("Name").fill("Ops mail")
    page.get_by_label("Kind").select_option("email")
    page.get_by_label("Email addresses").fill("ops@example.test")
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("tr[data-channel]")).to_have_count(2)
    button(page.locator("tr[data-channel]", has_text="Ops Slack"), "Send test").click()
    expect(page.locator(".message.success")).to_contain_text("test alert was sent")
    assert webhook_receiver.wait_for(1)[0]["json"]["text"].startswith("*graphconn: test alert*")

    # Switch the connection to the certificate (PKCS#12 with its password).
    page.goto(reverse("connections:detail", args=[connection.pk]))
    page.get_by_role("button", name="Use a certificate").click()
    page.get_by_label("…or a PKCS#12 file (.pfx/.p12)").set_input_files(str(pfx))
    page.get_by_label("Password of the PKCS#12 file or the encrypted key").fill("journey-pw")
    page.get_by_role("button", name="Save certificate and use it").click()
    panel = page.locator("#credentials-panel")
    expect(panel).to_contain_text("certificate (private_key_jwt)")
    expect(panel).to_contain_text(cert.thumbprint)
    expect(panel).to_contain_text("Not read yet")

    # A token with the certificate; Entra's list of the app's credentials appears without a reload.
    url = page.url
    mark_page(page)
    job = wait_for_job(page, press_job_button(page, button(token_panel(page), "Get access token"), "/token/fetch/"))
    expect(job.locator(".badge[data-state]")).to_have_text("Succeeded")
    expect(panel).to_contain_text("used by this connection")
    expect(panel.locator("table.app-credentials tbody tr")).to_have_count(2)  # the app's secret and its certificate
    expect(panel).to_contain_text("5 days left")
    assert_not_reloaded(page, url)
    assert ConnectionToken.objects.get(connection=connection).is_valid

    # Exactly one alert for the expiring certificate, delivered to the Slack channel. The fetch has
    # finished, so the database holds every alert it recorded, and a channel is sent only those.
    assert list(Alert.objects.values_list("event", flat=True)) == ["credential_7"]
    received = webhook_receiver.wait_for(2)
    assert len(webhook_receiver.received) == 2
    assert "journey: certificate 5 days left" in received[1]["json"]["text"]
    page.goto(reverse("connections:list"))
    row = page.locator("tr", has_text="journey")
    expect(row).to_contain_text("Certificate")
    expect(row.locator(".badge.bad", has_text="5 days left")).to_be_visible()
    page.goto(reverse("connections:alerts"))
    expect(page.locator("tr[data-event=credential_7]")).to_contain_text("journey")
