"""Sequences: enrolling leads, pausing and stopping them, scheduling the next step.

A step that comes due becomes a *draft* in the review queue (`outreach.services.drafting`),
never an email: sending is `outreach.services.sending`'s job and needs a person's approval. The
next step is scheduled from the moment the previous one was actually sent (or rejected).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError
from leads.models import Lead, Stage
from leads.services.timeline import timeline_record
from outreach.models import Enrollment, InboundReply, OutboundMessage, OutreachEventKind, Sequence
from outreach.services.suppression import is_suppressed

logger = logging.getLogger(__name__)

LIVE = (Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED)
# A sequence email is pointless (and unwelcome) once the lead is past the point of being chased.
SEQUENCE_STOP_STAGES = frozenset(
    {Stage.REPLIED, Stage.BOOKED, Stage.CALL_DONE, Stage.PROPOSAL_SENT, Stage.SIGNED, Stage.PAID, Stage.LOST}
)


# --- Enrolling ---------------------------------------------------------------------------------


def check_can_enroll(*, lead: Lead, sequence: Sequence) -> None:
    """Raise a DomainError saying why `lead` may not join `sequence`."""
    if not sequence.is_active:
        raise DomainError(f"The sequence {sequence} is inactive; activate it first.")
    if lead.merged_into_id:
        raise DomainError("This lead was merged into another; enroll that one instead.")
    if not lead.email_normalized:
        raise DomainError("This lead has no email address.")
    if lead.stage in SEQUENCE_STOP_STAGES:
        raise DomainError(f"The lead is {lead.get_stage_display()}; sequences are for leads not yet in conversation.")
    if is_suppressed(lead.email_normalized):
        raise DomainError("The lead unsubscribed (the address is on the suppression list).")
    if InboundReply.objects.filter(lead=lead).exists():
        raise DomainError("The lead has already replied; answer them personally.")
    if Enrollment.objects.filter(lead=lead, status__in=LIVE).exists():
        raise DomainError("The lead is already in a sequence; stop that one first.")
    if not sequence.steps.exists():
        raise DomainError(f"The sequence {sequence} has no steps yet.")


@transaction.atomic
def enrollment_create(*, lead: Lead, sequence: Sequence, actor: Any = None, actor_label: str = "") -> Enrollment:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)  # serializes enrollments of one lead
    check_can_enroll(lead=lead, sequence=sequence)
    first = sequence.steps.order_by("position").first()
    assert first is not None
    label = actor_label or (actor.get_username() if getattr(actor, "is_authenticated", False) else "system")
    enrollment = Enrollment.objects.create(
        lead=lead,
        sequence=sequence,
        next_step=first.position,
        next_due_at=timezone.now() + timedelta(hours=first.delay_hours),
        enrolled_by=label[:100],
    )
    timeline_record(
        lead=lead,
        kind=OutreachEventKind.ENROLLED,
        summary=f"Enrolled in {sequence}",
        data={"enrollment_id": enrollment.pk, "by": label},
    )
    audit_record(
        verb="enrollment.created", obj=enrollment, actor=actor, actor_label=label, details={"lead_id": lead.pk}
    )
    board_version_bump()
    return enrollment


@dataclass
class BulkEnrollResult:
    enrolled: list[Enrollment] = field(default_factory=list)
    skipped: list[tuple[Lead, str]] = field(default_factory=list)


def enrollments_create_bulk(*, leads: list[Lead], sequence: Sequence, actor: Any = None) -> BulkEnrollResult:
    result = BulkEnrollResult()
    for lead in leads:
        try:
            result.enrolled.append(enrollment_create(lead=lead, sequence=sequence, actor=actor))
        except DomainError as exc:
            result.skipped.append((lead, str(exc)))
    return result


def enrollment_preview(*, leads: list[Lead], sequence: Sequence) -> list[tuple[Lead, str]]:
    """(lead, '' or why it would be skipped) for the confirmation page. Writes nothing."""
    rows = []
    for lead in leads:
        try:
            check_can_enroll(lead=lead, sequence=sequence)
        except DomainError as exc:
            rows.append((lead, str(exc)))
        else:
            rows.append((lead, ""))
    return rows


@transaction.atomic
def enrollment_stop(*, enrollment: Enrollment, reason: str, actor: Any = None, actor_label: str = "") -> Enrollment:
    row = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if row.status not in LIVE:
        return row
    row.status = Enrollment.Status.STOPPED
    row.stop_reason = reason[:255]
    row.stopped_at = timezone.now()
    row.next_due_at = None
    row.save()
    timeline_record(
        lead=row.lead,
        kind=OutreachEventKind.ENROLLMENT_STOPPED,
        summary=f"Sequence {row.sequence} stopped: {reason}",
        data={"enrollment_id": row.pk},
    )
    audit_record(verb="enrollment.stopped", obj=row, actor=actor, actor_label=actor_label, details={"reason": reason})
    board_version_bump()
    return row


def enrollments_stop_for_lead(*, lead_id: int, reason: str, actor_label: str) -> int:
    stopped = 0
    for enrollment in Enrollment.objects.filter(lead_id=lead_id, status__in=LIVE):
        enrollment_stop(enrollment=enrollment, reason=reason, actor_label=actor_label)
        stopped += 1
    return stopped


@transaction.atomic
def enrollment_pause(*, enrollment: Enrollment, actor: Any) -> Enrollment:
    updated = Enrollment.objects.filter(pk=enrollment.pk, status=Enrollment.Status.ACTIVE).update(
        status=Enrollment.Status.PAUSED, updated_at=timezone.now()
    )
    if updated:
        audit_record(verb="enrollment.paused", obj=enrollment, actor=actor)
    return Enrollment.objects.get(pk=enrollment.pk)


@transaction.atomic
def enrollment_resume(*, enrollment: Enrollment, actor: Any) -> Enrollment:
    row = Enrollment.objects.select_for_update().select_related("lead").get(pk=enrollment.pk)
    if row.status != Enrollment.Status.PAUSED:
        raise DomainError("Only paused enrollments can be resumed.")
    if row.lead.stage in SEQUENCE_STOP_STAGES or is_suppressed(row.lead.email_normalized):
        raise DomainError("This lead can no longer be emailed by a sequence (they replied, moved on or unsubscribed).")
    row.status = Enrollment.Status.ACTIVE
    if row.next_due_at is not None and row.next_due_at < timezone.now():
        row.next_due_at = timezone.now()
    row.save()
    audit_record(verb="enrollment.resumed", obj=row, actor=actor)
    return row


def enrollment_step_done(*, enrollment_id: int, message: OutboundMessage) -> None:
    """The step's message was sent or rejected: schedule the next step, or complete."""
    row = Enrollment.objects.select_for_update().filter(pk=enrollment_id).first()
    if row is None or row.status not in LIVE:
        return
    position = message.step.position if message.step_id and message.step else row.next_step
    following = row.sequence.steps.filter(position__gt=position).order_by("position").first()
    if following is None:
        row.status = Enrollment.Status.COMPLETED
        row.next_due_at = None
    else:
        row.next_step = following.position
        row.next_due_at = (message.sent_at or timezone.now()) + timedelta(hours=following.delay_hours)
    row.save()


