from __future__ import annotations

from datetime import datetime

from django import forms

from bookings.services.booking import validate_timezone
from clientsflow.errors import DomainError


def parse_start(value: str) -> datetime:
    """An ISO 8601 time with its UTC offset (`2026-12-01T09:00:00-05:00`)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise forms.ValidationError("That time could not be read. Pick a time from the list.") from None
    if parsed.tzinfo is None:
        raise forms.ValidationError("That time has no UTC offset. Pick a time from the list.")
    return parsed


class BookingForm(forms.Form):
    start = forms.CharField(widget=forms.HiddenInput, max_length=64)
    # Length and presence are checked by validate_timezone, so every bad zone gets the same message.
    timezone = forms.CharField(widget=forms.HiddenInput, required=False)
    hold = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    name = forms.CharField(max_length=200, label="Your name", error_messages={"required": "Please tell us your name."})
    email = forms.EmailField(
        max_length=254,
        label="Email",
        error_messages={
            "required": "Please give an email address so we can send you the invite.",
            "invalid": "That email address does not look right. Check it and try again.",
        },
    )
    phone = forms.CharField(max_length=64, required=False, label="Phone (optional)")
    note = forms.CharField(
        max_length=2000,
        required=False,
        label="Anything we should know? (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # Honeypot: hidden from people by CSS and aria-hidden; bots fill it in.
    website = forms.CharField(required=False, label="Leave this empty", max_length=200)

    def clean_start(self) -> datetime:
        return parse_start(self.cleaned_data["start"])

    def clean_timezone(self) -> str:
        try:
            return validate_timezone(self.cleaned_data["timezone"].strip())
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from None


class CancelForm(forms.Form):
    reason = forms.CharField(
        max_length=255, label="Reason", error_messages={"required": "Please give a reason for cancelling."}
    )


class LeadCancelForm(forms.Form):
    """The lead's own cancel: a reason is welcome, never required."""

    reason = forms.CharField(max_length=255, required=False, label="Reason (optional)")
