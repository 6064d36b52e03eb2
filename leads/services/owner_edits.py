"""Edits the owner makes by hand: remembered, so later intakes never overwrite them."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from clientsflow.audit import audit_record
from clientsflow.cache import board_stages_bump
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
    board_stages_bump(target.stage)
    return target


@transaction.atomic
def lead_value_set(*, lead: Lead, amount_minor: int | None, currency: str, actor: Any = None, by_staff: bool) -> bool:
    """Set a deal's expected value; returns whether it changed.

    A staff edit is remembered (`owner_edited_fields` gains "value") and wins over later automatic
    updates: a proposal's total (`by_staff=False`) changes the value only until a person has set it.
    """
    if amount_minor is not None and amount_minor < 0:
        raise InvalidInput("A deal's value cannot be negative.")
    code = (currency or "").strip().upper()
    if amount_minor is not None and not (len(code) == 3 and code.isalpha()):
        raise InvalidInput("Give the currency as a three-letter code such as USD or EUR.")
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    edited = set(locked.owner_edited_fields or [])
    if not by_staff and "value" in edited:
        return False
    if locked.value_minor == amount_minor and (amount_minor is None or locked.value_currency == code):
        return False
    before = (locked.value_minor, locked.value_currency)
    locked.value_minor = amount_minor
    locked.value_currency = code if amount_minor is not None else ""
    if by_staff:
        locked.owner_edited_fields = sorted(edited | {"value"})
    locked.save(update_fields=["value_minor", "value_currency", "owner_edited_fields", "updated_at"])
    audit_record(
        verb="lead.value_set",
        obj=locked,
        actor=actor,
        details={"from": list(before), "to": [locked.value_minor, locked.value_currency], "by_staff": by_staff},
    )
    board_stages_bump(locked.stage)
    lead.value_minor, lead.value_currency = locked.value_minor, locked.value_currency
    lead.owner_edited_fields = locked.owner_edited_fields
    return True
