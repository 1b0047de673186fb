"""The sync schedule form on the detail page: off, every N minutes or hours, or a cron expression
in a time zone. Validation is ``schedules.save``'s; this only turns fields into its arguments."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import forms
from django.utils.choices import BaseChoiceIterator

from connections.models import SyncSchedule
from connections.syncs import schedules


class _TimeZones(BaseChoiceIterator):
    """Every time zone as a choice, built once (not normalised and deep-copied for every form)."""

    def __iter__(self):
        return iter(_zone_choices())


@lru_cache(maxsize=1)
def _zone_choices() -> tuple[tuple[str, str], ...]:
    return tuple((name, name) for name in schedules.time_zones())


MODES = [("off", "Off (started by hand only)"), ("interval", "Every …"), ("cron", "Cron expression")]


class SyncScheduleForm(forms.Form):
    mode = forms.ChoiceField(choices=MODES, widget=forms.RadioSelect, initial="off")
    every = forms.IntegerField(
        min_value=1, max_value=schedules.MAX_EVERY["minutes"], initial=60, required=False, widget=forms.NumberInput
    )
    unit = forms.ChoiceField(
        choices=[("minutes", "minutes"), ("hours", "hours")], initial="minutes", required=False, widget=forms.Select
    )
    cron = forms.CharField(
        max_length=100,
        required=False,
        label="Cron expression",
        widget=forms.TextInput,
        help_text="minute hour day-of-month month day-of-week, e.g. 30 6 * * 1-5",
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        initial="UTC",
        required=False,
        widget=forms.Select,
        choices=_TimeZones(),
        help_text="Cron times are read in this zone; the next run is shown in it.",
    )

    def __init__(self, *args: Any, schedule: SyncSchedule | None = None, **kwargs: Any) -> None:
        if schedule is not None and not kwargs.get("data") and not args:
            kwargs["initial"] = {
                "mode": schedule.kind if schedule.enabled else "off",
                "every": schedule.every,
                "unit": schedule.unit if schedule.unit != "seconds" else "minutes",
                "cron": schedule.cron,
                "time_zone": schedule.timezone,
            }
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what the form's own clean() left (it returns that dict)
        mode = data.get("mode")
        if mode == "interval" and not data.get("every"):
            self.add_error("every", "Say how often: a whole number of minutes or hours.")
        if mode == "cron":
            try:
                schedules.check_cron(data.get("cron") or "")
            except schedules.ScheduleError as error:
                self.add_error("cron", str(error))
        if mode != "off" and not data.get("time_zone"):
            data["time_zone"] = "UTC"
        return data

    def save(self, connection: Any, user: Any) -> SyncSchedule | None:
        data = self.cleaned_data
        if data["mode"] == "off":
            schedule = SyncSchedule.objects.filter(connection=connection).first()
            if schedule is not None and schedule.enabled:
                return schedules.save(
                    connection,
                    kind=schedule.kind,
                    every=schedule.every,
                    unit=schedule.unit,
                    cron=schedule.cron,
                    time_zone=schedule.timezone,
                    enabled=False,
                    user=user,
                )
            return schedule
        return schedules.save(
            connection,
            kind=data["mode"],
            every=data.get("every") or 60,
            unit=data.get("unit") or "minutes",
            cron=data.get("cron") or "",
            time_zone=data["time_zone"],
            enabled=True,
            user=user,
        )
