"""The match chain: which lead a call belongs to, each step recorded on the call.

Order: 1. `client_reference_id` (a lead's public id) -> 2. a participant email equals a lead's
normalized email -> 3. the meeting is already linked to a lead -> 4. the booking whose Google
event id or Meet link is the meeting's -> otherwise unmatched, with fuzzy suggestions that a
person confirms with one click (`call_confirm_match`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bookings.models import Booking
from calls.models import Call, CallEventKind
from calls.services.notion_sync import call_notion_sync_queue
from calls.services.suggestions import call_signals, call_suggestions, is_internal_email
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError, InvalidInput
from leads.models import Lead, Stage
from leads.services.identity import normalize_email
from leads.services.intake import LeadData, lead_intake
from leads.services.stages import lead_advance_stage
from leads.services.timeline import timeline_record

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "fireflies"


@dataclass
class MatchResult:
    lead: Lead | None
    method: str
    confidence: float
    steps: list[dict[str, Any]] = field(default_factory=list)
    timezone: str = ""


def _active(lead: Lead | None) -> Lead | None:
    """Follow merges to the surviving lead."""
    hops = 0
    while lead is not None and lead.merged_into_id is not None and hops < 10:
        lead = lead.merged_into
        hops += 1
    return lead


def normalize_meeting_link(url: str) -> str:
    """`https://meet.google.com/abc-defg-hij?authuser=0` -> `meet.google.com/abc-defg-hij`."""
    if not url:
        return ""
    parts = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    return f"{parts.netloc.lower()}{parts.path.rstrip('/').lower()}"


def _step_client_reference(call: Call) -> tuple[Lead | None, dict[str, Any]]:
    ref = (call.client_reference_id or "").strip()
    if not ref:
        return None, {"step": "client_reference", "result": "skipped", "detail": "no client reference id"}
    try:
        public_id = uuid.UUID(ref)
    except ValueError:
        return None, {"step": "client_reference", "result": "no_match", "detail": "not a lead's public id"}
    lead = _active(Lead.objects.filter(public_id=public_id).select_related("merged_into").first())
    if lead is None:
        return None, {"step": "client_reference", "result": "no_match", "detail": "no lead has this public id"}
    return lead, {"step": "client_reference", "result": "matched", "lead_id": lead.pk}


def _step_email(call: Call) -> tuple[Lead | None, dict[str, Any]]:
    emails: set[str] = set()
    for raw in [*call.participants, *(a.get("email", "") for a in call.attendees)]:
        try:
            email = normalize_email(raw)
        except InvalidInput:
            continue
        if email and email != (call.organizer_email or "").lower():
            emails.add(email)
    if not emails:
        return None, {"step": "email", "result": "skipped", "detail": "no participant emails"}
    leads = {
        lead.pk: lead
        for lead in (
            _active(lead)
            for lead in Lead.objects.filter(email_normalized__in=sorted(emails)).select_related("merged_into")
        )
        if lead is not None
    }
    if not leads:
        return None, {"step": "email", "result": "no_match", "detail": f"{len(emails)} participant email(s), no lead"}
    if len(leads) > 1:
        return None, {
            "step": "email",
            "result": "ambiguous",
            "detail": f"participants belong to {len(leads)} different leads",
            "lead_ids": sorted(leads),
        }
    lead = next(iter(leads.values()))
    return lead, {"step": "email", "result": "matched", "lead_id": lead.pk}


def _step_meeting_id(call: Call) -> tuple[Lead | None, dict[str, Any]]:
    if call.lead_id is None:
        return None, {"step": "meeting_id", "result": "no_match", "detail": "meeting not linked before"}
    lead = _active(Lead.objects.select_related("merged_into").get(pk=call.lead_id))
    return lead, {"step": "meeting_id", "result": "matched", "lead_id": lead.pk if lead else None}


def _step_booking(call: Call) -> tuple[Lead | None, str, dict[str, Any]]:
    event_ids = [e for e in call.calendar_event_ids if e]
    link = normalize_meeting_link(call.meeting_link)
    if not event_ids and not link:
        return None, "", {"step": "booking", "result": "skipped", "detail": "no calendar event id or meeting link"}
    bookings = list(Booking.objects.filter(google_event_id__in=event_ids).select_related("lead")) if event_ids else []
    how = "calendar event id"
    if not bookings and link:
        # Meet links are stored as given; compare them normalized (scheme, query, case).
        host_path = link.split("/", 1)
        candidates = Booking.objects.filter(meet_url__icontains=host_path[-1]).select_related("lead")
        bookings = [b for b in candidates if normalize_meeting_link(b.meet_url) == link]
        how = "Meet link"
    leads = {b.lead_id: b for b in bookings}
    if not leads:
        return None, "", {"step": "booking", "result": "no_match", "detail": "no booking has this event or link"}
    if len(leads) > 1:
        return None, "", {"step": "booking", "result": "ambiguous", "detail": f"{len(leads)} leads' bookings match"}
    booking = next(iter(leads.values()))
    lead = _active(booking.lead)
    return (
        lead,
        booking.timezone,
        {
            "step": "booking",
            "result": "matched",
            "lead_id": lead.pk if lead else None,
            "booking_id": booking.pk,
            "by": how,
        },
    )


def match_chain(*, call: Call) -> MatchResult:
    """Run the chain (reads only). Each step's outcome is in `steps`."""
    steps: list[dict[str, Any]] = []
    for method, step in (
        (Call.MatchMethod.CLIENT_REFERENCE, _step_client_reference),
        (Call.MatchMethod.EMAIL, _step_email),
        (Call.MatchMethod.MEETING_ID, _step_meeting_id),
    ):
        lead, record = step(call)
        steps.append(record)
        if lead is not None:
            return MatchResult(lead=lead, method=method, confidence=1.0, steps=steps)
    lead, zone, record = _step_booking(call)
    steps.append(record)
    if lead is not None:
        return MatchResult(lead=lead, method=Call.MatchMethod.BOOKING, confidence=0.9, steps=steps, timezone=zone)
    steps.append({"step": "unmatched", "result": "unmatched", "detail": "waiting for a person to confirm a lead"})
    return MatchResult(lead=None, method=Call.MatchMethod.UNMATCHED, confidence=0.0, steps=steps)


