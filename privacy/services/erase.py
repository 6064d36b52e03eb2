"""Erasing a person: preview what goes, then remove or anonymise it everywhere we hold it.

Kept, because the law and the books need them: payments' amounts, currencies and dates (with
their Stripe ids), the signature's content hash and date, proposals' lines and totals, and the
suppression entry (a hash of the address, never the address) so the person is never mailed
again. The lead row itself stays, emptied, because those rows point at it. An audit entry of a
send to them that was blocked (`mail.blocked`) keeps that it was blocked and why, not to whom.

Outside systems are reached through their clients before anything local changes: the call's
Notion page is moved to the trash and the booking's Google event deleted. Whatever could not be
reached (a client switched off, a vendor error, a system we have no delete call for) is recorded
on the `Erasure` and shown, never reported as done.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models, transaction
from django.db.models import Q

from billing.models import Payment
from bookings.clients import google_calendar
from bookings.models import Booking
from calls.clients import notion
from calls.models import Call
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import InvalidInput
from clientsflow.models import AuditEvent
from leads.models import Lead, LeadImport
from leads.services.lead_imports import lead_import_scrub, lead_imports_naming
from outreach.services.suppression import suppression_add
from privacy.models import Erasure
from privacy.services.finding import (
    IDENTITY_FIELD_RE,
    PersonRows,
    person_rows,
    rows_naming,
    searched_models,
    text_fields,
)

logger = logging.getLogger(__name__)

ERASED = "[erased]"
CHANGE_PERMISSION = "leads.change_lead"
DELETE_PERMISSION = "leads.delete_lead"

KEPT = [
    "Payments: amounts, currencies, dates and Stripe ids (accounting records).",
    "Signature: the hash of what was signed and when (proof of the agreement).",
    "Proposals: titles, line items and totals (accounting records).",
    "Suppression: a hash of the email address, so the person is never emailed again.",
    "Stage history: dates and stages, with no personal data.",
]

_LEAD_BLANKS: dict[str, Any] = {
    "name": "",
    "email": "",
    "email_normalized": "",
    "phone": "",
    "phone_e164": "",
    "company": "",
    "lost_reason": "",
    "external_ids": {},
    "owner_edited_fields": [],
}


@dataclass
class VendorCopy:
    system: str
    object_id: str
    action: str  # what erase does about it
    kind: str = ""  # which of the system's objects, where it holds several (Stripe)


@dataclass
class ErasePreview:
    lead: Lead
    confirmation: str  # what the person erasing must type
    related_counts: dict[str, int]
    mention_counts: dict[str, int]
    vendor_copies: list[VendorCopy]
    # CSV uploads not (fully) imported whose file names them: their rows are emptied.
    import_files: int = 0
    kept: list[str] = field(default_factory=lambda: list(KEPT))

    @property
    def total_rows(self) -> int:
        return sum(self.related_counts.values()) + sum(self.mention_counts.values()) + 1


def confirmation_phrase(lead: Lead) -> str:
    """What must be typed to erase this person: their email, else their phone, else the lead id."""
    return lead.email or lead.phone or str(lead.public_id)


def _label(model: type[models.Model]) -> str:
    return str(model._meta.verbose_name_plural).capitalize() + f" ({model._meta.label})"


def _vendor_copies(rows: PersonRows) -> list[VendorCopy]:
    copies: list[VendorCopy] = []
    for call in rows.related.get(Call, []):
        if call.notion_page_id:
            copies.append(VendorCopy("Notion", call.notion_page_id, "move the page to the trash"))
        if call.fireflies_id:
            copies.append(VendorCopy("Fireflies", call.fireflies_id, "not reachable from here: delete it in Fireflies"))
    for booking in rows.related.get(Booking, []):
        if booking.google_event_id:
            copies.append(VendorCopy("Google Calendar", booking.google_event_id, "delete the event"))
    customers: set[str] = set()
    for payment in rows.related.get(Payment, []):
        copies.append(
            VendorCopy("Stripe", payment.checkout_session_id, "kept: the payment is an accounting record", "session")
        )
        if payment.customer_id and payment.customer_id not in customers:
            customers.add(payment.customer_id)
            copies.append(
                VendorCopy(
                    "Stripe",
                    payment.customer_id,
                    "not reachable from here: delete the customer in Stripe (the payments stay)",
                    "customer",
                )
            )
    return copies


def _mentions(rows: PersonRows) -> dict[type[models.Model], list[int]]:
    """Rows not tied to the lead by a key whose text names the person."""
    tied = {(type(row), row.pk) for row in rows.all_related()} | {(Lead, lead.pk) for lead in rows.leads}
    found: dict[type[models.Model], list[int]] = {}
    if not rows.needles:
        return found
    for model in searched_models():
        if model is Erasure:
            continue
        pks = [pk for pk in rows_naming(model, rows.needles).values_list("pk", flat=True) if (model, pk) not in tied]
        if pks:
            found[model] = pks
    return found


def person_erase_preview(*, lead: Lead) -> ErasePreview:
    """What an erase of this person would remove, keep, and try to reach outside."""
    rows = person_rows(lead=lead)
    return ErasePreview(
        lead=lead,
        confirmation=confirmation_phrase(lead),
        related_counts={_label(model): len(found) for model, found in rows.related.items()},
        mention_counts={
            **{_label(model): len(pks) for model, pks in _mentions(rows).items()},
            **_blocked_sends_label(rows),
        },
        vendor_copies=_vendor_copies(rows),
        import_files=len(lead_imports_naming(pattern=_pattern(rows.needles))) if rows.needles else 0,
    )


def _blocked_sends_label(rows: PersonRows) -> dict[str, int]:
    count = _blocked_sends(rows).count()
    return {"Blocked sends in the audit log: the address goes, the block stays": count} if count else {}


def _user_may_erase(actor: Any) -> bool:
    return bool(actor is not None and actor.is_active and actor.has_perms([CHANGE_PERMISSION, DELETE_PERMISSION]))


def check_person_erase(*, lead: Lead, actor: AbstractBaseUser | AnonymousUser | None, confirmation: str) -> None:
    """Refuse unless the actor may erase (None is the operator at the command line) and typed
    exactly the confirmation phrase (case and surrounding spaces aside)."""
    if actor is not None and not _user_may_erase(actor):
        raise InvalidInput("Erasing a person needs both the change and delete permissions on leads.")
    if lead.merged_into_id is not None:
        raise InvalidInput("This lead was merged into another; erase the lead it was merged into.")
    if (confirmation or "").strip().lower() != confirmation_phrase(lead).strip().lower():
        raise InvalidInput(f"Type {confirmation_phrase(lead)} exactly to confirm the erase.")


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_scrub(item, pattern) for item in value]
    if isinstance(value, dict):
        return {_scrub(key, pattern): _scrub(item, pattern) for key, item in value.items()}
    return value


def _anonymise_tied(row: models.Model, pattern: re.Pattern[str]) -> dict[str, Any]:
    """A row about the person: free text goes, their name/address/phone go, the rest is scrubbed."""
    changes: dict[str, Any] = {}
    for f in row._meta.concrete_fields:
        value = getattr(row, f.attname)
        if isinstance(f, models.GenericIPAddressField) and value is not None and f.null:
            changes[f.attname] = None
        elif isinstance(f, models.TextField) and value:
            changes[f.attname] = ""
        elif isinstance(f, models.CharField) and value and not f.choices:
            new = ERASED if IDENTITY_FIELD_RE.search(f.name) else pattern.sub(ERASED, value)
            if new != value:
                changes[f.attname] = new[: f.max_length] if f.max_length else new
        elif isinstance(f, models.JSONField) and value:
            new = _scrub(value, pattern)
            if new != value:
                changes[f.attname] = new
    return changes


def _anonymise_mention(row: models.Model, pattern: re.Pattern[str]) -> dict[str, Any]:
    """A row that merely names the person: a text naming them goes whole (a webhook body or a
    note that names someone says more about them than the name); elsewhere the name is replaced."""
    changes: dict[str, Any] = {}
    for f in text_fields(type(row)):
        value = getattr(row, f.attname)
        if not value:
            continue
        if isinstance(f, models.TextField):
            if pattern.search(value):
                changes[f.attname] = ERASED
        elif isinstance(f, models.CharField):
            new = pattern.sub(ERASED, value)
            if new != value:
                changes[f.attname] = new[: f.max_length] if f.max_length else new
        else:
            new = _scrub(value, pattern)
            if new != value:
                changes[f.attname] = new
    return changes


def _reach_outside(copies: list[VendorCopy], rows: PersonRows) -> list[dict[str, str]]:
    """Archive/delete outside copies through their clients; return what could not be reached."""
    unreachable: list[dict[str, str]] = []
    calendars = {b.google_event_id: b.host.google_calendar_id for b in rows.related.get(Booking, [])}
    calendar_client = None
    for copy in copies:
        if copy.system == "Notion":
            if not notion.enabled():
                unreachable.append({**_copy_dict(copy), "reason": "Notion is not configured here."})
                continue
            try:
                notion.page_archive(page_id=copy.object_id)
            except notion.NotionError as exc:
                unreachable.append({**_copy_dict(copy), "reason": str(exc)[:300]})
        elif copy.system == "Google Calendar":
            if not google_calendar.enabled():
                unreachable.append({**_copy_dict(copy), "reason": "Google Calendar is not configured here."})
                continue
            try:
                calendar_client = calendar_client or google_calendar.GoogleCalendarClient.from_settings()
                # No cancellation mail: an erase must not write to the person in Google's words.
                calendar_client.event_cancel(
                    calendar_id=calendars[copy.object_id], event_id=copy.object_id, send_updates="none"
                )
            except google_calendar.CalendarError as exc:
                unreachable.append({**_copy_dict(copy), "reason": str(exc)[:300]})
        elif copy.system == "Fireflies":
            unreachable.append({**_copy_dict(copy), "reason": "There is no delete call for Fireflies here."})
        elif copy.system == "Stripe" and copy.kind == "customer":
            # The customer record holds their name and address; the payments are the books.
            unreachable.append({**_copy_dict(copy), "reason": "There is no delete call for Stripe customers here."})
    return unreachable


def _copy_dict(copy: VendorCopy) -> dict[str, str]:
    return {"system": copy.system, "id": copy.object_id}


def person_erase(
    *,
    lead: Lead,
    actor: AbstractBaseUser | AnonymousUser | None,
    confirmation: str,
    actor_label: str = "",
) -> Erasure:
    """Erase the person behind `lead` everywhere we hold them. See the module docstring."""
    check_person_erase(lead=lead, actor=actor, confirmation=confirmation)
    rows = person_rows(lead=lead)
    label = actor_label or (actor.get_username() if actor is not None else "operator")
    pattern = _pattern(rows.needles)
    uploads = lead_imports_naming(pattern=pattern) if rows.needles else []
    if any(upload.status == LeadImport.Status.RUNNING for upload in uploads):
        # Its worker reads its own copy of the file: it could bring the person back after the erase.
        raise InvalidInput(
            "A CSV import that holds this person is running now. Erase again once it has finished "
            "(Leads → Lead imports)."
        )

    # Suppress first, while the addresses are still known, so no sequence mails them meanwhile:
    # every address they used with us (the lead's, a booking's, a signature's, a reply's).
    for address in _addresses(rows):
        suppression_add(email=address, reason="erased", actor_label=label)

    unreachable = _reach_outside(_vendor_copies(rows), rows)
    counts: Counter[str] = Counter()
    with transaction.atomic():
        for person in rows.leads:
            Lead.objects.filter(pk=person.pk).update(**_LEAD_BLANKS)
            counts[Lead._meta.label] += 1
        for row in rows.all_related():
            changes = _anonymise_tied(row, pattern)
            if changes:
                type(row)._default_manager.filter(pk=row.pk).update(**changes)
            counts[type(row)._meta.label] += 1
        # Another pass after the tied rows: what still names the person anywhere. The audit log is
        # append-only for everything else; an erase is the one rewrite the law asks of it.
        for model, pks in _mentions(rows).items():
            for row in model._default_manager.filter(pk__in=pks):
                changes = _anonymise_mention(row, pattern)
                if changes:
                    model._default_manager.filter(pk=row.pk).update(**changes)
                    counts[model._meta.label] += 1
        # A blocked send's audit entry keeps that a send was blocked (purpose, reason, when), not
        # to whom: the masked address (its domain) and the address hash go.
        blocked = _blocked_sends_scrub(rows)
        if blocked:
            counts[f"{AuditEvent._meta.label} blocked send"] += blocked
        # An upload waiting to be imported (or to be resumed) keeps the file itself, not text
        # columns: its rows naming the person are emptied, so no later run brings them back.
        for upload in uploads:
            if lead_import_scrub(lead_import_id=upload.pk, pattern=pattern, replacement=ERASED):
                counts[f"{LeadImport._meta.label} file"] += 1
        erasure = Erasure.objects.create(
            lead=lead,
            lead_public_id=lead.public_id,
            erased_by=actor if isinstance(actor, get_user_model()) else None,
            actor_label=label[:100],
            counts=dict(counts),
            kept=list(KEPT),
            unreachable=unreachable,
        )
        audit_record(
            verb="person.erased",
            obj=erasure,
            actor=actor,
            actor_label=label,
            details={"rows": sum(counts.values()), "by_model": dict(counts), "unreachable": len(unreachable)},
        )
        transaction.on_commit(board_version_bump)
    logger.info("privacy.person_erased", extra={"erasure": erasure.pk, "unreachable": len(unreachable)})
    return erasure


# What a `mail.blocked` entry says about the recipient (`outreach.services.gate`).
BLOCKED_ADDRESS_BLANKS: dict[str, str] = {"to_masked": ERASED, "to_hash": ""}


def _blocked_sends(rows: PersonRows) -> models.QuerySet[AuditEvent]:
    """The `mail.blocked` entries of sends to the person: against one of their rows (a booking,
    an outbound email, a proposal) or naming one of their leads."""
    condition = Q(details__lead_id__in=[person.pk for person in rows.leads])
    for model, found in rows.related.items():
        condition |= Q(object_type=model._meta.label_lower, object_id__in=[str(row.pk) for row in found])
    return AuditEvent.objects.filter(verb="mail.blocked").filter(condition)


def _blocked_sends_scrub(rows: PersonRows) -> int:
    changed = 0
    for pk, details in _blocked_sends(rows).values_list("pk", "details"):
        if not isinstance(details, dict):
            continue
        new = {**details, **{key: value for key, value in BLOCKED_ADDRESS_BLANKS.items() if key in details}}
        if new != details:
            AuditEvent.objects.filter(pk=pk).update(details=new)
            changed += 1
    return changed


def _addresses(rows: PersonRows) -> list[str]:
    """The person's email addresses: the leads' and those they typed elsewhere (staff's excluded)."""
    found = {person.email_normalized for person in rows.leads if person.email_normalized}
    found |= {needle.strip().lower() for needle in rows.needles if "@" in needle}
    return sorted(found)


def _pattern(needles: list[str]) -> re.Pattern[str]:
    if not needles:
        return re.compile(r"(?!x)x")  # matches nothing
    return re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
