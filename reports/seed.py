"""Believable report data in bulk: leads with stage history and a timeline, outreach (sequence
emails, the owner's one-off answers, replies and their labels, unsubscribes, bounces), bookings
and calls, proposals and payments. Used by `make bench` (100,000 leads) and the tests.

Every row is written once, as it would have been when it happened: each lead's whole story is
drawn in Python first, then each table is loaded in one pass (COPY on PostgreSQL, a batched
insert on SQLite) with its own times (`created_at`, `changed_at`, the lead's stage) rather than
inserted and then updated row by row.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.fields import AutoFieldMixin

from billing.models import BillingEventKind, Payment, Proposal
from bookings.models import Booking, BookingEventKind, EventType, Host
from calls.models import Call, CallEventKind
from classify.models import Classification, Label
from leads.models import Lead, LeadEvent, Stage, StageChange
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


def _chunks(rows: Seq[Any], size: int = BATCH) -> Iterable[Seq[Any]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


# Fields whose values (str, int, float, bool, None) go to the database as they are.
PLAIN_FIELDS = (models.CharField, models.TextField, models.IntegerField, models.FloatField, models.BooleanField)


def _same(value: Any) -> Any:
    return value


def load_rows(model: type[models.Model], objs: Seq[models.Model], *, now: datetime) -> None:
    """Insert `objs` as they are, in one pass: COPY on PostgreSQL, batched inserts on SQLite.

    Unlike `bulk_create`, the times set on the instances are kept (`auto_now`/`auto_now_add`
    fields are filled with `now` only where left empty), so history lands with its own dates.
    Defaults come from the model as with `bulk_create` (the instances were built with them); no
    field's `pre_save` runs (these models have no file or computed fields).
    """
    if not objs:
        return
    conn = connections[DEFAULT_DB_ALIAS]  # the connection itself: the proxy costs a lookup per value
    ops = conn.ops
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin)]
    stamped = {f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)}

    def converter(f: models.Field) -> Callable[[Any], Any]:
        if isinstance(f, models.DateTimeField):
            return ops.adapt_datetimefield_value
        if isinstance(f, models.DateField):
            return ops.adapt_datefield_value
        target = f.target_field if isinstance(f, models.ForeignKey) else f
        if isinstance(target, PLAIN_FIELDS):  # Django would pass these values through unchanged
            return _same
        return lambda value: f.get_db_prep_save(value, conn)

    plan = [(f.attname, f.attname in stamped, converter(f)) for f in fields]
    table = ops.quote_name(model._meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)

    def row(obj: models.Model) -> list[Any]:
        values = obj.__dict__
        return [convert((values[name] or now) if stamp else values[name]) for name, stamp, convert in plan]

    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for obj in objs:
                    copy.write_row(row(obj))
            return
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 (the model's own names)
        for chunk in _chunks(objs):
            cursor.executemany(sql, [row(o) for o in chunk])


@dataclass
class _Story:
    """One lead's history as drawn, before any row is written."""

    index: int
    source: str
    created: datetime
    stage: str = Stage.NEW.value
    changes: list[tuple[str, str, datetime]] = field(default_factory=list)  # (from, to, at)
    reached: dict[str, datetime] = field(default_factory=dict)
    nurture_until: date | None = None


