"""The date range and source filter every report takes from its URL.

`?range=this_month|30d|90d|this_year|custom&start=YYYY-MM-DD&end=YYYY-MM-DD&source=website`.
Days are the owner's days (`OWNER_TIMEZONE`): "this month" starts at midnight on the 1st there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.utils import timezone

RANGE_CHOICES = [
    ("this_month", "This month"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("this_year", "This year"),
    ("custom", "Custom"),
]
DEFAULT_RANGE = "30d"
MAX_CUSTOM_DAYS = 366 * 5


def owner_zone() -> ZoneInfo:
    return ZoneInfo(settings.OWNER_TIMEZONE)


def owner_today() -> date:
    return timezone.now().astimezone(owner_zone()).date()


@dataclass(frozen=True)
class Period:
    """Owner-zone days `start`..`end` (both included), optionally one lead source."""

    key: str
    start: date
    end: date
    source: str = ""

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=owner_zone())

    @property
    def end_at(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=owner_zone())

    @property
    def label(self) -> str:
        name = dict(RANGE_CHOICES)[self.key]
        span = f"{self.start:%b %-d, %Y} to {self.end:%b %-d, %Y}"
        return span if self.key == "custom" else f"{name} ({span})"


def period_for(
    key: str, *, today: date, start: date | None = None, end: date | None = None, source: str = ""
) -> Period:
    if key == "this_month":
        return Period(key, today.replace(day=1), today, source)
    if key == "30d":
        return Period(key, today - timedelta(days=29), today, source)
    if key == "90d":
        return Period(key, today - timedelta(days=89), today, source)
    if key == "this_year":
        return Period(key, today.replace(month=1, day=1), today, source)
    assert start is not None and end is not None
    return Period("custom", start, end, source)


class ReportFilterForm(forms.Form):
    range = forms.ChoiceField(choices=RANGE_CHOICES, required=False, label="Dates")
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.RegexField(regex=r"^[a-z0-9][a-z0-9_-]{0,39}$", required=False, label="Source")

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("range") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom range needs both a From and a To date.")
            if end < start:
                raise forms.ValidationError("The To date is before the From date; swap them and try again.")
            if (end - start).days > MAX_CUSTOM_DAYS:
                raise forms.ValidationError("Pick a range of at most five years.")
        return data

    def period(self, *, today: date | None = None) -> Period:
        """Call after `is_valid()` returned True."""
        data = self.cleaned_data
        return period_for(
            data.get("range") or DEFAULT_RANGE,
            today=today or owner_today(),
            start=data.get("start"),
            end=data.get("end"),
            source=data.get("source") or "",
        )
