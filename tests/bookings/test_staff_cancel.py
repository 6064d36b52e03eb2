"""The owner's cancel endpoint behind the board's "Cancel call" pill: JSON for the board's script,
the HTMX partial, the plain form without JavaScript, staff only, CSRF enforced."""

from __future__ import annotations

from datetime import timedelta

import icalendar
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Booking
from bookings.selectors import booking_badges, booking_card_actions, slots_for
from bookings.services import booking_cancel, booking_create
from clientsflow.cache import board_lead_versions
from clientsflow.models import AuditEvent
from leads.models import Stage
from tests.bookings.factories import LeadFactory
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

JSON = {"Accept": "application/json"}


@pytest.fixture
def booked(event_type, django_capture_on_commit_callbacks):
    """A real upcoming booking made through the service, its ICS invite already sent."""
    start = slots_for(event_type=event_type)[0].start
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            event_type=event_type,
            start=start,
            timezone_name="Europe/London",
            name="Ada Lovelace",
            email="ada@example.com",
        )
    mail.outbox.clear()
    return booking


@pytest.fixture
def staff():
    return staff_user("owner", email="owner@agency.example")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def url_for(booking: Booking) -> str:
    return f"/book/staff/{booking.pk}/cancel/"


def test_the_pill_carries_a_confirm_spec_and_costs_one_query_per_page(booked):
    other = LeadFactory()
    with CaptureQueriesContext(connection) as queries:
        actions = booking_card_actions([booked.lead_id, other.pk])
    assert len(queries) == 1 and other.pk not in actions
    (action,) = actions[booked.lead_id]
    assert action.method == "get" and action.confirm is not None
    assert action.confirm.busy_label == "Cancelling…" and action.confirm.confirm_label == "Cancel the call"
    call_badge = booking_badges([booked.lead_id])[booked.lead_id][0]
    assert action.confirm.badge == call_badge.label  # the badge that reads "Cancelling…" while saving


def test_board_renders_the_pill_as_a_link_carrying_the_confirmation(staff_client, booked):
    html = staff_client.get("/board/").content.decode()
    assert f'href="/book/staff/{booked.pk}/cancel/?next=/board/"' in html  # works without JavaScript
    assert 'data-confirm-prompt="Cancel the call on ' in html
    assert 'data-confirm-button="Cancel the call"' in html and 'data-confirm-keep="Keep it"' in html
    assert 'data-confirm-busy="Cancelling…"' in html
    # The badge the script swaps for "Cancelling…" is the call badge on the same card.
    badge_label = html.split('data-confirm-badge="', 1)[1].split('"', 1)[0]
    assert badge_label.startswith("Call ") and f">{badge_label}</li>" in html


def test_json_cancel_goes_through_the_service_and_the_board_serves_the_fresh_card(
    staff_client, booked, django_capture_on_commit_callbacks
):
    version = board_lead_versions([booked.lead_id])[booked.lead_id]
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            url_for(booked), {"reason": "Lead phoned to cancel", "next": "/board/?stage=booked"}, headers=JSON
        )
    body = response.json()
    assert response.status_code == 200 and body["ok"] is True
    assert body["message"].startswith("Call cancelled: Ada Lovelace on ")
    # The board's script then swaps in the card the board renders afresh.
    card = staff_client.get(
        reverse("board:lead-card", args=[booked.lead.public_id]), {"next": "/board/?stage=booked"}
    ).content.decode()
    assert f'id="card-{booked.lead.public_id}"' in card
    assert "Cancelled: " in card and "Cancel call" not in card
    assert "<form" not in card  # the move menu lives once on the board page, not in each card

    booked.refresh_from_db()
    assert booked.status == Booking.Status.CANCELLED
    assert booked.cancel_reason == "Lead phoned to cancel" and booked.cancelled_by == "owner"
    # booked straight from New, so it goes back to New, the reason in its history
    assert booked.lead.stage == Stage.NEW
    change = booked.lead.stage_changes.latest("changed_at")
    assert (change.from_stage, change.reason) == (Stage.BOOKED, "Call cancelled: Lead phoned to cancel")
    audit = AuditEvent.objects.get(verb="booking.cancelled")
    assert audit.actor_label == "owner" and audit.details == {"reason": "Lead phoned to cancel"}
    # The cancelled call's badge invalidates that lead's card (not every card on the board).
    assert board_lead_versions([booked.lead_id])[booked.lead_id] > version
    # Google is off here, so the lead hears it by an ICS CANCEL email.
    (email,) = mail.outbox
    assert email.to == ["ada@example.com"]
    ics = icalendar.Calendar.from_ical(email.attachments[0][1])
    assert ics["METHOD"] == "CANCEL"
    event = next(iter(ics.walk("VEVENT")))
    assert event["UID"] == booked.ics_uid and event["STATUS"] == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert booked.invite_status == Booking.InviteStatus.FALLBACK_SENT


