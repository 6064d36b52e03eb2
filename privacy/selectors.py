"""Reads for exports: the leads list as rows, the board's filters applied."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from django.db.models import QuerySet

from leads.models import Lead, Stage
from leads.selectors import BoardFilters, board_leads
from leads.services.identity import normalize_email

# Times are UTC; the header says so because a spreadsheet shows them without a zone.
LEAD_COLUMNS: list[tuple[str, str]] = [
    ("public_id", "Lead id"),
    ("name", "Name"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("company", "Company"),
    ("source", "Source"),
    ("stage", "Stage"),
    ("created_at", "Arrived (UTC)"),
    ("stage_changed_at", "Stage changed (UTC)"),
    ("nurture_until", "Nurture until"),
    ("lost_reason", "Lost reason"),
]
LEAD_HEADER = [title for _, title in LEAD_COLUMNS]
# Rows fetched per round trip: server-side cursor on PostgreSQL, so memory holds one chunk.
CHUNK_SIZE = 2000

_STAGE_LABELS = dict(Stage.choices)


def board_export_leads(filters: BoardFilters) -> QuerySet[Lead]:
    """The leads the board shows for these filters, newest first (the board's own order)."""
    return board_leads(filters).order_by("-created_at", "-id")


def lead_export_rows(leads: QuerySet[Lead]) -> Iterator[list[Any]]:
    """One row per lead in LEAD_COLUMNS order, read in chunks (never the whole set at once)."""
    fields = [name for name, _ in LEAD_COLUMNS]
    stage_at = fields.index("stage")
    for values in leads.values_list(*fields).iterator(chunk_size=CHUNK_SIZE):
        row = list(values)
        row[0] = str(row[0])
        row[stage_at] = _STAGE_LABELS.get(row[stage_at], row[stage_at])
        for i, value in enumerate(row):
            if isinstance(value, datetime):
                row[i] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            elif isinstance(value, date):
                row[i] = value.isoformat()
        yield row


def lead_for_person(identifier: str) -> Lead | None:
    """The active lead with this email address or public id, or None."""
    identifier = identifier.strip()
    try:
        return Lead.objects.filter(public_id=uuid.UUID(identifier)).first()
    except ValueError:
        pass
    if not identifier:
        return None
    return Lead.objects.filter(email_normalized=normalize_email(identifier), merged_into__isnull=True).first()
