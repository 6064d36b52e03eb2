"""Demo calls for `seed_demo`: a matched call for every lead past the call, and a few unmatched ones."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from bookings.models import Booking
from calls.models import Call, CallEventKind
from calls.services.suggestions import call_suggestions
from clientsflow.demo import DemoContext
from leads.demo import demo_stage_times
from leads.models import Lead
from leads.services.timeline import timeline_record

STAGES_WITH_A_CALL = ("call_done", "proposal_sent", "signed", "paid")
UNMATCHED_PEOPLE = [
    ("Jordan Vale", "jordan@vale-partners.example", "Intro: Vale Partners"),
    ("Priya N.", "priya.n@gmail.com", "Quick chat about the website"),
    ("Sam Ortiz", "sam.ortiz@bluefinch.example", "Discovery call - Bluefinch"),
]
SUMMARY = (
    "Walked through the current site and the lead's goals for the next quarter. Budget is agreed in principle; "
    "they want a proposal with two options and a timeline by next week."
)


def seed_calls(ctx: DemoContext) -> dict[str, int]:
    lead_ids = [lead_id for stage in STAGES_WITH_A_CALL for lead_id in ctx.leads_by_stage.get(stage, [])]
    matched = 0
    times = demo_stage_times(lead_ids)
    # The call happened at the lead's booking (bookings/demo.py); its transcript was matched when
    # the stage history says the lead reached `call_done`.
    booked_starts = dict(
        Booking.objects.filter(lead_id__in=lead_ids, status=Booking.Status.CONFIRMED)
        .order_by("lead_id", "start_at")
        .values_list("lead_id", "start_at")
    )
    for lead in Lead.objects.filter(pk__in=lead_ids).order_by("pk"):
        recorded_at = times.get(lead.pk, {}).get("call_done") or ctx.now - timedelta(days=ctx.rng.randint(2, 40))
        started = booked_starts.get(lead.pk) or recorded_at - timedelta(minutes=45)
        call = Call.objects.create(
            fireflies_id=f"demo-{lead.public_id.hex[:16]}",
            status=Call.Status.FETCHED,
            title=f"Discovery call with {lead.name or lead.email}",
            started_at=started,
            timezone=settings.OWNER_TIMEZONE,
            duration_seconds=ctx.rng.choice([1500, 1800, 2400, 2700]),
            organizer_email="owner@clientsflow.example",
            participants=["owner@clientsflow.example", lead.email_normalized],
            attendees=[{"name": lead.name, "email": lead.email_normalized}],
            transcript_url=f"https://app.fireflies.ai/view/demo-{lead.public_id.hex[:16]}",
            summary=SUMMARY,
            transcript_text="Owner: Thanks for making the time.\nLead: Happy to, let's dig in.",
            fetched_at=recorded_at,
            lead=lead,
            match_method=Call.MatchMethod.EMAIL,
            match_confidence=1.0,
            match_steps=[
                {"step": "client_reference", "result": "skipped", "detail": "no client reference id"},
                {"step": "email", "result": "matched", "lead_id": lead.pk},
            ],
            matched_at=recorded_at,
            matched_by="demo",
            notion_status=Call.NotionStatus.NOT_CONFIGURED,
        )
        timeline_record(
            lead=lead,
            kind=CallEventKind.CALL,
            summary=f"Sales call: {call.title}",
            data={"call_id": call.pk, "transcript_url": call.transcript_url, "matched_by": "email"},
            occurred_at=call.matched_at,
        )
        matched += 1
    unmatched = 0
    for index, (name, email, title) in enumerate(UNMATCHED_PEOPLE):
        started = ctx.now - timedelta(days=index + 1, hours=ctx.rng.randint(0, 6))
        call = Call.objects.create(
            fireflies_id=f"demo-unmatched-{ctx.rng.getrandbits(48):012x}",
            status=Call.Status.FETCHED,
            title=title,
            started_at=started,
            timezone=settings.OWNER_TIMEZONE,
            duration_seconds=1800,
            organizer_email="owner@clientsflow.example",
            participants=["owner@clientsflow.example", email],
            attendees=[{"name": name, "email": email}],
            summary="A call nobody matched yet: confirm the lead from the suggestions.",
            fetched_at=started + timedelta(minutes=35),
            match_steps=[{"step": "unmatched", "result": "unmatched", "detail": "demo"}],
            notion_status=Call.NotionStatus.NOT_CONFIGURED,
        )
        call.match_suggestions = call_suggestions(call=call)
        call.save(update_fields=["match_suggestions"])
        unmatched += 1
    return {"calls_matched": matched, "calls_unmatched": unmatched}
