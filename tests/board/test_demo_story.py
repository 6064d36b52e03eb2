"""The demo data tells one story: for every paid demo lead, its email, reply, booking, call,
proposal, signature and payment happen in that order, each at the moment its stage history says
(contacted, replied, booked, call_done, proposal_sent, signed, paid), and each is on its timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from billing.models import Payment
from board.demo import demo_seed
from bookings.models import Booking
from calls.models import Call
from classify.models import Classification
from leads.models import Lead, LeadEvent, Stage
from outreach.models import InboundReply, OutboundMessage

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
STORY = ["email", "reply", "booking", "call", "proposal", "signature", "payment"]
STAGE_OF = {
    "email": "contacted",
    "reply": "replied",
    "booking": "booked",
    "call": "call_done",
    "proposal": "proposal_sent",
    "signature": "signed",
    "payment": "paid",
}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo, seeded once for the module in a transaction rolled back at its end: the tests
    only read it, each in a savepoint of its own (pytest-django's, nested in this one)."""
    with django_db_blocker.unblock(), transaction.atomic():
        demo_seed(leads=160, seed=7, now=NOW, log=lambda _line: None)
        yield
        transaction.set_rollback(True)


def story_of(lead: Lead) -> dict[str, datetime]:
    booking = Booking.objects.filter(lead=lead).order_by("start_at").first()
    call = Call.objects.filter(lead=lead).first()
    proposal = lead.proposals.exclude(sent_at=None).order_by("-version").first()
    # A refunded payment was paid first (its paid_at is when the money came in).
    payment = (
        Payment.objects.filter(lead=lead, status__in=[Payment.Status.PAID, Payment.Status.REFUNDED])
        .order_by("paid_at")
        .first()
    )
    return {
        "email": OutboundMessage.objects.filter(lead=lead, status="sent").order_by("sent_at").first().sent_at,
        "reply": InboundReply.objects.filter(lead=lead).order_by("received_at").first().received_at,
        "booking": booking.created_at,
        "booking_start": booking.start_at,
        "call": call.started_at,
        "call_recorded": call.matched_at,
        "proposal": proposal.sent_at,
        "signature": proposal.signature.signed_at,
        "payment": payment.paid_at,
    }


def test_every_paid_lead_tells_its_story_in_order(seeded):
    paid = list(Lead.objects.filter(stage=Stage.PAID).exclude(email="").order_by("pk"))
    assert len(paid) >= 5
    for lead in paid:
        when = story_of(lead)
        stage_times = {c.to_stage: c.changed_at for c in lead.stage_changes.order_by("changed_at")}
        ordered = [when[step] for step in STORY]
        assert ordered == sorted(ordered) and len(set(ordered)) == len(ordered), (lead.pk, when)
        # Each step is the moment the stage history records (the call itself came before the
        # transcript that moved the lead to call_done).
        for step in ("email", "reply", "booking", "proposal", "signature", "payment"):
            assert when[step] == stage_times[STAGE_OF[step]], (lead.pk, step)
        assert when["call_recorded"] == stage_times["call_done"]
        assert when["booking"] < when["booking_start"] == when["call"] < when["call_recorded"]
        reply = InboundReply.objects.filter(lead=lead).order_by("received_at").first()
        classification = Classification.objects.get(reply=reply)
        assert reply.received_at < classification.created_at < when["booking"]


def test_every_paid_lead_has_each_step_on_its_timeline(seeded):
    for lead in Lead.objects.filter(stage=Stage.PAID).exclude(email="").order_by("pk"):
        events = list(LeadEvent.objects.filter(lead=lead).order_by("at", "pk").values_list("kind", "at"))
        kinds = [kind for kind, _at in events]
        for kind in ("message_sent", "reply_received", "booking", "call", "proposal", "payment"):
            assert kind in kinds, (lead.pk, kind, kinds)
        first = {kind: kinds.index(kind) for kind in ("message_sent", "reply_received", "booking", "call", "proposal")}
        assert first["message_sent"] < first["reply_received"] < first["booking"] < first["call"] < first["proposal"], (
            lead.pk,
            kinds,
        )
        assert kinds.index("payment") > first["proposal"]


def test_nothing_in_the_story_is_after_now(seeded):
    assert not OutboundMessage.objects.filter(sent_at__gt=NOW).exists()
    assert not InboundReply.objects.filter(lead__isnull=False, received_at__gt=NOW).exists()
    assert not Call.objects.filter(matched_at__gt=NOW).exists()
    assert not Payment.objects.filter(paid_at__gt=NOW).exists()


def test_the_demo_fills_settings_values_notes_and_tasks_some_overdue(seeded):
    from clientsflow.models import Notification
    from clientsflow.site import site_settings
    from leads.models import Note, Task

    row = site_settings()
    lead_facing = [row.agency_name, row.owner_name, row.sender_name, row.signature, row.host_name, row.booking_headline]
    assert all(text.strip() for text in lead_facing)
    assert not any("owner" in text.lower() for text in lead_facing)
    assert row.public_base_url == ""  # make run's links follow the host and port it serves
    assert Lead.objects.filter(value_minor__isnull=False).exclude(value_currency="").count() > 20
    assert Note.objects.count() > 0
    assert Task.objects.filter(done_at__isnull=True, due_at__lt=NOW).exists()  # overdue
    assert Task.objects.filter(done_at__isnull=True, due_at__gte=NOW).exists()  # still ahead
    kinds = set(Notification.objects.values_list("kind", flat=True))
    assert {"booking_created", "reply_positive", "proposal_signed", "payment_received"} <= kinds
