"""The lead's timeline: the one way any app records an event on a lead."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clientsflow.prepared import insert_row
from leads.models import Lead, LeadEvent, TimelineKind

SUMMARY_MAX_LENGTH = LeadEvent._meta.get_field("summary").max_length or 255


def timeline_record(
    *,
    lead: Lead,
    kind: TimelineKind,
    summary: str,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    once_per: str | None = None,
) -> LeadEvent | None:
    """Put an event on `lead`'s timeline and return it.

    `kind` is a member of the recording app's own `TimelineKind` subclass; its value and label are
    stored, so the lead page can show events of kinds leads has never heard of. `summary` is the
    line a person reads (cut to fit); `data` holds ids and details for code, never message bodies
    or transcripts. `occurred_at` defaults to now.

    `once_per` names a key of `data`: if the lead already has an event of this kind carrying the
    same value under that key, nothing is recorded and None is returned (for callers that may run
    again for the same thing, such as a redelivered webhook).
    """
    data = dict(data or {})
    event = LeadEvent(
        lead=lead,
        kind=kind.value,
        label=str(kind.label),
        summary=summary[:SUMMARY_MAX_LENGTH],
        data=data,
        at=occurred_at or timezone.now(),
    )
    if once_per is None:
        # One INSERT is atomic by itself; it runs on every intake, so it is compiled once.
        return insert_row(event)
    if once_per not in data:
        raise ValueError(f"once_per={once_per!r} names no key of data")
    with transaction.atomic():
        already = LeadEvent.objects.filter(lead=lead, kind=kind.value, **{f"data__{once_per}": data[once_per]})
        if already.exists():
            return None
        return insert_row(event)
