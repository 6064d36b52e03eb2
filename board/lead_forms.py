"""Forms of the lead page: notes, tasks, inline edits of contact details and value, adding a lead."""

from __future__ import annotations

import re
from datetime import datetime

from django import forms

from billing.money import check_currency, currency_exponent, to_minor
from clientsflow.errors import InvalidInput
from clientsflow.site import site_settings
from leads.services.notes import NOTE_MAX_LENGTH
from leads.services.tasks import TITLE_MAX_LENGTH, owner_wall_time_to_utc

# "4500", "4,500", "4500.50", "4,500.50", "$4,500": digits with optional thousands commas and decimals.
_AMOUNT_RE = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


def parse_money(raw: str, currency: str) -> int | None:
    """What the owner typed as an amount -> integer minor units of `currency`; None when empty.

    Raises InvalidInput with what to type instead for anything that is not a plain amount.
    """
    text = (raw or "").strip().lstrip("$€£¥").strip().replace(" ", "")
    if not text:
        return None
    code = check_currency(currency)
    if not _AMOUNT_RE.match(text):
        example = "4,500" if currency_exponent(code) == 0 else "4,500 or 4500.50"
        raise InvalidInput(f"{raw.strip()!r} is not an amount: type digits such as {example}.")
    return to_minor(text.replace(",", ""), code)


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Note",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="**bold**, *italics*, [a link](https://…), lists starting with “- ”.",
        error_messages={"required": "The note is empty: write something, then save."},
    )


class TaskForm(forms.Form):
    title = forms.CharField(
        label="Task",
        max_length=TITLE_MAX_LENGTH,
        error_messages={"required": "Say what the task is, e.g. 'Call back about the quote'."},
    )
    due_date = forms.DateField(
        label="Due date",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Pick the day it is due.", "invalid": "Type the date as YYYY-MM-DD."},
    )
    due_time = forms.TimeField(
        label="Time",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"required": "Pick the time it is due.", "invalid": "Type the time as HH:MM, e.g. 09:30."},
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("due_date") and data.get("due_time"):
            try:
                data["due_at"] = owner_wall_time_to_utc(day=data["due_date"], at=data["due_time"])
            except InvalidInput as exc:
                self.add_error("due_time", str(exc))
        return data

    @property
    def due_at(self) -> datetime:
        return self.cleaned_data["due_at"]


class ValueForm(forms.Form):
    amount = forms.CharField(label="Value", required=False, max_length=32)
    currency = forms.CharField(label="Currency", max_length=3, required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        currency = (data.get("currency") or "").strip().upper() or site_settings().default_currency
        try:
            data["currency"] = check_currency(currency)
            data["amount_minor"] = parse_money(data.get("amount") or "", data["currency"])
        except InvalidInput as exc:
            self.add_error("amount", str(exc))
        return data


class NewLeadForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200, required=False)
    company = forms.CharField(label="Company", max_length=200, required=False)
    email = forms.CharField(label="Email", max_length=254, required=False)
    phone = forms.CharField(label="Phone", max_length=64, required=False)
    amount = forms.CharField(label="Expected value", max_length=32, required=False)
    currency = forms.CharField(label="Currency", max_length=3, required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        if not (data.get("email") or "").strip() and not (data.get("phone") or "").strip():
            raise forms.ValidationError("Give an email address or a phone number, so the lead can be reached.")
        currency = (data.get("currency") or "").strip().upper() or site_settings().default_currency
        try:
            data["currency"] = check_currency(currency)
            data["amount_minor"] = parse_money(data.get("amount") or "", data["currency"])
        except InvalidInput as exc:
            self.add_error("amount", str(exc))
        return data

    def contact_changes(self) -> dict[str, str]:
        return {name: self.cleaned_data[name].strip() for name in ("name", "company", "email", "phone")}
