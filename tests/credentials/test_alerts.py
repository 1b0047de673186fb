"""Alerts people receive: credential expiry read from the sandbox's Entra, one alert per state change
(webhook to a local HTTPS receiver, email), sync failures alerted once and "recovered" once, and
channels whose host is not allowed refused at save."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from connections import jobs, tasks
from connections.models import Alert, AlertDelivery, CredentialCheck, NotificationChannel
from tests.factories import add_channels, mails, press_sync, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_secret_ending_in_5_days_is_listed_and_alerted_once_and_rotation_clears_it(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, run_job, receiver, worker_mail_dir
):
    client = login(admin_a)
    add_channels(client, team_a, receiver)
    ends = timezone.now() + dt.timedelta(days=5)
    app = sandbox_app(roles=["User.Read.All", "Application.Read.All"], secret_expires=ends.isoformat())
    conn = sandbox_connection(team_a, app, name="expiring")

    assert run_job(client, conn, "token_fetch").state == "succeeded"

    hooks = receiver.wait_for(1)
    wait_until(lambda: len(mails(worker_mail_dir)) == 1)
    listing = client.get(reverse("connections:list")).content.decode()
    assert ">5 days left<" in listing and "read from Entra ID" in listing
    assert len(hooks) == 1
    card = hooks[0]["json"]["attachments"][0]["content"]
    text = " ".join(block["text"] for block in card["body"])
    assert "expires in 5 days" in text and card["actions"][0]["url"].endswith(f"/connections/{conn.pk}/")
    assert app["client_secret"] not in str(hooks[0]) and app["client_secret"] not in mails(worker_mail_dir)[0]
    assert "expires in 5 days" in mails(worker_mail_dir)[0] and "ops@example.test" in mails(worker_mail_dir)[0]

    # The next day's check (the daily beat task, run here to its end) reads Entra again: 4 days, same
    # level. It records no new alert, and channels are only ever sent a recorded alert, so nothing
    # more is on its way to the receiver or the mailbox.
    checked = CredentialCheck.objects.get(connection=conn).checked_at
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    tasks.check_credentials.apply(kwargs={"today": tomorrow})
    assert CredentialCheck.objects.get(connection=conn).checked_at > checked
    assert Alert.objects.filter(connection=conn).count() == 1
    assert len(receiver.received) == 1 and len(mails(worker_mail_dir)) == 1

    # Rotation: a new secret in Entra, the old one deleted, the new value saved with the connection.
    new = clean_sandbox.control.post(
        f"/_sandbox/apps/{app['client_id']}/secrets", {"expires": (timezone.now() + dt.timedelta(days=180)).isoformat()}
    )
    clean_sandbox.control.delete(f"/_sandbox/apps/{app['client_id']}/credentials/{app['secret_id']}")
    conn.client_secret = new["client_secret"]
    conn.save()
    assert run_job(client, conn, "token_refetch").state == "succeeded"

    renewed = receiver.wait_for(2)
    listing = client.get(reverse("connections:list")).content.decode()
    assert ">5 days left<" not in listing and ">180 days left<" in listing
    assert [a.event for a in Alert.objects.filter(connection=conn).order_by("created_at")] == [
        "credential_7",
        "credential_renewed",
    ]
    assert len(renewed) == 2
    page = client.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert "used by this connection" in page and new["client_secret"][:3] in page


def test_an_app_owning_itself_reads_its_expiry_with_owned_by(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, run_job
):
    ends = timezone.now() + dt.timedelta(days=20)
    app = sandbox_app(roles=["User.Read.All", "Application.ReadWrite.OwnedBy"], secret_expires=ends.isoformat())
    clean_sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/owners", {})
    conn = sandbox_connection(team_a, app, name="owned by")
    client = login(admin_a)

    assert run_job(client, conn, "token_fetch").state == "succeeded"

    page = client.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert "20 days left" in page and "read from Entra ID" in page and "could not be asked" not in page


def test_without_permission_to_read_the_app_the_typed_date_stays_and_the_page_says_why(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, run_job
):
    app = sandbox_app(roles=["User.Read.All"])
    typed = timezone.localdate() + dt.timedelta(days=40)
    conn = sandbox_connection(team_a, app, name="no app read", secret_expires_on=typed)
    client = login(admin_a)

    assert run_job(client, conn, "token_fetch").state == "succeeded"

    page = client.get(reverse("connections:detail", args=[conn.pk])).content.decode()
    assert "Entra ID could not be asked" in page and "Application.Read.All" in page
    assert "40 days left" in page and "entered by hand" in page


def test_a_sync_failing_three_times_alerts_once_and_recovered_once(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, wait_for_run, wait_for_job, receiver
):
    client = login(admin_a)
    add_channels(client, team_a, receiver, kind="slack")
    app = sandbox_app(roles=["User.Read.All"], requested_roles=["Group.Read.All"])
    conn = sandbox_connection(team_a, app, name="groups alerts", entity="groups")

    for _ in range(3):
        assert wait_for_run(press_sync(client, conn)).status == "failed"
    hooks = receiver.wait_for(1)
    assert len(receiver.received) == 1
    assert "groups alerts: sync failed" in hooks[0]["json"]["text"]

    # The channel's service is down when the recovery is sent: the sync still succeeds, the channel
    # is shown as failing.
    receiver.status = 500
    clean_sandbox.control.post(f"/_sandbox/apps/{app['client_id']}/grants", {"roles": ["Group.Read.All"]})
    assert wait_for_job(jobs.start(conn, "token_refetch", admin_a).pk).state == "succeeded"
    assert wait_for_run(press_sync(client, conn)).status == "succeeded"

    # The next hook is the recovery, and the database holds no other alert: the three failures
    # were alerted once.
    hooks = receiver.wait_for(2)
    assert "works again" in hooks[1]["json"]["text"]
    assert [a.event for a in Alert.objects.filter(connection=conn).order_by("created_at")] == [
        "sync_failed",
        "sync_recovered",
    ]
    wait_until(lambda: NotificationChannel.objects.get(name="Ops hook").status == "failing")
    page = client.get(reverse("connections:alerts")).content.decode()
    assert "failing" in page and "answered HTTP 500" in page
    assert receiver.url("/hook") not in page  # a webhook URL is a secret: only its host is shown
    assert AlertDelivery.objects.filter(channel__name="Ops mail", ok=True).count() == 2


def test_token_fetches_failing_twice_alert_once_and_recovered_once(
    clean_sandbox, sandbox_app, sandbox_connection, team_a, admin_a, login, run_job, receiver
):
    client = login(admin_a)
    add_channels(client, team_a, receiver, kind="webhook")
    app = sandbox_app(roles=["User.Read.All"])
    conn = sandbox_connection(team_a, app, name="bad secret", secret="wrong~secret-value-0123456789abcdefghij")

    for _ in range(2):
        assert run_job(client, conn, "token_refetch").state == "failed"
    conn.client_secret = app["client_secret"]
    conn.save()
    assert run_job(client, conn, "token_refetch").state == "succeeded"

    # Every fetch has finished, so the alerts it recorded are all there are, and a channel is sent
    # only recorded alerts: these two hooks are the whole story.
    assert [a.event for a in Alert.objects.filter(connection=conn).order_by("created_at")] == [
        "token_failed",
        "token_recovered",
    ]
    hooks = receiver.wait_for(2)
    assert [h["json"]["event"] for h in receiver.received] == ["token_failed", "token_recovered"]
    assert "The client secret is wrong" in hooks[0]["json"]["text"]
    assert app["client_secret"] not in str(receiver.received)
    assert hooks[0]["json"]["link"].endswith(f"/connections/{conn.pk}/")


@pytest.mark.parametrize(
    "url,message",
    [
        ("https://hooks.example.net/services/T000/B000/XXXX", "is not in ALERT_WEBHOOK_HOSTS"),
        ("http://hooks.slack.com/services/T000/B000/XXXX", "Only https://"),
    ],
)
def test_a_webhook_on_a_host_that_is_not_allowed_is_refused_at_save(team_a, admin_a, login, url, message):
    response = login(admin_a).post(
        reverse("connections:channel_new"), {"team": team_a.pk, "name": "Elsewhere", "kind": "webhook", "url": url}
    )
    assert response.status_code == 200
    assert message in response.context["form"].errors["url"][0]
    page = response.content.decode()
    assert 'class="field-error"' in page and url not in page
    assert not NotificationChannel.objects.exists()


TEAMS_URLS = [
    "https://contoso.webhook.office.com/webhookb2/1a2b/IncomingWebhook/3c4d/5e6f",
    "https://prod-23.westeurope.logic.azure.com:443/workflows/0f1e/triggers/manual/paths/invoke?api-version=2016-06-01&sig=abc",
    "https://942ead725f3ae61fb3309f7e87a28a.4a.environment.api.powerplatform.com:443/powerautomate/automations/direct/"
    "workflows/b950/triggers/manual/paths/invoke?api-version=1&sig=abc",
]


@pytest.mark.parametrize("url", TEAMS_URLS)
def test_a_teams_channel_accepts_microsofts_webhook_and_workflows_urls_by_default(team_a, admin_a, login, url):
    response = login(admin_a).post(
        reverse("connections:channel_new"), {"team": team_a.pk, "name": "Teams", "kind": "teams", "url": url}
    )
    assert response.status_code == 302, response.context["form"].errors
    assert NotificationChannel.objects.get(name="Teams").kind == "teams"


def test_teams_hosts_are_for_teams_channels_and_a_refusal_says_what_to_set(team_a, admin_a, login):
    client = login(admin_a)
    response = client.post(
        reverse("connections:channel_new"),
        {"team": team_a.pk, "name": "Generic", "kind": "webhook", "url": TEAMS_URLS[0]},
    )
    assert "an administrator adds the host to ALERT_WEBHOOK_HOSTS" in response.context["form"].errors["url"][0]
    response = client.post(
        reverse("connections:channel_new"),
        {"team": team_a.pk, "name": "Teams", "kind": "teams", "url": "https://teams.example.net/hook"},
    )
    assert "ALERT_TEAMS_WEBHOOK_HOSTS" in response.context["form"].errors["url"][0]
    assert "Workflows (Power Automate)" in client.get(reverse("connections:alerts")).content.decode()
    assert not NotificationChannel.objects.exists()


def test_the_test_button_sends_to_each_channel(team_a, admin_a, viewer_a, login, receiver):
    client = login(admin_a)
    add_channels(client, team_a, receiver, kind="webhook")
    hook, email = NotificationChannel.objects.order_by("name")

    client.post(reverse("connections:channel_test", args=[hook.pk]))
    client.post(reverse("connections:channel_test", args=[email.pk]))

    assert receiver.received[0]["json"]["event"] == "test"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.test"]
    page = client.get(reverse("connections:alerts")).content.decode()
    assert page.count("working") == 2
    assert login(viewer_a).post(reverse("connections:channel_test", args=[hook.pk])).status_code == 403
