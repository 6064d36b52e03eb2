"""One person with a row in every app, for the export and erase tests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

from billing.models import Payment, Proposal, Signature
from bookings.models import Booking
from calls.models import Call
from clientsflow.audit import audit_record
from clientsflow.models import WebhookEvent
from leads.models import Lead, LeadEvent, LeadImport
from leads.services.intake import LeadData, lead_intake
from leads.services.stages import lead_move_stage
from leads.services.timeline import timeline_record
from outreach.models import InboundReply, OutboundMessage
from tests.billing.conftest import make_proposal
from tests.bookings.conftest import google_settings, service_account_info  # noqa: F401 (fixtures)
from tests.bookings.factories import BookingFactory
from tests.calls.factories import CallFactory

NAME = "Grace Brewster Hopper"
EMAIL = "Grace.Hopper@Navy-Example.org"
# The address she typed on the booking page: hers too, though not the lead's.
BOOKING_EMAIL = "grace@home-example.net"
PHONE = "+1 415 555 0199"
# Every form of the person's details that must be gone after an erase.
TRACES = [
    NAME,
    NAME.lower(),
    EMAIL,
    EMAIL.lower(),
    BOOKING_EMAIL,
    PHONE,
    "+14155550199",
    "(415) 555-0199",
    "4155550199",
    "415 555 0199",
]
SIGNED_HTML = f"<h1>Website rebuild</h1><p>Prepared for {NAME}</p>"
# A CSV upload nobody has imported yet: her row, then someone else's.
OTHER_ROW = "Katherine Johnson,katherine@example.com,"
UPLOAD = f"Name,Email,Phone\r\n{NAME},{EMAIL},(415) 555-0199\r\n{OTHER_ROW}\r\n".encode()


@dataclass
class Person:
    lead: Lead
    other: Lead
    booking: Booking
    call: Call
    reply: InboundReply
    proposal: Proposal
    signature: Signature
    payment: Payment
    webhook: WebhookEvent
    upload: LeadImport


@pytest.fixture
def person(db) -> Person:  # type: ignore[no-untyped-def]
    lead = lead_intake(
        data=LeadData.build(name=NAME, email=EMAIL, phone=PHONE, company="Navy Labs"), source="website"
    ).lead
    other = lead_intake(data=LeadData.build(name="Alan Turing", email="alan@example.com"), source="website").lead
    timeline_record(lead=other, kind=LeadEvent.Kind.NOTE, summary=f"Referred by {NAME} (415) 555-0199")
    booking = BookingFactory(
        lead=lead,
        name="Grace Hopper",
        email=BOOKING_EMAIL,
        phone=PHONE,
        note="Call my mobile, I'm on the base",
        start_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        google_event_id="gcalevent0001",
    )
    call = CallFactory(
        lead=lead,
        fireflies_id="ff-grace-1",
        match_method=Call.MatchMethod.EMAIL,
        notion_page_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        participants=[EMAIL.lower(), "owner@agency.example"],
        attendees=[{"name": NAME, "email": EMAIL.lower()}],
        transcript_text=f"{NAME}: Hello, this is Grace. My number is 415 555 0199.",
        summary="Wants a new website.",
    )
    lead_move_stage(lead=lead, to_stage="contacted", actor_label="owner", reason=f"Called {NAME}")
    OutboundMessage.objects.create(
        lead=lead,
        to_email=EMAIL,
        subject="A new website for Navy Labs?",
        body="Hi Grace, following up on your note about the site.",
        message_id="<draft-grace-1@agency.example>",
    )
    reply = InboundReply.objects.create(
        lead=lead,
        source="mailgun",
        from_email=EMAIL,
        from_email_normalized=EMAIL.lower(),
        to_email="sales@agency.example",
        subject="Re: your website",
        body="Yes, let's talk. Grace",
        received_at=datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    )
    proposal = make_proposal(lead)
    signature = Signature.objects.create(
        proposal=proposal,
        signer_name=NAME,
        signer_email=EMAIL,
        consent_text="I agree",
        ip_address="203.0.113.9",
        user_agent="Mozilla/5.0",
        signed_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        content_sha256=hashlib.sha256(SIGNED_HTML.encode()).hexdigest(),
        content=SIGNED_HTML,
    )
    payment = Payment.objects.create(
        proposal=proposal,
        lead=lead,
        checkout_session_id="cs_test_grace",
        payment_intent_id="pi_test_grace",
        customer_id="cus_test_grace",
        amount_minor=150000,
        currency="usd",
        status=Payment.Status.PAID,
        paid_at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
    )
    webhook = WebhookEvent.objects.create(
        provider="leads",
        event_id="evt-grace-1",
        headers={"X-From": EMAIL},
        body=json.dumps({"name": NAME, "email": EMAIL, "phone": PHONE, "message": "Need a site"}),
    )
    audit_record(verb="lead.note", obj=other, actor_label="owner", details={"about": NAME, "email": EMAIL.lower()})
    # A plain account: transactional tests flush the role groups the migrations made.
    owner = get_user_model().objects.create_user("owner-privacy", is_staff=True)
    LogEntry.objects.create(
        user=owner,
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=str(lead.pk),
        object_repr=NAME,
        action_flag=CHANGE,
        change_message=f"Changed phone to {PHONE}",
    )
    upload = LeadImport.objects.create(
        file_name="november-leads.csv",
        file_size=len(UPLOAD),
        content=UPLOAD,
        columns=["Name", "Email", "Phone"],
        mapping=["name", "email", "phone"],
    )
    return Person(lead, other, booking, call, reply, proposal, signature, payment, webhook, upload)
