"""Drafting: turning each sequence step that came due into a draft for the review queue.

The copy comes from Anthropic when configured (`outreach.clients.anthropic`), else from the
step's template. Whatever is written is only ever a draft: a person approves it before it can
be sent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.template import Context, Engine
from django.utils import timezone

from clientsflow.site import lead_signature
from leads.models import Lead
from outreach.clients import anthropic as anthropic_client
from outreach.models import Enrollment, InboundReply, OutboundMessage, SequenceStep
from outreach.selectors import lead_thread
from outreach.services.review import outbound_draft_create
from outreach.services.sequences import SEQUENCE_STOP_STAGES, enrollment_stop
from outreach.services.suppression import is_suppressed

logger = logging.getLogger(__name__)

DRAFT_BATCH = 50
_ENGINE = Engine(autoescape=False)  # plain-text email: no HTML escaping of the lead's name


def lead_variables(lead: Lead) -> dict[str, str]:
    name = lead.name.strip()
    return {
        "name": name,
        "first_name": name.split()[0] if name else "there",
        "company": lead.company or "your company",
        "email": lead.email,
    }


def render_step(*, step: SequenceStep, lead: Lead) -> tuple[str, str]:
    context = Context({"lead": lead_variables(lead), "signature": lead_signature()})
    subject = _ENGINE.from_string(step.subject_template).render(context)
    body = _ENGINE.from_string(step.body_template).render(context)
    return " ".join(subject.split()), body.strip()


def draft_for_step(*, enrollment: Enrollment, step: SequenceStep) -> OutboundMessage:
    """Write the step's email (Anthropic when configured, else the template) as a draft."""
    lead = enrollment.lead
    subject, body = render_step(step=step, lead=lead)
    origin = "template"
    if anthropic_client.enabled():
        try:
            draft = anthropic_client.draft_email(
                lead={**lead_variables(lead), "stage": lead.stage},
                thread=lead_thread(lead),
                intent=step.intent,
                template={"subject": subject, "body": body},
            )
        except anthropic_client.DraftingUnavailable as exc:
            logger.warning("sequence.draft_fallback", extra={"enrollment_id": enrollment.pk, "reason": str(exc)})
            origin = "template (Anthropic failed)"
        else:
            subject, body, origin = draft.subject, draft.body, draft.origin
    return outbound_draft_create(
        lead=lead, subject=subject, body=body, origin=origin, kind="sequence", enrollment=enrollment, step=step
    )


def _stop_reason(lead: Lead) -> str:
    if lead.merged_into_id:
        return "the lead was merged into another"
    if lead.stage in SEQUENCE_STOP_STAGES:
        return f"the lead is {lead.get_stage_display()}"
    if is_suppressed(lead.email_normalized):
        return "the lead unsubscribed"
    if InboundReply.objects.filter(lead=lead).exists():
        return "the lead replied"
    return ""


def sequence_drafts_due(*, now: datetime | None = None, limit: int = DRAFT_BATCH) -> dict[str, int]:
    """The dispatcher job: turn every due step into a draft (bounded batch)."""
    now = now or timezone.now()
    due_ids = list(
        Enrollment.objects.filter(status=Enrollment.Status.ACTIVE, next_due_at__lte=now)
        .order_by("next_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"drafted": 0, "stopped": 0, "completed": 0}
    for pk in due_ids:
        with transaction.atomic():
            enrollment = (
                Enrollment.objects.select_for_update(of=("self",))
                .select_related("lead", "sequence")
                .filter(pk=pk, status=Enrollment.Status.ACTIVE, next_due_at__lte=now)
                .first()
            )
            if enrollment is None:
                continue
            reason = _stop_reason(enrollment.lead)
            if reason or not enrollment.sequence.is_active:
                enrollment_stop(enrollment=enrollment, reason=reason or "the sequence was deactivated")
                counts["stopped"] += 1
                continue
            step = enrollment.sequence.steps.filter(position__gte=enrollment.next_step).order_by("position").first()
            if step is None:
                enrollment.status = Enrollment.Status.COMPLETED
                enrollment.next_due_at = None
                enrollment.save()
                counts["completed"] += 1
                continue
            enrollment.next_step = step.position
            enrollment.next_due_at = None  # the next step is scheduled once this one is sent
            enrollment.save()
        # Drafting may call Anthropic: outside the row lock, so a slow model holds no lock.
        draft_for_step(enrollment=enrollment, step=step)
        counts["drafted"] += 1
    return counts
