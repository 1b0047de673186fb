"""The alert channel form: a team's email list or webhook (its URL write-only)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from connections.alerts import channels
from connections.credentials.forms import write_only_secret
from connections.models import NotificationChannel
from microsoft import outbound


class ChannelForm(forms.ModelForm):
    """A team's notification channel. The webhook URL is write-only (it alone lets anyone post)."""

    url = write_only_secret(
        "Webhook URL",
        "https://… as the service shows it; never shown again. Microsoft Teams: a Workflows (Power Automate) "
        "or incoming webhook URL (*.environment.api.powerplatform.com, *.logic.azure.com, *.webhook.office.com). "
        "Slack: hooks.slack.com. Any other host: an administrator adds it to ALERT_WEBHOOK_HOSTS.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["team", "name", "kind", "emails"]
        help_texts = {"emails": "Email only: addresses separated by commas."}

    def __init__(self, *args: Any, teams: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        team = cast(forms.ModelChoiceField, self.fields["team"])
        team.queryset = teams
        team.empty_label = None
        self.order_fields(["team", "name", "kind", "url", "emails"])

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_emails(self) -> str:
        addresses = [a.strip() for a in (self.cleaned_data.get("emails") or "").split(",") if a.strip()]
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(f"“{address}” is not an email address.") from None
        return ", ".join(addresses)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what the form's own clean() left (it returns that dict)
        kind, url = data.get("kind"), (data.get("url") or "").strip()
        if kind == NotificationChannel.Kind.EMAIL:
            if not data.get("emails") and not self.has_error("emails"):
                self.add_error("emails", "Enter at least one email address.")
        elif kind:
            if not url:
                self.add_error("url", "Enter the webhook URL.")
            else:
                try:
                    data["host"] = channels.check_webhook_url(url, kind)
                except outbound.DisallowedURL as error:
                    self.add_error("url", error.message)
        team, name = data.get("team"), data.get("name")
        if team and name and NotificationChannel.objects.filter(team=team, name__iexact=name).exists():
            self.add_error("name", f"{team} already has a channel named “{name}”.")
        return data

    def save(self, commit: bool = True) -> NotificationChannel:
        channel = super().save(commit=False)
        if channel.kind != NotificationChannel.Kind.EMAIL:
            channel.url, channel.host, channel.emails = self.cleaned_data["url"].strip(), self.cleaned_data["host"], ""
        else:
            channel.url, channel.host = "", ""
        channel.created_by = self.user
        if commit:
            channel.save()
        return channel
