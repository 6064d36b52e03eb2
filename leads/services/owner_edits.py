"""Edits the owner makes by hand: remembered, so later intakes never overwrite them."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError, InvalidInput
from leads.models import ENRICHABLE_FIELDS, Lead, LeadEvent, PossibleDuplicate
from leads.services.dedup import possible_duplicate_record
from leads.services.identity import lead_find_duplicate, normalize_email, normalize_phone
from leads.services.timeline import timeline_record


def check_no_duplicate(*, email: str, phone: str, exclude_pk: int | None = None) -> None:
    """Raise when another active lead already has this email or phone."""
    existing, matched_on = lead_find_duplicate(
        email_normalized=normalize_email(email), phone_e164=normalize_phone(phone)
    )
    if existing is not None and existing.pk != exclude_pk:
        raise InvalidInput(
            f"{existing} (lead #{existing.pk}) already has this {matched_on}; edit or merge that lead instead."
        )


@transaction.atomic
def lead_update_by_owner(*, lead: Lead | None, changes: dict[str, Any], actor: Any) -> Lead:
    """Create a lead by hand (`lead=None`) or change its contact details."""
    email = changes.get("email", lead.email if lead else "")
    phone = changes.get("phone", lead.phone if lead else "")
    email_normalized = normalize_email(email)
    phone_e164 = normalize_phone(phone)
    if lead is None and not (email_normalized or phone_e164):
        raise InvalidInput("A lead needs an email address or a phone number.")
    check_no_duplicate(email=email, phone=phone, exclude_pk=lead.pk if lead else None)
    target = Lead() if lead is None else Lead.objects.select_for_update().get(pk=lead.pk)
    for name, value in changes.items():
        setattr(target, name, value)
    target.email_normalized = email_normalized
    target.phone_e164 = phone_e164
    if lead is not None:
        edited = set(target.owner_edited_fields or []) | {n for n in changes if n in ENRICHABLE_FIELDS}
        target.owner_edited_fields = sorted(edited)
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError as exc:
        raise DomainError("Another lead took this email or phone a moment ago; reload and try again.") from exc
    if target.phone_e164:
        # Staff may give two people one phone (the identity check above allowed it only when
        # their emails differ); the pair is still left for a person to judge.
        for other in Lead.objects.filter(phone_e164=target.phone_e164, merged_into__isnull=True).exclude(pk=target.pk):
            possible_duplicate_record(lead=target, other=other, reason=PossibleDuplicate.Reason.SAME_PHONE)
    if lead is None:
        timeline_record(
            lead=target, kind=LeadEvent.Kind.CREATED, summary="Added by hand", data={"source": target.source}
        )
    audit_record(
        verb="lead.created" if lead is None else "lead.edited",
        obj=target,
        actor=actor,
        details={"fields": sorted(changes)},
    )
    board_version_bump()
    return target