def sequence_auto_enroll(*, now: datetime | None = None, within: timedelta = timedelta(days=2)) -> dict[str, int]:
    """Enroll new leads of SEQUENCE_AUTO_ENROLL_SOURCE (idempotent: skips anyone ever enrolled)."""
    source = settings.SEQUENCE_AUTO_ENROLL_SOURCE
    if not source:
        return {"skipped": 1}
    sequences = Sequence.objects.filter(is_active=True)
    if settings.SEQUENCE_AUTO_ENROLL_SEQUENCE:
        sequences = sequences.filter(name=settings.SEQUENCE_AUTO_ENROLL_SEQUENCE)
    sequence = sequences.order_by("created_at", "pk").first()
    if sequence is None:
        logger.warning("sequence.auto_enroll_no_sequence", extra={"source": source})
        return {"enrolled": 0}
    now = now or timezone.now()
    candidates = (
        Lead.objects.filter(
            source=source, stage="new", merged_into__isnull=True, created_at__gte=now - within, enrollments__isnull=True
        )
        .exclude(email_normalized="")
        .order_by("created_at")[:200]
    )
    enrolled = skipped = 0
    for lead in candidates:
        try:
            enrollment_create(lead=lead, sequence=sequence, actor_label=f"auto-enroll:{source}")
            enrolled += 1
        except DomainError:
            skipped += 1
    return {"enrolled": enrolled, "skipped": skipped}
