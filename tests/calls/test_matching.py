"""The match chain, step by step, fuzzy suggestions and the human confirm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calls.models import Call
from calls.services.matching import call_confirm_match, call_match, normalize_meeting_link
from clientsflow.errors import DomainError
from leads.models import LeadEvent, Stage, StageChange
from tests.calls.factories import CallFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def steps(call: Call) -> list[tuple[str, str]]:
    return [(s["step"], s["result"]) for s in call.match_steps]


def test_step_1_client_reference_id_is_a_lead_public_id():
    lead = LeadFactory(stage=Stage.BOOKED)
    call = call_match(call=CallFactory(client_reference_id=str(lead.public_id)))
    assert (call.lead, call.match_method, call.match_confidence) == (lead, "client_reference", 1.0)
    assert steps(call) == [("client_reference", "matched")]
    lead.refresh_from_db()
    assert lead.stage == Stage.CALL_DONE
    change = StageChange.objects.get(lead=lead, to_stage=Stage.CALL_DONE)
    assert change.actor_label == "fireflies"


def test_step_1_unknown_reference_falls_through_to_step_2_email():
    lead = LeadFactory(email="pat@acme.example", email_normalized="pat@acme.example")
    call = call_match(
        call=CallFactory(client_reference_id="not-a-uuid", participants=["owner@agency.example", "PAT@acme.example"])
    )
    assert call.lead == lead
    assert steps(call) == [("client_reference", "no_match"), ("email", "matched")]


def test_step_2_follows_a_merged_lead_to_its_survivor():
    survivor = LeadFactory()
    LeadFactory(email="old@acme.example", email_normalized="old@acme.example", merged_into=survivor)
    call = call_match(call=CallFactory(participants=["old@acme.example"]))
    assert call.lead == survivor


def test_step_2_two_different_leads_is_ambiguous_not_a_guess():
    LeadFactory(email="a@acme.example", email_normalized="a@acme.example")
    LeadFactory(email="b@acme.example", email_normalized="b@acme.example")
    call = call_match(call=CallFactory(participants=["a@acme.example", "b@acme.example"]))
    assert call.lead is None
    assert ("email", "ambiguous") in steps(call)


def test_step_3_meeting_already_linked_keeps_its_lead():
    lead = LeadFactory()
    call = CallFactory(lead=lead, match_method="email", match_confidence=1.0, participants=[])
    call = call_match(call=call)
    assert call.lead == lead
    assert call.match_method == "meeting_id"
    assert steps(call)[-1] == ("meeting_id", "matched")


def _booking(lead, **fields):
    from bookings.models import Booking, EventType, Host

    host = Host.objects.create(name="Owner", email="owner@agency.example", timezone="Europe/Berlin")
    event_type = EventType.objects.create(host=host, slug=f"intro-{lead.pk}", title="Intro")
    start = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    return Booking.objects.create(
        host=host,
        event_type=event_type,
        lead=lead,
        start_at=start,
        end_at=start + timedelta(minutes=30),
        buffered_start=start,
        buffered_end=start + timedelta(minutes=30),
        timezone="Asia/Tokyo",
        name=lead.name,
        email=lead.email,
        **fields,
    )


def test_step_4_booking_by_google_event_id_and_its_zone():
    lead = LeadFactory(stage=Stage.BOOKED)
    _booking(lead, google_event_id="cf0a1b2c3d4e5f60718293a4b5c6d7e8f")
    call = call_match(call=CallFactory(calendar_event_ids=["cf0a1b2c3d4e5f60718293a4b5c6d7e8f"]))
    assert (call.lead, call.match_method, call.match_confidence) == (lead, "booking", 0.9)
    assert call.timezone == "Asia/Tokyo"
    assert [s for s, _ in steps(call)] == ["client_reference", "email", "meeting_id", "booking"]
    assert call.match_steps[-1]["by"] == "calendar event id"


def test_step_4_booking_by_meet_link_ignoring_scheme_case_and_query():
    lead = LeadFactory(stage=Stage.BOOKED)
    _booking(lead, meet_url="https://meet.google.com/abc-defg-hij")
    call = call_match(call=CallFactory(meeting_link="https://meet.google.com/ABC-defg-hij?authuser=0"))
    assert call.lead == lead
    assert call.match_steps[-1]["by"] == "Meet link"


def test_normalize_meeting_link():
    assert normalize_meeting_link("https://Meet.Google.com/abc-defg-hij/?pli=1") == "meet.google.com/abc-defg-hij"
    assert normalize_meeting_link("") == ""


def test_unmatched_call_gets_fuzzy_suggestions_when_the_email_differs():
    dana = LeadFactory(
        name="Dana Whitfield",
        email="dana@northwind.example",
        email_normalized="dana@northwind.example",
        company="Northwind Studio",
        stage=Stage.BOOKED,
    )
    LeadFactory(name="Zed Unrelated", company="Quux Ltd", email="z@quux.example", email_normalized="z@quux.example")
    call = CallFactory(
        title="Intro call",
        participants=["owner@agency.example", "d.whitfield@northwind-studio.com"],
        attendees=[{"name": "Dana Whitfield", "email": "d.whitfield@northwind-studio.com"}],
    )

    call = call_match(call=call)

    assert call.lead is None
    assert call.match_method == "unmatched"
    assert steps(call)[-1] == ("unmatched", "unmatched")
    assert [s["lead_id"] for s in call.match_suggestions] == [dana.pk]
    top = call.match_suggestions[0]
    assert top["score"] == 60
    assert top["reasons"] == ["Attendee “Dana Whitfield” has the lead's name."]
    dana.refresh_from_db()
    assert dana.stage == Stage.BOOKED  # nothing moves until a person confirms


def test_human_confirm_links_moves_and_is_never_overridden(owner_user):
    dana = LeadFactory(name="Dana Whitfield", stage=Stage.BOOKED)
    other = LeadFactory(email="ops@x.example", email_normalized="ops@x.example")
    call = call_match(call=CallFactory(attendees=[{"name": "Dana Whitfield", "email": "dw@elsewhere.example"}]))
    assert call.lead is None

    call = call_confirm_match(call=call, lead=dana, actor=owner_user)

    assert (call.lead, call.match_method, call.matched_by) == (dana, "human", owner_user.get_username())
    assert steps(call)[-1] == ("human", "matched")
    dana.refresh_from_db()
    assert dana.stage == Stage.CALL_DONE
    assert LeadEvent.objects.filter(lead=dana, kind="call", data__call_id=call.pk).count() == 1
    # A later automatic pass (e.g. the summary webhook) keeps the person's choice.
    Call.objects.filter(pk=call.pk).update(participants=["ops@x.example"])
    call = call_match(call=call)
    assert call.lead == dana and other.pk != dana.pk


def test_confirm_refuses_a_pending_call_and_a_merged_lead(owner_user):
    survivor = LeadFactory()
    merged = LeadFactory(merged_into=survivor)
    with pytest.raises(DomainError, match="merged"):
        call_confirm_match(call=CallFactory(), lead=merged, actor=owner_user)
    with pytest.raises(DomainError, match="not been fetched"):
        call_confirm_match(call=CallFactory(status=Call.Status.PENDING), lead=survivor, actor=owner_user)


def test_a_lead_past_call_done_is_not_moved_back():
    lead = LeadFactory(stage=Stage.PROPOSAL_SENT, email="p@x.example", email_normalized="p@x.example")
    call = call_match(call=CallFactory(participants=["p@x.example"]))
    assert call.lead == lead
    lead.refresh_from_db()
    assert lead.stage == Stage.PROPOSAL_SENT
    assert LeadEvent.objects.filter(lead=lead, kind="call").exists()


def test_a_merge_moves_the_duplicates_calls_and_undo_gives_them_back():
    from leads.services.merge import lead_merge, lead_merge_undo

    survivor, duplicate = LeadFactory(), LeadFactory()
    call = CallFactory(lead=duplicate, match_method="email", match_confidence=1.0)
    merge = lead_merge(survivor=survivor, duplicate=duplicate)
    assert Call.objects.get(pk=call.pk).lead == survivor
    lead_merge_undo(merge=merge)
    assert Call.objects.get(pk=call.pk).lead == duplicate
