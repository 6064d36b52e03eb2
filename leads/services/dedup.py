"""Possible duplicates: two leads that may be one person, left for a human to merge or dismiss.

Intake never merges two emails on its own (see `identity.lead_identify`); it records the pair
here. Merging goes through the undoable `lead_merge`, which closes the pair (and undoing the
merge reopens it).
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError
from leads.models import Lead, LeadMerge, PossibleDuplicate
from leads.services.merge import lead_merge


def possible_duplicates_open() -> QuerySet[PossibleDuplicate]:
    """Open pairs whose two leads are both still active."""
    return PossibleDuplicate.objects.filter(
        status=PossibleDuplicate.Status.OPEN, lead_a__merged_into__isnull=True, lead_b__merged_into__isnull=True
    )


def possible_duplicates_for_lead(lead: Lead) -> QuerySet[PossibleDuplicate]:
    return (
        possible_duplicates_open()
        .filter(Q(lead_a=lead) | Q(lead_b=lead))
        .select_related("lead_a", "lead_b")
        .order_by("created_at", "id")
    )


def possible_duplicate_record(*, lead: Lead, other: Lead, reason: str) -> PossibleDuplicate | None:
    """Record that `lead` and `other` may be one person; a pair already recorded (in any status,
    so a dismissed pair stays dismissed) is left as it is."""
    if lead.pk == other.pk:
        return None
    lead_a_id, lead_b_id = sorted((lead.pk, other.pk))
    try:
        with transaction.atomic():
            pair, created = PossibleDuplicate.objects.get_or_create(
                lead_a_id=lead_a_id, lead_b_id=lead_b_id, defaults={"reason": reason}
            )
    except IntegrityError:
        # Another intake recorded the same pair a moment ago.
        return PossibleDuplicate.objects.get(lead_a_id=lead_a_id, lead_b_id=lead_b_id)
    if created:
        board_version_bump()
    return pair


def _check_open(pair: PossibleDuplicate) -> None:
    if pair.status != PossibleDuplicate.Status.OPEN:
        raise DomainError(f"This possible duplicate was already settled ({pair.get_status_display().lower()}).")


@transaction.atomic
def possible_duplicate_dismiss(*, pair: PossibleDuplicate, actor: Any) -> PossibleDuplicate:
    """A person decided these are two people: the pair is closed and never suggested again."""
    pair = PossibleDuplicate.objects.select_for_update().get(pk=pair.pk)
    _check_open(pair)
    pair.status = PossibleDuplicate.Status.DISMISSED
    pair.resolved_at = timezone.now()
    pair.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
    pair.save(update_fields=["status", "resolved_at", "resolved_by"])
    audit_record(
        verb="lead.duplicate_dismissed",
        obj=pair.lead_a,
        actor=actor,
        details={"possible_duplicate_id": pair.pk, "other_lead_id": pair.lead_b_id},
    )
    board_version_bump()
    return pair


@transaction.atomic
def possible_duplicate_merge(*, pair: PossibleDuplicate, survivor: Lead, actor: Any) -> LeadMerge:
    """Merge the pair's other lead into `survivor` (one of the two) with the undoable merge."""
    pair = PossibleDuplicate.objects.select_for_update().get(pk=pair.pk)
    _check_open(pair)
    if survivor.pk not in (pair.lead_a_id, pair.lead_b_id):
        raise DomainError("Keep one of the two leads of this pair.")
    duplicate_id = pair.lead_b_id if survivor.pk == pair.lead_a_id else pair.lead_a_id
    return lead_merge(survivor=survivor, duplicate=Lead.objects.get(pk=duplicate_id), actor=actor)
