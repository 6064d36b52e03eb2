"""The lead's timeline: the one way any app records an event on a lead."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from clientsflow.prepared import insert_row
from leads.models import Lead, LeadEvent, TimelineKind

SUMMARY_MAX_LENGTH = LeadEvent._meta.get_field("summary").max_length or 255
_DATA_SQL: dict[str, str] = {}


def timeline_data(*, lead: Lead, kind: TimelineKind) -> list[Any]:
    """The `data` of `lead`'s events of this kind (oldest first), read with SQL built once: intake
    asks on every repeat delivery, where compiling a queryset cost more than the query."""
    alias = router.db_for_read(LeadEvent)
    connection = connections[alias]
    if alias not in _DATA_SQL:
        qn = connection.ops.quote_name
        column = {f.name: qn(f.column) for f in LeadEvent._meta.concrete_fields}
        _DATA_SQL[alias] = (
            f"SELECT {column['data']} FROM {qn(LeadEvent._meta.db_table)} "  # noqa: S608
            f"WHERE {column['lead']} = %s AND {column['kind']} = %s ORDER BY {column['id']}"
        )
    with connection.cursor() as cursor:
        cursor.execute(_DATA_SQL[alias], [lead.pk, kind.value])
        # JSON arrives as text from both databases (Django's PostgreSQL backend loads jsonb as text).
        return [json.loads(value) if isinstance(value, str) else value for (value,) in cursor.fetchall()]


def timeline_event(
    *,
    lead: Lead,
    kind: TimelineKind,
    summary: str,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> LeadEvent:
    """The event `timeline_record` writes, not yet written: for a caller that writes it together
    with its other rows (`clientsflow.prepared.insert_rows`)."""
    return LeadEvent(
        lead=lead,
        kind=kind.value,
        label=str(kind.label),
        summary=summary[:SUMMARY_MAX_LENGTH],
        data=dict(data or {}),
        at=occurred_at or timezone.now(),
    )


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
    event = timeline_event(lead=lead, kind=kind, summary=summary, data=data, occurred_at=occurred_at)
    data = event.data
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
