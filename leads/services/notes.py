"""Notes the owner writes on a lead: stored, put on the timeline and in the audit log."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from clientsflow.audit import audit_record
from clientsflow.errors import DomainError, InvalidInput
from leads.models import Lead, LeadEvent, Note
from leads.services.board_cache import board_cards_changed
from leads.services.timeline import timeline_record

NOTE_MAX_LENGTH = 10_000


@transaction.atomic
def note_add(*, lead: Lead, body: str, author: Any = None) -> Note:
    """Add a note (markdown-lite) to `lead`. Refuses an empty or over-long note, or a merged lead."""
    text = (body or "").strip()
    if not text:
        raise InvalidInput("The note is empty: write something, then save.")
    if len(text) > NOTE_MAX_LENGTH:
        raise InvalidInput(f"A note holds at most {NOTE_MAX_LENGTH:,} characters; split it in two.")
    if lead.merged_into_id:
        raise DomainError("This lead was merged into another; add the note there.")
    user = author if getattr(author, "is_authenticated", False) else None
    note = Note.objects.create(lead=lead, body=text, author=user)
    first_line = text.splitlines()[0]
    timeline_record(
        lead=lead,
        kind=LeadEvent.Kind.NOTE,
        summary=first_line if len(first_line) <= 120 else f"{first_line[:119]}…",
        data={"note_id": note.pk},
    )
    audit_record(verb="lead.note_added", obj=lead, actor=author, details={"note_id": note.pk, "length": len(text)})
    board_cards_changed(lead.pk)
    return note
