"""What the leads app asks of the owner: new leads nobody has looked at yet."""

from __future__ import annotations

from clientsflow.attention import register_needs_you
from leads.models import Lead
from leads.services.dedup import possible_duplicates_open


def _unseen_count() -> int:
    return Lead.objects.filter(merged_into__isnull=True, seen_at__isnull=True).count()


register_needs_you(
    "new_leads_unseen",
    "New leads not yet seen",
    url="/admin/leads/lead/?seen_at__isnull=True&merged_into__isnull=True",
    count=_unseen_count,
    order=10,
)

register_needs_you(
    "possible_duplicates",
    "Possible duplicate leads to check",
    url="/admin/leads/possibleduplicate/?status__exact=open",
    count=lambda: possible_duplicates_open().count(),
    order=15,
)