def test_json_refusals_are_4xx_with_a_message_and_change_nothing(staff_client, booked):
    blank = staff_client.post(url_for(booked), {"reason": "   "}, headers=JSON)
    assert blank.status_code == 400
    assert blank.json() == {"ok": False, "error": "Please give a reason for cancelling."}
    missing = staff_client.post(url_for(booked), {}, headers=JSON)
    assert missing.status_code == 400 and "reason" in missing.json()["error"]
    booked.refresh_from_db()
    assert booked.status != Booking.Status.CANCELLED and not AuditEvent.objects.filter(verb="booking.cancelled")

    booking_cancel(booking=booked, reason="Cancelled by the lead", actor_label="lead (manage link)")
    again = staff_client.post(url_for(booked), {"reason": "Owner too"}, headers=JSON)
    assert again.status_code == 409
    assert again.json() == {"ok": False, "error": "This booking is already cancelled."}
    booked.refresh_from_db()
    assert booked.cancel_reason == "Cancelled by the lead" and booked.sequence == 1


def test_a_call_that_already_happened_cannot_be_cancelled(staff_client, booked):
    shift = booked.end_at - booked.start_at + timedelta(days=1)
    Booking.objects.filter(pk=booked.pk).update(
        start_at=F("start_at") - shift - timedelta(days=30),
        end_at=F("end_at") - shift - timedelta(days=30),
        buffered_start=F("buffered_start") - shift - timedelta(days=30),
        buffered_end=F("buffered_end") - shift - timedelta(days=30),
    )
    response = staff_client.post(url_for(booked), {"reason": "Too late"}, headers=JSON)
    assert response.status_code == 409 and "already taken place" in response.json()["error"]
    assert "already taken place" in staff_client.get(url_for(booked)).content.decode()
    booked.refresh_from_db()
    assert booked.is_active


def test_only_staff_may_cancel(client, booked):
    anonymous = client.post(url_for(booked), {"reason": "x"}, headers=JSON)
    assert anonymous.status_code == 403 and "Log in again" in anonymous.json()["error"]
    page = client.get(url_for(booked))
    assert page.status_code == 302 and "/login/" in page["Location"]  # the plain page goes to the login
    client.force_login(get_user_model().objects.create_user("lead", "lead@example.com", "pw"))
    not_staff = client.post(url_for(booked), {"reason": "x"}, headers=JSON)
    assert not_staff.status_code == 403 and not_staff.json()["ok"] is False
    assert client.post(url_for(booked), {"reason": "x"}).status_code == 302
    booked.refresh_from_db()
    assert booked.is_active


def test_csrf_is_enforced_and_the_boards_token_passes(staff, booked):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    refused = browser.post(url_for(booked), {"reason": "No token"}, headers=JSON)
    assert refused.status_code == 403
    booked.refresh_from_db()
    assert booked.is_active
    html = browser.get("/board/").content.decode()
    token = html.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]  # the <body hx-headers> the script reads
    accepted = browser.post(url_for(booked), {"reason": "With the token"}, headers={**JSON, "X-CSRFToken": token})
    assert accepted.status_code == 200 and accepted.json()["ok"] is True


def test_htmx_and_plain_form_answers(staff_client, booked):
    htmx = {"HX-Request": "true"}
    confirm = staff_client.get(f"{url_for(booked)}?next=/board/", headers=htmx).content.decode()
    assert 'name="next" value="/board/"' in confirm and "Keep it" in confirm
    refused = staff_client.post(url_for(booked), {"reason": ""}, headers=htmx)
    assert refused.status_code == 400 and "Please give a reason" in refused.content.decode()
    # Without JavaScript: back to `next` (only a path on this site), else to the booking's admin page.
    done = staff_client.post(url_for(booked), {"reason": "By phone", "next": "/board/?q=ada"})
    assert done.status_code == 302 and done["Location"] == "/board/?q=ada"
    again = staff_client.post(url_for(booked), {"reason": "Twice"}, headers=htmx)
    assert again.status_code == 409 and "already cancelled" in again.content.decode()
    assert "HX-Trigger" not in again


def test_an_offsite_next_is_ignored(staff_client, booked):
    done = staff_client.post(url_for(booked), {"reason": "By phone", "next": "https://evil.example/"})
    assert done.status_code == 302 and done["Location"] == f"/admin/bookings/booking/{booked.pk}/change/"
