"""When the owner has seen a lead.

A lead counts as seen once the owner opens its page (`lead_mark_seen` in `stages`), moves its
card by hand, or presses "Mark all as seen" on the board, which marks every lead that had arrived
when that page was drawn (`up_to`), never one that arrived after the owner looked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from leads.models import Lead


@transaction.atomic
def leads_mark_seen(*, up_to: datetime, actor: Any) -> int:
    """Mark every active, unseen lead created at or before `up_to` as seen; returns how many."""
    marked = Lead.objects.filter(merged_into__isnull=True, seen_at__isnull=True, created_at__lte=up_to).update(
        seen_at=timezone.now()
    )
    if marked:
        audit_record(verb="leads.marked_seen", actor=actor, details={"count": marked, "up_to": up_to.isoformat()})
        board_version_bump()
    return marked
