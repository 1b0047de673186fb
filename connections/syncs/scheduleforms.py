"""The sync schedule form on the detail page: off, every N minutes or hours, or a cron expression
in a time zone. Validation is ``schedules.save``'s; this only turns fields into its arguments."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer
from django.utils.choices import BaseChoiceIterator
from django.utils.safestring import SafeString

from connections.models import SyncSchedule
from connections.syncs import schedules

_RENDERED: dict[tuple, SafeString] = {}


class RenderedOnce(forms.Widget):
    """Widget mixin: a widget's HTML depends only on its class, name, value, attributes and choices, so
    each combination is rendered once and then reused. Django renders every widget and every option
    through templates on each page: the ~600 time zones alone cost more than the rest of the
    connection page, the other four fields about a tenth of it."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: BaseRenderer | None = None
    ) -> SafeString:
        shown = self.format_value(value)
        key = (
            type(self),
            name,
            tuple(shown) if isinstance(shown, list) else shown,
            tuple(sorted(self.build_attrs(self.attrs, attrs).items())),
            tuple(getattr(self, "choices", ())),
            self.is_required,
            renderer,
        )
        return _once(key, lambda: super(RenderedOnce, self).render(name, value, attrs, renderer))

    def _render(self, template_name: str, context: dict[str, Any], renderer: BaseRenderer | None = None) -> SafeString:
        """A page that lays out the options itself (``{% for choice in form.mode %}{{ choice.tag }}``)
        renders each option on its own: those are reused too. (``Widget._render`` is not in the stubs.)"""
        widget = context.get("widget", {})
        if template_name == self.template_name or not isinstance(widget, dict):
            return super()._render(template_name, context, renderer)  # type: ignore[misc]
        key = (type(self), template_name, _frozen(widget), renderer)
        return _once(key, lambda: super(RenderedOnce, self)._render(template_name, context, renderer))  # type: ignore[misc]


def _once(key: tuple, render: Any) -> SafeString:
    html = _RENDERED.get(key)
    if html is None:
        if len(_RENDERED) >= 256:  # typed values (every, cron) make new keys: stay bounded
            _RENDERED.clear()
        html = _RENDERED[key] = render()
    return html


def _frozen(value: Any) -> Any:
    """A hashable copy of a widget's context (dicts, lists and plain values)."""
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    return value


class _RadioSelect(RenderedOnce, forms.RadioSelect):
    pass


class _NumberInput(RenderedOnce, forms.NumberInput):
    pass


class _Select(RenderedOnce, forms.Select):
    pass


class _TextInput(RenderedOnce, forms.TextInput):
    pass


class _TimeZones(BaseChoiceIterator):
    """Every time zone as a choice, built once (not normalised and deep-copied for every form)."""

    def __iter__(self):
        return iter(_zone_choices())


@lru_cache(maxsize=1)
def _zone_choices() -> tuple[tuple[str, str], ...]:
    return tuple((name, name) for name in schedules.time_zones())


MODES = [("off", "Off (started by hand only)"), ("interval", "Every …"), ("cron", "Cron expression")]


class SyncScheduleForm(forms.Form):
    mode = forms.ChoiceField(choices=MODES, widget=_RadioSelect, initial="off")
    every = forms.IntegerField(
        min_value=1, max_value=schedules.MAX_EVERY["minutes"], initial=60, required=False, widget=_NumberInput
    )
    unit = forms.ChoiceField(
        choices=[("minutes", "minutes"), ("hours", "hours")], initial="minutes", required=False, widget=_Select
    )
    cron = forms.CharField(
        max_length=100,
        required=False,
        label="Cron expression",
        widget=_TextInput,
        help_text="minute hour day-of-month month day-of-week, e.g. 30 6 * * 1-5",
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        initial="UTC",
        required=False,
        widget=_Select,
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