def _draw_story(rng: random.Random, i: int, now: datetime) -> _Story:
    at = now - timedelta(days=rng.uniform(0, 200))
    story = _Story(index=i, source=SOURCES[i % len(SOURCES)], created=at)
    for nxt in PATH:
        if rng.random() > 0.55:
            break
        if nxt in (Stage.CONTACTED, Stage.REPLIED) and rng.random() < 0.15:
            continue  # events skip stages
        at = at + timedelta(hours=rng.uniform(2, 24 * 20))
        if at >= now:
            break
        story.changes.append((story.stage, nxt.value, at))
        story.reached[nxt.value] = at
        story.stage = nxt.value
    if story.stage != Stage.PAID:
        roll = rng.random()
        at = at + timedelta(days=rng.uniform(1, 10))
        if roll < 0.1 and at < now:
            story.changes.append((story.stage, Stage.LOST.value, at))
            story.stage = Stage.LOST.value
        elif roll < 0.15 and at < now and story.stage in (Stage.NEW, Stage.CONTACTED, Stage.REPLIED):
            story.changes.append((story.stage, Stage.NURTURE.value, at))
            story.stage = Stage.NURTURE.value
            story.nurture_until = (at + timedelta(days=rng.choice((30, 60, 90)))).date()
    return story


@transaction.atomic
def seed_report_data(*, leads: int, now: datetime, seed: int = 5, prefix: str = "report") -> Seeded:
    rng = random.Random(seed)
    approver, _ = get_user_model().objects.get_or_create(username=f"{prefix}-approver", defaults={"is_staff": True})
    stories = [_draw_story(rng, i, now) for i in range(leads)]
    email = [f"{prefix}{i}@example.com" for i in range(leads)]
    load_rows(
        Lead,
        [
            Lead(
                name=f"Report Lead {s.index}",
                email=email[s.index],
                email_normalized=email[s.index],
                source=s.source,
                stage=s.stage,
                stage_changed_at=s.changes[-1][2] if s.changes else None,
                nurture_until=s.nurture_until,
                created_at=s.created,
                updated_at=s.changes[-1][2] if s.changes else s.created,
            )
            for s in stories
        ],
        now=now,
    )
    by_email = dict(Lead.objects.filter(email_normalized__startswith=prefix).values_list("email_normalized", "id"))
    ids = [by_email[email[s.index]] for s in stories]

    # Stage history: each stay ends at the lead's next change, as the stage service records it.
    changes = []
    for s, lead_id in zip(stories, ids, strict=True):
        for n, (from_stage, to_stage, at) in enumerate(s.changes):
            left = s.changes[n + 1][2] if n + 1 < len(s.changes) else None
            changes.append(
                StageChange(
                    lead_id=lead_id,
                    from_stage=from_stage,
                    to_stage=to_stage,
                    actor_label="seed",
                    changed_at=at,
                    left_at=left,
                    seconds_in_stage=(left - at).total_seconds() if left else None,
                )
            )
    load_rows(StageChange, changes, now=now)

    # The timeline: every lead's arrival, then what happened to it (added to as the story goes).
    events = [
        LeadEvent(lead_id=lead_id, kind=LeadEvent.Kind.CREATED, label="Created", summary="Lead created", at=s.created)
        for s, lead_id in zip(stories, ids, strict=True)
    ]

    # Outreach: two sequences of three steps; contacted leads got emails (a few bounced), some
    # replied; the owner answered some replies by hand (a one-off email), and some of those
    # leads wrote again. Each reply is classified; some were routed to review and corrected.
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
    contacted = [(s, lead_id) for s, lead_id in zip(stories, ids, strict=True) if Stage.CONTACTED in s.reached]
    load_rows(
        Enrollment,
        [
            Enrollment(
                lead_id=lead_id,
                sequence=sequences[s.index % 2][0],
                enrolled_by="seed",
                created_at=s.reached[Stage.CONTACTED],
                updated_at=s.reached[Stage.CONTACTED],
            )
            for s, lead_id in contacted
        ],
        now=now,
    )
    enrollment_ids = dict(Enrollment.objects.filter(sequence__name__startswith=prefix).values_list("lead_id", "id"))
    messages, replies, labels_of = [], [], []
    # The emails sent to each lead so far, and the one each reply answers: the last sent at or
    # before it (ties to the later id, which is the later one drawn), as reply intake records it.
    sent_to: dict[int, list[OutboundMessage]] = {}
    answers: list[OutboundMessage | None] = []
    labels = [Label.POSITIVE.value, Label.NEGATIVE.value, Label.NEUTRAL.value]

    def email_to(lead_id: int, s: _Story, at: datetime, *, kind: str, step: SequenceStep | None) -> None:
        sent = kind != OutboundMessage.Kind.SEQUENCE or rng.random() >= 0.05
        messages.append(
            OutboundMessage(
                lead_id=lead_id,
                kind=kind,
                enrollment_id=enrollment_ids[lead_id] if step else None,
                step=step,
                to_email=email[s.index],
                subject="Hi",
                body="Hello",
                status=OutboundMessage.Status.SENT if sent else OutboundMessage.Status.FAILED,
                origin="template" if step else "owner",
                approved_by=approver,
                approved_at=at,
                approved_hash="seed",
                message_id=f"<{uuid.uuid4()}@seed>",
                sent_at=at if sent else None,
                created_at=at - timedelta(hours=1),
                updated_at=at,  # a bounce is recorded when the provider refuses it
            )
        )
        if sent:
            sent_to.setdefault(lead_id, []).append(messages[-1])
            events.append(LeadEvent(lead_id=lead_id, kind=OutreachEventKind.MESSAGE_SENT, summary="Hi", at=at))

    def reply_from(lead_id: int, s: _Story, at: datetime) -> None:
        replies.append(
            InboundReply(
                lead_id=lead_id,
                source=InboundReply.Source.DEMO,
                from_email=email[s.index],
                from_email_normalized=email[s.index],
                message_id=f"<r{uuid.uuid4()}@seed>",
                matched_by=InboundReply.MatchedBy.SENDER,
                received_at=at,
                created_at=at,
            )
        )
        labels_of.append(at)
        earlier = [(m.sent_at, n, m) for n, m in enumerate(sent_to.get(lead_id, [])) if m.sent_at and m.sent_at <= at]
        answers.append(max(earlier, key=lambda item: item[:2])[2] if earlier else None)
        events.append(LeadEvent(lead_id=lead_id, kind=OutreachEventKind.REPLY_RECEIVED, summary="Reply", at=at))

    for s, lead_id in contacted:
        first = s.reached[Stage.CONTACTED]
        events.append(LeadEvent(lead_id=lead_id, kind=OutreachEventKind.ENROLLED, summary="Enrolled", at=first))
        steps = sequences[s.index % 2][1]
        at = first
        for position in (1, 2, 3):
            if at >= now:
                break
            email_to(lead_id, s, at, kind=OutboundMessage.Kind.SEQUENCE, step=steps[position - 1])
            at = at + timedelta(days=rng.uniform(1, 6))
            if rng.random() < 0.35:
                break
        replied = s.reached.get(Stage.REPLIED)
        if replied is None:
            continue
        reply_from(lead_id, s, replied)
        if rng.random() < 0.08:
            events.append(
                LeadEvent(lead_id=lead_id, kind=OutreachEventKind.UNSUBSCRIBED, summary="Unsubscribed", at=replied)
            )
            continue
        answered = replied + timedelta(hours=rng.uniform(1, 30))
        if answered < now and rng.random() < 0.4:
            email_to(lead_id, s, answered, kind=OutboundMessage.Kind.ONE_OFF, step=None)
            again = answered + timedelta(hours=rng.uniform(2, 72))
            if again < now and rng.random() < 0.5:
                reply_from(lead_id, s, again)
    load_rows(OutboundMessage, messages, now=now)
    message_ids = dict(OutboundMessage.objects.filter(approved_by=approver).values_list("message_id", "id"))
    for reply, answer_to in zip(replies, answers, strict=True):
        reply.in_answer_to_id = message_ids[answer_to.message_id] if answer_to else None
    load_rows(InboundReply, replies, now=now)
    reply_ids = dict(
        InboundReply.objects.filter(from_email_normalized__startswith=prefix).values_list("message_id", "id")
    )
    classifications = []
    for reply, received in zip(replies, labels_of, strict=True):
        label = rng.choice(labels)
        routed = rng.random() < 0.3
        reviewed = routed and rng.random() < 0.7
        final = (rng.choice(labels) if rng.random() < 0.3 else label) if reviewed else ""
        classifications.append(
            Classification(
                reply_id=reply_ids[reply.message_id],
                label=label,
                confidence=0.8,
                backend="local",
                needs_review=routed and not reviewed,
                review_reason="borderline" if routed else "",
                final_label=final,
                reviewed_at=min(received + timedelta(hours=rng.uniform(1, 48)), now) if reviewed else None,
                created_at=received,
                updated_at=received,
            )
        )
    load_rows(Classification, classifications, now=now)

    # Bookings on distinct half-hour slots per host (no double booking), calls for most past ones.
    hosts = [
        Host.objects.create(name=f"{prefix} host {h}", email=f"host{h}@agency.example", timezone="UTC")
        for h in range(4)
    ]
    types = [EventType.objects.create(host=h, slug=f"{prefix}-intro-{h.pk}", title="Intro") for h in hosts]
    used: set[tuple[int, datetime]] = set()
    bookings, calls = [], []
    for s, lead_id in zip(stories, ids, strict=True):
        booked = s.reached.get(Stage.BOOKED)
        if booked is None:
            continue
        start = booked + timedelta(days=rng.uniform(1, 7))
        start = start.replace(minute=30 if start.minute >= 30 else 0, second=0, microsecond=0)
        h = s.index % len(hosts)
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
                email=email[s.index],
                rescheduled_at=start - timedelta(days=1) if 0.1 <= roll < 0.2 else None,
                cancelled_at=start - timedelta(days=1) if booking_status == Booking.Status.CANCELLED else None,
                created_at=booked,
            )
        )
        events.append(LeadEvent(lead_id=lead_id, kind=BookingEventKind.BOOKING, summary="Call booked", at=booked))
        if booking_status != Booking.Status.CANCELLED and start < now and rng.random() < 0.75:
            calls.append(
                Call(
                    fireflies_id=f"{prefix}-{lead_id}",
                    lead_id=lead_id,
                    match_method=Call.MatchMethod.BOOKING,
                    started_at=start + timedelta(minutes=3),
                )
            )
            events.append(
                LeadEvent(lead_id=lead_id, kind=CallEventKind.CALL, summary="Sales call", at=start + timedelta(hours=1))
            )
    load_rows(Booking, bookings, now=now)
    load_rows(Call, calls, now=now)

    proposals = []
    for s, lead_id in zip(stories, ids, strict=True):
        proposal_sent = s.reached.get(Stage.PROPOSAL_SENT)
        if proposal_sent is None:
            continue
        signed, paid = s.reached.get(Stage.SIGNED), s.reached.get(Stage.PAID)
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
                created_at=proposal_sent - timedelta(hours=2),
                updated_at=paid or signed or proposal_sent,
            )
        )
        events.append(
            LeadEvent(lead_id=lead_id, kind=BillingEventKind.PROPOSAL, summary="Proposal sent", at=proposal_sent)
        )
        if paid:
            events.append(LeadEvent(lead_id=lead_id, kind=BillingEventKind.PAYMENT, summary="Paid", at=paid))
    load_rows(Proposal, proposals, now=now)
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
            created_at=proposal.paid_at or now,
            updated_at=proposal.paid_at or now,
        )
        for proposal in Proposal.objects.filter(lead_id__in=ids, paid_at__isnull=False).only(
            "pk", "lead_id", "total_minor", "paid_at"
        )
    ]
    load_rows(Payment, payments, now=now)
    load_rows(LeadEvent, events, now=now)
    return Seeded(
        leads=len(ids),
        stage_changes=len(changes),
        messages=len(messages),
        replies=len(replies),
        bookings=len(bookings),
        proposals=len(proposals),
    )
