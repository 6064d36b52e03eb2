"""Forms of the owner's board: the filter bar, moving a card, marking leads seen."""

from __future__ import annotations

from django import forms

from leads.models import PIPELINE_ORDER, Stage
from leads.selectors import RECENCY_WINDOWS, BoardFilters


class BoardFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    source = forms.CharField(required=False, max_length=40, label="Source")
    stage = forms.ChoiceField(required=False, choices=[("", "All stages"), *Stage.choices], label="Stage")
    since = forms.ChoiceField(
        required=False,
        choices=[("", "Any time"), *((key, label) for key, (label, _) in RECENCY_WINDOWS.items())],
        label="Arrived",
    )
    unseen = forms.BooleanField(required=False, label="Not yet seen")

    def filters(self) -> BoardFilters:
        """The filters asked for; a value that does not validate is simply ignored."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return BoardFilters(
            q=" ".join((data.get("q") or "").split()),
            source=(data.get("source") or "").strip(),
            stage=data.get("stage") or "",
            since=data.get("since") or "",
            unseen=bool(data.get("unseen")),
        )


class MoveForm(forms.Form):
    to_stage = forms.ChoiceField(choices=Stage.choices)
    expected_stage = forms.ChoiceField(choices=Stage.choices, required=False)
    reason = forms.CharField(required=False, max_length=255)
    next = forms.CharField(required=False, max_length=2000)

    def error_message(self) -> str:
        if "to_stage" in self.errors:
            return f"Choose a stage to move to: one of {', '.join(PIPELINE_ORDER)}."
        return "The move could not be read; reload the board and try again."


class MarkSeenForm(forms.Form):
    up_to = forms.DateTimeField()
    next = forms.CharField(required=False, max_length=2000)


class UndoForm(forms.Form):
    change = forms.IntegerField(min_value=1)
    next = forms.CharField(required=False, max_length=2000)


class ValueForm(forms.Form):
    amount = forms.CharField(required=False, max_length=30)
    currency = forms.CharField(required=False, max_length=3)
    next = forms.CharField(required=False, max_length=2000)

    def error_message(self) -> str:
        if "currency" in self.errors:
            return "Give the currency as a three-letter code such as USD or EUR."
        return "Type the amount as digits, e.g. 4500 or 4500.50."


class BulkMoveForm(forms.Form):
    to_stage = forms.ChoiceField(choices=Stage.choices)
    reason = forms.CharField(required=False, max_length=255)
    next = forms.CharField(required=False, max_length=2000)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("to_stage") == Stage.LOST and not (data.get("reason") or "").strip():
            raise forms.ValidationError("Say why these leads were lost: a reason is required.")
        return data

    def error_message(self) -> str:
        if "to_stage" in self.errors:
            return "Choose the stage to move the selected leads to."
        if self.non_field_errors():
            return str(self.non_field_errors()[0])
        return "The selection could not be read; reload the board and try again."