def _link(*, call: Call, lead: Lead, actor: Any, actor_label: str) -> None:
    """Advance the lead to call_done (from booked) and put the call on its timeline once."""
    lead_advance_stage(
        lead=lead,
        to_stage=Stage.CALL_DONE,
        actor_label=actor_label,
        reason=f"Sales call recorded: {call.title or call.fireflies_id}"[:255],
    )
    timeline_record(
        lead=lead,
        kind=CallEventKind.CALL,
        summary=f"Sales call: {call.title or 'untitled'}",
        data={
            "call_id": call.pk,
            "fireflies_id": call.fireflies_id,
            "recording_url": call.recording_url,
            "transcript_url": call.transcript_url,
            "matched_by": call.match_method,
        },
        once_per="call_id",
    )
    audit_record(
        verb="call.matched",
        obj=call,
        actor=actor,
        actor_label=actor_label,
        details={"lead_id": lead.pk, "method": call.match_method, "confidence": call.match_confidence},
    )


@transaction.atomic
def call_match(*, call: Call, actor_label: str = SYSTEM_ACTOR) -> Call:
    """Run the chain on a fetched call and record it. A person's confirmation is never overridden."""
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.match_method == Call.MatchMethod.HUMAN and call.lead_id:
        return call
    result = match_chain(call=call)
    call.match_steps = result.steps
    call.timezone = result.timezone or call.timezone or settings.OWNER_TIMEZONE
    if result.lead is None:
        call.lead = None
        call.match_method = Call.MatchMethod.UNMATCHED
        call.match_confidence = 0.0
        call.match_suggestions = call_suggestions(call=call)
        call.matched_at = None
        call.matched_by = ""
        call.save()
        logger.info("call.unmatched", extra={"call_id": call.pk, "suggestions": len(call.match_suggestions)})
        board_version_bump()
        return call
    call.lead = result.lead
    call.match_method = result.method
    call.match_confidence = result.confidence
    call.match_suggestions = []
    call.matched_at = call.matched_at or timezone.now()
    call.matched_by = actor_label
    call.save()
    _link(call=call, lead=result.lead, actor=None, actor_label=actor_label)
    logger.info("call.matched", extra={"call_id": call.pk, "lead_id": result.lead.pk, "method": result.method})
    board_version_bump()
    return call


def check_confirm_match(*, call: Call, lead: Lead) -> None:
    if lead.merged_into_id:
        raise DomainError("That lead was merged into another; pick the surviving lead.")
    if call.status != Call.Status.FETCHED:
        raise DomainError("The transcript has not been fetched yet; try again once it is in.")


@transaction.atomic
def call_confirm_match(*, call: Call, lead: Lead, actor: Any) -> Call:
    """A person says which lead the call belongs to (the one-click confirm)."""
    call = Call.objects.select_for_update().get(pk=call.pk)
    check_confirm_match(call=call, lead=lead)
    label = actor.get_username() if getattr(actor, "is_authenticated", False) else "someone"
    suggestion = next((s for s in call.match_suggestions if s.get("lead_id") == lead.pk), None)
    call.match_steps = [
        *call.match_steps,
        {
            "step": "human",
            "result": "matched",
            "lead_id": lead.pk,
            "by": label,
            "suggestion_score": suggestion["score"] if suggestion else None,
        },
    ]
    call.lead = lead
    call.match_method = Call.MatchMethod.HUMAN
    call.match_confidence = 1.0
    call.matched_at = timezone.now()
    call.matched_by = label[:100]
    call.save()
    _link(call=call, lead=lead, actor=actor, actor_label=label)
    board_version_bump()
    call_notion_sync_queue(call=call)
    return call


__all__ = ["call_confirm_match", "call_match", "call_signals", "match_chain", "normalize_meeting_link"]


def call_new_lead_details(*, call: Call) -> dict[str, str] | None:
    """Who a new lead made from this call would be: its first attendee from outside the team."""
    organizer = (call.organizer_email or "").lower()
    for attendee in call.attendees:
        email = str(attendee.get("email") or "").strip().lower() if isinstance(attendee, dict) else ""
        if email and not is_internal_email(email, organizer):
            return {"name": str(attendee.get("name") or ""), "email": email}
    for raw in call.participants:
        email = str(raw).strip().lower()
        if email and not is_internal_email(email, organizer):
            return {"name": "", "email": email}
    return None


@transaction.atomic
def call_create_lead(*, call: Call, actor: Any) -> Lead:
    """ "Create a new lead from this call": the outside attendee becomes a lead (or the lead that
    already has that address is used), and the call is matched to it as a person's choice."""
    call = Call.objects.select_for_update().get(pk=call.pk)
    if call.lead_id:
        raise DomainError("This call is already matched to a lead.")
    person = call_new_lead_details(call=call)
    if person is None:
        raise InvalidInput("Nobody from outside your team is on this call: add the lead under Leads, then confirm it.")
    label = actor.get_username() if getattr(actor, "is_authenticated", False) else "someone"
    result = lead_intake(
        data=LeadData.build(name=person["name"], email=person["email"]), source="call", actor_label=label, via="call"
    )
    call_confirm_match(call=call, lead=result.lead, actor=actor)
    return result.lead
