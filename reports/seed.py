"""Believable report data in bulk: leads with stage history, outreach, bookings and calls,
proposals and payments, classified replies. Used by `make bench` (100,000 leads) and the tests.

Rows are written with bulk inserts. Stage changes are inserted with raw SQL because
`changed_at` is `auto_now_add` and the history must be spread over past months.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from billing.models import Payment, Proposal
from bookings.models import Booking, EventType, Host
from calls.models import Call
from classify.models import Classification, Label
from leads.models import Lead, LeadEvent, Stage
from outreach.models import Enrollment, InboundReply, OutboundMessage, OutreachEventKind, Sequence, SequenceStep

SOURCES = ("website", "ghl", "referral")
PATH = [Stage.CONTACTED, Stage.REPLIED, Stage.BOOKED, Stage.CALL_DONE, Stage.PROPOSAL_SENT, Stage.SIGNED, Stage.PAID]
BATCH = 5000


@dataclass(frozen=True)
class Seeded:
    leads: int
    stage_changes: int
    messages: int
    replies: int
    bookings: int
    proposals: int


def _chunks(rows: list, size: int = BATCH):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


@transaction.atomic
def seed_report_data(*, leads: int, now: datetime, seed: int = 5, prefix: str = "report") -> Seeded:
    rng = random.Random(seed)
    approver, _ = get_user_model().objects.get_or_create(username=f"{prefix}-approver", defaults={"is_staff": True})
    lead_rows = []
    for i in range(leads):
        email = f"{prefix}{i}@example.com"
        lead_rows.append(
            Lead(name=f"Report Lead {i}", email=email, email_normalized=email, source=SOURCES[i % len(SOURCES)])
        )
    for chunk in _chunks(lead_rows):
        Lead.objects.bulk_create(chunk)
    ids = list(Lead.objects.filter(email_normalized__startswith=prefix).order_by("id").values_list("id", flat=True))

    created: dict[int, datetime] = {}
    changes: list[tuple[int, str, str, datetime]] = []
    final_stage: dict[int, str] = {}
    last_change: dict[int, datetime | None] = {}
    reached_at: dict[int, dict[str, datetime]] = {}
    for lead_id in ids:
        at = now - timedelta(days=rng.uniform(0, 200))
        created[lead_id] = at
        stage, steps = Stage.NEW.value, {}
        for nxt in PATH:
            if rng.random() > 0.55:
                break
            if nxt in (Stage.CONTACTED, Stage.REPLIED) and rng.random() < 0.15:
                continue  # events skip stages
            at = at + timedelta(hours=rng.uniform(2, 24 * 20))
            if at >= now:
                break
            changes.append((lead_id, stage, nxt.value, at))
            steps[nxt.value] = at
            stage = nxt.value
        if stage not in (Stage.PAID,) and rng.random() < 0.1:
            at = at + timedelta(days=rng.uniform(1, 10))
            if at < now:
                changes.append((lead_id, stage, Stage.LOST.value, at))
                stage = Stage.LOST.value
        final_stage[lead_id] = stage
        last_change[lead_id] = changes[-1][3] if changes and changes[-1][0] == lead_id else None
        reached_at[lead_id] = steps

    with connection.cursor() as cursor:
        for chunk in _chunks(list(created.items())):
            cursor.executemany(
                "UPDATE leads_lead SET created_at = %s, stage = %s, stage_changed_at = %s WHERE id = %s",
                [
                    (
                        connection.ops.adapt_datetimefield_value(at),
                        final_stage[lid],
                        connection.ops.adapt_datetimefield_value(last_change[lid]),
                        lid,
                    )
                    for lid, at in chunk
                ],
            )
        # Each stay ends at the lead's next change, as the stage service records it.
        ends = [
            following[3] if following[0] == change[0] else None
            for change, following in zip(changes, [*changes[1:], (None, "", "", None)], strict=True)
        ]
        rows = [
            (
                lid,
                f,
                t,
                connection.ops.adapt_datetimefield_value(at),
                connection.ops.adapt_datetimefield_value(left),
                (left - at).total_seconds() if left else None,
            )
            for (lid, f, t, at), left in zip(changes, ends, strict=True)
        ]
        for chunk in _chunks(rows):
            cursor.executemany(
                "INSERT INTO leads_stagechange"
                " (lead_id, from_stage, to_stage, actor_label, reason, changed_at, left_at, seconds_in_stage)"
                " VALUES (%s, %s, %s, 'seed', '', %s, %s, %s)",
                chunk,
            )

    # Outreach: two sequences of three steps; contacted leads got emails, some replied.
    sequences = []
    for name in (f"{prefix} cold", f"{prefix} warm"):
        sequence = Sequence.objects.create(name=name)
        seq_steps = [
            SequenceStep.objects.create(
                sequence=sequence, position=p, delay_hours=48 * (p - 1), subject_template="Hi", body_template="Hello"
            )
            for p in (1, 2, 3)
        ]
        sequences.append((sequence, seq_steps))
    enrollments, messages = [], []
    plan: list[tuple[int, int, list[tuple[int, datetime, str]]]] = []
    for lead_id in ids:
        first = reached_at[lead_id].get(Stage.CONTACTED)
        if first is None:
            continue
        which = lead_id % 2
        sends: list[tuple[int, datetime, str]] = []
        at = first
        for position in (1, 2, 3):
            if at >= now:
                break
            send_status = OutboundMessage.Status.FAILED if rng.random() < 0.05 else OutboundMessage.Status.SENT
            sends.append((position, at, send_status))
            at = at + timedelta(days=rng.uniform(1, 6))
            if rng.random() < 0.35:
                break
        plan.append((lead_id, which, sends))
        enrollments.append(Enrollment(lead_id=lead_id, sequence=sequences[which][0], enrolled_by="seed"))
    for chunk in _chunks(enrollments):
        Enrollment.objects.bulk_create(chunk)
    enrollment_ids = dict(Enrollment.objects.filter(sequence__name__startswith=prefix).values_list("lead_id", "id"))
    for lead_id, which, sends in plan:
        for position, at, status in sends:
            sent = status == OutboundMessage.Status.SENT
            messages.append(
                OutboundMessage(
                    lead_id=lead_id,
                    enrollment_id=enrollment_ids[lead_id],
                    step=sequences[which][1][position - 1],
                    to_email=f"{prefix}{lead_id}@example.com",
                    subject="Hi",
                    body="Hello",
                    status=status,
                    origin="template",
                    approved_by=approver,
                    approved_at=at,
                    approved_hash="seed" if sent else "",
                    message_id=f"<{uuid.uuid4()}@seed>",
                    sent_at=at if sent else None,
                )
            )
    for chunk in _chunks(messages):
        OutboundMessage.objects.bulk_create(chunk)

    replies, events = [], []
    for lead_id in ids:
        replied = reached_at[lead_id].get(Stage.REPLIED)
        if replied is None or lead_id not in enrollment_ids:
            continue
        replies.append(
            InboundReply(
                lead_id=lead_id,
                source=InboundReply.Source.DEMO,
                from_email=f"{prefix}{lead_id}@example.com",
                from_email_normalized=f"{prefix}{lead_id}@example.com",
                message_id=f"<r{uuid.uuid4()}@seed>",
                matched_by=InboundReply.MatchedBy.SENDER,
                received_at=replied,
            )
        )
        if rng.random() < 0.08:
            events.append(
                LeadEvent(lead_id=lead_id, kind=OutreachEventKind.UNSUBSCRIBED, summary="Unsubscribed", at=replied)
            )
    for chunk in _chunks(replies):
        InboundReply.objects.bulk_create(chunk)
    for chunk in _chunks(events):
        LeadEvent.objects.bulk_create(chunk)
    labels = [Label.POSITIVE.value, Label.NEGATIVE.value, Label.NEUTRAL.value]
    classifications = []
    reply_ids = InboundReply.objects.filter(from_email_normalized__startswith=prefix).values_list("id", flat=True)
    for reply_id in reply_ids:
        label = rng.choice(labels)
        routed = rng.random() < 0.3
        reviewed = routed and rng.random() < 0.7
        final = (rng.choice(labels) if rng.random() < 0.3 else label) if reviewed else ""
        classifications.append(
            Classification(
                reply_id=reply_id,
                label=label,
                confidence=0.8,
                backend="local",
                needs_review=routed and not reviewed,
                review_reason="borderline" if routed else "",
                final_label=final,
                reviewed_at=now if reviewed else None,
            )
        )
    for chunk in _chunks(classifications):
        Classification.objects.bulk_create(chunk)

    # Bookings on distinct half-hour slots per host (no double booking), calls for most past ones.
    hosts = [
        Host.objects.create(name=f"{prefix} host {h}", email=f"host{h}@agency.example", timezone="UTC")
        for h in range(4)
    ]
    types = [EventType.objects.create(host=h, slug=f"{prefix}-intro-{h.pk}", title="Intro") for h in hosts]
    used: set[tuple[int, datetime]] = set()
    bookings, calls = [], []
    for lead_id in ids:
        booked = reached_at[lead_id].get(Stage.BOOKED)
        if booked is None:
            continue
        start = booked + timedelta(days=rng.uniform(1, 7))
        start = start.replace(minute=30 if start.minute >= 30 else 0, second=0, microsecond=0)
        h = lead_id % len(hosts)
        while (h, start) in used:
            start += timedelta(minutes=30)
        used.add((h, start))
        end = start + timedelta(minutes=30)
        roll = rng.random()
        booking_status = Booking.Status.CANCELLED if roll < 0.1 else Booking.Status.CONFIRMED
        bookings.append(
            Booking(
                host=hosts[h],
                event_type=types[h],
                lead_id=lead_id,
                start_at=start,
                end_at=end,
                buffered_start=start,
                buffered_end=end,
                timezone="UTC",
                status=booking_status,
                name="Lead",
                email=f"{prefix}{lead_id}@example.com",
                rescheduled_at=start - timedelta(days=1) if 0.1 <= roll < 0.2 else None,
                cancelled_at=start - timedelta(days=1) if booking_status == Booking.Status.CANCELLED else None,
            )
        )
        if booking_status != Booking.Status.CANCELLED and start < now and rng.random() < 0.75:
            calls.append(
                Call(
                    fireflies_id=f"{prefix}-{lead_id}",
                    lead_id=lead_id,
                    match_method=Call.MatchMethod.BOOKING,
                    started_at=start + timedelta(minutes=3),
                )
            )
    for chunk in _chunks(bookings):
        Booking.objects.bulk_create(chunk)
    for chunk in _chunks(calls):
        Call.objects.bulk_create(chunk)

    proposals = []
    for lead_id in ids:
        reached = reached_at[lead_id]
        proposal_sent = reached.get(Stage.PROPOSAL_SENT)
        if proposal_sent is None:
            continue
        signed, paid = reached.get(Stage.SIGNED), reached.get(Stage.PAID)
        proposal_status = Proposal.Status.PAID if paid else Proposal.Status.SIGNED if signed else Proposal.Status.SENT
        if proposal_status == Proposal.Status.SENT and rng.random() < 0.3:
            proposal_status = Proposal.Status.VIEWED
        proposals.append(
            Proposal(
                lead_id=lead_id,
                title="Website rebuild",
                currency="USD",
                valid_until=date(2030, 1, 1),
                status=proposal_status,
                total_minor=rng.randrange(100_000, 2_000_000, 100),
                sent_at=proposal_sent,
                signed_at=signed,
                paid_at=paid,
            )
        )
    for chunk in _chunks(proposals):
        Proposal.objects.bulk_create(chunk)
    payments = [
        Payment(
            proposal=proposal,
            lead_id=proposal.lead_id,
            checkout_session_id=f"cs_{prefix}_{proposal.pk}",
            amount_minor=proposal.total_minor,
            currency="USD",
            status=Payment.Status.PAID,
            paid_at=proposal.paid_at,
            refunded_minor=proposal.total_minor // 10 if proposal.pk % 7 == 0 else 0,
        )
        for proposal in Proposal.objects.filter(lead_id__in=ids, paid_at__isnull=False)
    ]
    for chunk in _chunks(payments):
        Payment.objects.bulk_create(chunk)
    return Seeded(
        leads=len(ids),
        stage_changes=len(changes),
        messages=len(messages),
        replies=len(replies),
        bookings=len(bookings),
        proposals=len(proposals),
    )
