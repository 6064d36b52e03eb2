"""Demo data for outbound: a sequence, enrollments and messages in every state, a few replies.

`seed_demo` (board/demo.py) runs it right after the demo leads are created.
Approved demo messages are approved by the demo owner with the real hash, so the gate treats
them exactly like real ones (with AUTOSEND on they are sent once, inside the send window).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr

from django.utils import timezone

from clientsflow.demo import DemoContext
from clientsflow.site import lead_from_email
from leads.demo import demo_stage_times
from leads.models import Lead
from leads.services.timeline import timeline_record
from outreach.models import (
    Enrollment,
    InboundReply,
    OutboundMessage,
    OutreachEventKind,
    Sequence,
    SequenceStep,
    Suppression,
    outbound_content_hash,
)
from outreach.services.drafting import lead_variables, render_step
from outreach.services.review import message_id_domain
from outreach.services.suppression import email_hash

STEPS = [
    (
        0,
        "Introduce the agency and ask for a short call.",
        "Quick idea for {{ lead.company }}",
        "Hi {{ lead.first_name }},\n\nI run a small agency that helps teams like {{ lead.company }} ship faster.\nWould a 15-minute call next week be useful?\n\n{{ signature }}",
    ),
    (
        72,
        "Gentle follow-up with one concrete example.",
        "Re: Quick idea for {{ lead.company }}",
        "Hi {{ lead.first_name }},\n\nFollowing up with one example: we cut a client's launch time in half last quarter.\nHappy to share how, if useful.\n\n{{ signature }}",
    ),
    (
        168,
        "Polite last note; leave the door open.",
        "Should I close the loop?",
        "Hi {{ lead.first_name }},\n\nI don't want to crowd your inbox, so this is my last note.\nIf timing changes, just reply and I'll pick it up.\n\n{{ signature }}",
    ),
]
S = OutboundMessage.Status
LATER_STAGES = ("booked", "call_done", "proposal_sent", "signed", "paid")


def _sequence() -> Sequence:
    sequence, created = Sequence.objects.get_or_create(
        name="New lead follow-up", defaults={"description": "Three short emails over ten days."}
    )
    if created:
        for position, (delay, intent, subject, body) in enumerate(STEPS, start=1):
            SequenceStep.objects.create(
                sequence=sequence,
                position=position,
                delay_hours=delay,
                intent=intent,
                subject_template=subject,
                body_template=body,
            )
    return sequence


def _message(
    lead: Lead,
    step: SequenceStep,
    enrollment: Enrollment | None,
    status: str,
    ctx: DemoContext,
    sent_at: datetime | None = None,
) -> OutboundMessage:
    subject, body = render_step(step=step, lead=lead)
    message = OutboundMessage(
        lead=lead,
        kind="sequence",
        enrollment=enrollment,
        step=step,
        to_email=lead.email_normalized,
        subject=subject,
        body=body,
        status=status,
        origin="template",
    )
    message.message_id = f"<cf.{message.public_id.hex}@{message_id_domain()}>"
    now = ctx.now
    if status in (S.APPROVED, S.SENDING, S.SENT, S.UNKNOWN, S.FAILED):
        message.approved_by = ctx.owner
        message.approved_at = now - timedelta(hours=ctx.rng.randint(1, 48))
        message.approved_hash = outbound_content_hash(subject, body)
    if status in (S.SENT,):
        message.sent_at = sent_at or now - timedelta(hours=ctx.rng.randint(1, 240))
        message.approved_at = message.sent_at - timedelta(minutes=ctx.rng.randint(5, 90))
        message.provider_message_id = message.message_id
    if status in (S.SENDING, S.UNKNOWN, S.FAILED):
        message.claimed_at = now - timedelta(minutes=ctx.rng.randint(1, 30))
    if status == S.FAILED:
        message.last_error = "SMTPRecipientsRefused: 550 5.1.1 mailbox unavailable (demo)"
    if status == S.UNKNOWN:
        message.last_error = "SMTPServerDisconnected: connection dropped after DATA (demo)"
    if status == S.REJECTED:
        message.rejected_by = ctx.owner
        message.rejected_reason = "Too generic for this lead (demo)"
    if status == S.BLOCKED:
        message.block_reason = "The recipient is not on SEND_ALLOWLIST. (demo)"
    message.save()
    if message.sent_at:
        timeline_record(
            lead=lead,
            kind=OutreachEventKind.MESSAGE_SENT,
            summary=f"Email sent: {subject}",
            data={"message_id": message.pk},
            occurred_at=message.sent_at,
        )
    return message


def seed_outbound(ctx: DemoContext) -> dict[str, int]:
    sequence = _sequence()
    steps = list(sequence.steps.order_by("position"))

    def with_email(stage: str) -> list[Lead]:
        ids = ctx.leads_by_stage.get(stage, [])
        return list(Lead.objects.filter(pk__in=ids).exclude(email_normalized="").order_by("pk"))

    new, contacted, replied = with_email("new"), with_email("contacted"), with_email("replied")
    later = [lead for stage in LATER_STAGES for lead in with_email(stage)]
    times = demo_stage_times([lead.pk for lead in [*contacted, *replied, *later]])
    counts = {"sequences": 1, "enrollments": 0, "messages": 0, "replies": 0}

    # New leads: active enrollments whose first step is a draft waiting for approval (or approved).
    for index, lead in enumerate(new[:8]):
        enrollment = Enrollment.objects.create(
            lead=lead,
            sequence=sequence,
            next_step=1,
            next_due_at=None,
            enrolled_by="demo",
            status=Enrollment.Status.PAUSED if index == 7 else Enrollment.Status.ACTIVE,
        )
        counts["enrollments"] += 1
        _message(lead, steps[0], enrollment, S.APPROVED if index in (0, 1) else S.DRAFT, ctx)
        counts["messages"] += 1

    # Contacted leads: the first step went out; the second is in some state of the pipeline.
    later_states = [S.DRAFT, S.APPROVED, S.SENDING, S.FAILED, S.UNKNOWN, S.REJECTED, S.BLOCKED, S.SENT]
    for index, lead in enumerate(contacted[: len(later_states)]):
        status = later_states[index]
        enrollment = Enrollment.objects.create(
            lead=lead,
            sequence=sequence,
            next_step=2,
            enrolled_by="demo",
            status=Enrollment.Status.COMPLETED if status == S.SENT else Enrollment.Status.ACTIVE,
        )
        counts["enrollments"] += 1
        _message(lead, steps[0], enrollment, S.SENT, ctx, sent_at=times.get(lead.pk, {}).get("contacted"))
        _message(lead, steps[2] if status == S.SENT else steps[1], enrollment, status, ctx)
        counts["messages"] += 2

    # Replied leads: a sent email, the lead's reply threaded to it, the enrollment stopped.
    # Leads further along: the first email went out when they became `contacted`, and the sequence
    # stopped when they replied (classify/demo.py adds the reply itself, at the `replied` time).
    for lead in later:
        stage_times = times.get(lead.pk, {})
        if "contacted" not in stage_times:
            continue
        enrollment = Enrollment.objects.create(
            lead=lead,
            sequence=sequence,
            next_step=2,
            enrolled_by="demo",
            status=Enrollment.Status.STOPPED,
            stop_reason="the lead replied",
            stopped_at=stage_times.get("replied", ctx.now),
        )
        _message(lead, steps[0], enrollment, S.SENT, ctx, sent_at=stage_times["contacted"])
        counts["enrollments"] += 1
        counts["messages"] += 1

    for lead in replied[:4]:
        stage_times = times.get(lead.pk, {})
        replied_at = stage_times.get("replied", ctx.now)
        enrollment = Enrollment.objects.create(
            lead=lead,
            sequence=sequence,
            next_step=2,
            enrolled_by="demo",
            status=Enrollment.Status.STOPPED,
            stop_reason="the lead replied",
            stopped_at=replied_at,
        )
        sent = _message(
            lead,
            steps[0],
            enrollment,
            S.SENT,
            ctx,
            sent_at=stage_times.get("contacted", replied_at - timedelta(hours=5)),
        )
        first = lead_variables(lead)["first_name"]
        InboundReply.objects.create(
            lead=lead,
            source=InboundReply.Source.DEMO,
            from_email=lead.email,
            from_email_normalized=lead.email_normalized,
            to_email=parseaddr(lead_from_email())[1],  # the address our first email came from
            subject=f"Re: {sent.subject}",
            body=ctx.rng.choice(
                [
                    f"Hi, thanks for reaching out. Could we talk Thursday afternoon? — {first}",
                    "Not right now, maybe next quarter.",
                    "Please remove me from your list.",
                ]
            ),
            message_id=f"<demo-reply-{lead.pk}@{lead.email_normalized.split('@')[-1]}>",
            in_reply_to=sent.message_id,
            references=sent.message_id,
            matched_by=InboundReply.MatchedBy.IN_REPLY_TO,
            received_at=replied_at,
        )
        timeline_record(
            lead=lead,
            kind=OutreachEventKind.REPLY_RECEIVED,
            summary=f"Reply received: Re: {sent.subject}",
            data={"via": "demo data"},
            occurred_at=replied_at,
        )
        counts["enrollments"] += 1
        counts["messages"] += 1
        counts["replies"] += 1

    # One reply nobody could match, for the "needs you" panel.
    InboundReply.objects.get_or_create(
        message_id="<demo-unmatched@elsewhere.example>",
        defaults={
            "source": InboundReply.Source.DEMO,
            "from_email": "assistant@elsewhere.example",
            "from_email_normalized": "assistant@elsewhere.example",
            "to_email": parseaddr(lead_from_email())[1],
            "subject": "Re: Quick idea",
            "body": "Forwarding this to my manager.",
            "received_at": timezone.now(),
        },
    )
    Suppression.objects.get_or_create(
        email_hash=email_hash("unsubscribed@example.com"),
        defaults={"reason": "unsubscribe_link", "actor_label": "demo"},
    )
    return counts
