"""Google Calendar invites through the real google-api-python-client and google-auth.

HTTP is answered at the transport with `HttpMockSequence`; the client is built from the Calendar v3
discovery document shipped inside googleapiclient; the service-account key is generated in the
test (conftest), and its token exchange is answered by the same mock sequence.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail
from googleapiclient.http import HttpMockSequence

from bookings.clients import google_calendar
from bookings.clients.google_calendar import CalendarRefused, CalendarUnavailable, GoogleCalendarClient
from bookings.models import Booking
from bookings.selectors import slots_for
from bookings.services import booking_cancel, booking_create, booking_reschedule
from clientsflow.models import AuditEvent
from tests.bookings.conftest import fixture_text

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TOKEN = ({"status": "200", "content-type": "application/json"}, fixture_text("token_ok.json"))
FREE = ({"status": "200", "content-type": "application/json"}, json.dumps({"calendars": {"primary": {"busy": []}}}))


def ok(body: str | dict) -> tuple[dict, str]:
    return {"status": "200", "content-type": "application/json"}, body if isinstance(body, str) else json.dumps(body)


def err(status: int, fixture: str, **headers: str) -> tuple[dict, str]:
    return {"status": str(status), "content-type": "application/json", **headers}, fixture_text(fixture)


def event_json(event_id: str, request_id: str) -> str:
    event = json.loads(fixture_text("event_created.json"))
    event["id"] = event_id
    event["conferenceData"]["createRequest"]["requestId"] = request_id
    return json.dumps(event)


@pytest.fixture
def transport(monkeypatch, google_settings):
    """Every httplib2.Http the client creates is this one mock sequence (fill `.responses`)."""
    mock = HttpMockSequence([])
    monkeypatch.setattr(google_calendar.httplib2, "Http", lambda *args, **kwargs: mock)
    return mock


def queue(mock: HttpMockSequence, *responses) -> None:
    mock._iterable.extend(responses)


@pytest.fixture
def book(event_type, transport, django_capture_on_commit_callbacks):
    """Book; the booking check asks Google's free/busy first (a token exchange, then the query)."""
    transport._iterable[:0] = [TOKEN, FREE]

    def _book(**kw):
        values = {"timezone_name": "Europe/London", "name": "Ada Lovelace", "email": "ada@example.com"}
        values.update(kw)
        with django_capture_on_commit_callbacks(execute=True):
            booking = booking_create(event_type=event_type, start=START, now=NOW, **values)
        booking.refresh_from_db()
        return booking

    return _book


def insert_requests(mock: HttpMockSequence) -> list[tuple[str, dict]]:
    return [
        (uri, json.loads(body))
        for uri, method, body, _ in mock.request_sequence
        if method == "POST" and "/events" in uri
    ]


def test_success_creates_one_event_with_a_meet_and_sends_updates_to_all(transport, book, event_type):
    queue(transport, TOKEN, ok("echo_request_body"))
    booking = book()
    uri, body = insert_requests(transport)[0]
    query = parse_qs(urlparse(uri).query)
    assert query["conferenceDataVersion"] == ["1"] and query["sendUpdates"] == ["all"]
    assert urlparse(uri).path == "/calendar/v3/calendars/primary/events"
    assert body["id"] == booking.google_event_key
    assert body["conferenceData"]["createRequest"] == {
        "requestId": booking.conference_request_id,
        "conferenceSolutionKey": {"type": "hangoutsMeet"},
    }
    assert body["attendees"] == [{"email": "ada@example.com", "displayName": "Ada Lovelace"}]
    assert body["start"] == {"dateTime": "2026-12-01T15:00:00+00:00", "timeZone": "America/New_York"}
    # The token exchange was a real JWT-bearer grant signed with the throwaway key.
    token_uri, _, token_body, _ = transport.request_sequence[0]
    assert token_uri == "https://oauth2.googleapis.com/token"
    assert b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" in token_body
    assert transport.request_sequence[1][3]["authorization"] == "Bearer ya29.test-access-token"
    assert booking.invite_status == Booking.InviteStatus.SENT and booking.invite_error == ""
    assert booking.google_event_id == booking.google_event_key


def test_success_stores_the_meet_link_and_the_ics_email_carries_it(
    transport, event_type, django_capture_on_commit_callbacks
):
    # Ids are derived from the booking, so answer the insert once the booking exists.
    queue(transport, TOKEN, FREE)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        booking = booking_create(
            event_type=event_type, start=START, now=NOW, timezone_name="UTC", name="Ada", email="ada@example.com"
        )
    queue(transport, TOKEN, ok(event_json(booking.google_event_key, booking.conference_request_id)))
    for callback in callbacks:
        callback()
    booking.refresh_from_db()
    assert booking.meet_url == "https://meet.google.com/abc-defg-hij"
    assert booking.invite_status == Booking.InviteStatus.SENT
    # GCAL_DRIVEN_CONFIRMATION is off: our confirmation (with the ICS) goes out as well.
    assert len(mail.outbox) == 1
    ics = mail.outbox[0].attachments[0][1]
    assert "https://meet.google.com/abc-defg-hij" in (ics.decode() if isinstance(ics, bytes) else ics)


def test_gcal_driven_confirmation_sends_no_email_of_ours(transport, book, settings):
    settings.GCAL_DRIVEN_CONFIRMATION = True
    queue(transport, TOKEN, ok("echo_request_body"))
    booking = book()
    assert booking.invite_status == Booking.InviteStatus.SENT
    assert mail.outbox == []


def test_unauthorized_client_blocks_the_invite_but_the_booking_stands_and_ics_goes_out(transport, book):
    queue(
        transport,
        ({"status": "401", "content-type": "application/json"}, fixture_text("token_unauthorized_client.json")),
    )
    booking = book()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    assert "unauthorized_client" in booking.invite_error and "ICS email instead" in booking.invite_error
    assert len(mail.outbox) == 1 and mail.outbox[0].attachments[0][0] == "invite.ics"
    assert AuditEvent.objects.filter(verb="booking.invite_blocked", object_id=str(booking.pk)).exists()
    assert transport._iterable == []  # one token attempt, no API call


def test_forbidden_for_service_accounts_blocks_with_the_reason(transport, book):
    queue(transport, TOKEN, err(403, "error_forbidden_for_service_accounts.json"))
    booking = book()
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    assert "domain-wide delegation" in booking.invite_error
    assert len(insert_requests(transport)) == 1  # not retried: retrying cannot help
    assert len(mail.outbox) == 1


def test_quota_blocks_with_the_reason(transport, book):
    queue(transport, TOKEN, err(403, "error_quota.json"))
    booking = book()
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    assert "quota" in booking.invite_error.lower()


def test_503_then_success_makes_one_event_and_one_meet(transport, book):
    queue(transport, TOKEN, err(503, "error_503.json"), ok("echo_request_body"))
    booking = book()
    inserts = insert_requests(transport)
    assert len(inserts) == 2
    # Both attempts carry the same event id and Meet request id: Google cannot make two.
    assert {b["id"] for _, b in inserts} == {booking.google_event_key}
    assert {b["conferenceData"]["createRequest"]["requestId"] for _, b in inserts} == {booking.conference_request_id}
    assert booking.invite_status == Booking.InviteStatus.SENT
    assert Booking.objects.count() == 1 and transport._iterable == []


def test_5xx_after_the_retries_blocks(transport, book, settings):
    settings.BOOKING_GOOGLE_RETRIES = 2
    queue(transport, TOKEN, *[err(503, "error_503.json")] * 3)
    booking = book()
    assert len(insert_requests(transport)) == 3
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    assert "HTTP 503" in booking.invite_error


def test_lost_response_then_409_uses_the_event_that_was_made(service_account_info):
    """An insert whose response was lost is retried; Google answers 409 and we fetch the first one."""
    mock = HttpMockSequence([TOKEN, err(409, "error_409_duplicate.json"), ok(event_json("cfabc", "cf-booking-x"))])
    client = GoogleCalendarClient.from_service_account_info(
        service_account_info, subject="owner@agency.example", http=mock, backoff_seconds=0
    )
    event = client.event_create(calendar_id="primary", event_id="cfabc", request_id="cf-booking-x", body={})
    assert event.event_id == "cfabc" and event.meet_url == "https://meet.google.com/abc-defg-hij"
    assert event.created is False
    assert mock.request_sequence[-1][1] == "GET"


def test_retry_after_is_honoured(service_account_info):
    waits: list[float] = []
    mock = HttpMockSequence([TOKEN, err(429, "error_503.json", **{"retry-after": "7"}), ok("{}")])
    client = GoogleCalendarClient.from_service_account_info(
        service_account_info, subject="owner@agency.example", http=mock, sleep=waits.append
    )
    client.event_cancel(calendar_id="primary", event_id="cfabc")
    assert waits == [7.0]


def test_reschedule_patches_and_cancel_deletes_with_send_updates(transport, book, django_capture_on_commit_callbacks):
    queue(transport, TOKEN, ok("echo_request_body"))
    booking = book()
    queue(transport, TOKEN, ok("echo_request_body"))  # each delivery authenticates afresh
    with django_capture_on_commit_callbacks(execute=True):
        booking_reschedule(booking=booking, start=START + timedelta(days=1), now=NOW)
    uri, method, body, _ = transport.request_sequence[-1]
    assert method == "PATCH" and f"/events/{booking.google_event_id}" in uri and "sendUpdates=all" in uri
    assert json.loads(body)["start"]["dateTime"] == "2026-12-02T15:00:00+00:00"
    queue(transport, TOKEN, ({"status": "204"}, ""))
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Changed plans", now=NOW)
    uri, method, _, _ = transport.request_sequence[-1]
    assert method == "DELETE" and "sendUpdates=all" in uri
    booking.refresh_from_db()
    assert booking.invite_status == Booking.InviteStatus.SENT and booking.status == Booking.Status.CANCELLED
    assert [m.attachments[0][2].split(";")[1].strip() for m in mail.outbox] == [
        "method=REQUEST",
        "method=REQUEST",
        "method=CANCEL",
    ]


def test_free_busy_removes_slots_and_is_cached(transport, event_type):
    queue(transport, TOKEN, ok(fixture_text("freebusy.json")))
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    first = {s.start for s in slots_for(event_type=event_type, now=now)}
    assert datetime(2026, 12, 1, 15, 0, tzinfo=UTC) not in first  # busy in Google 15:00-16:00 UTC
    assert datetime(2026, 12, 1, 15, 30, tzinfo=UTC) not in first
    assert datetime(2026, 12, 1, 16, 0, tzinfo=UTC) in first
    second = {s.start for s in slots_for(event_type=event_type, now=now)}  # from the cache: no request left
    assert first == second
    assert [m for _, m, _, _ in transport.request_sequence] == ["POST", "POST"]


def test_errors_are_translated_to_ours(service_account_info):
    mock = HttpMockSequence([TOKEN, err(403, "error_forbidden_for_service_accounts.json")])
    client = GoogleCalendarClient.from_service_account_info(service_account_info, subject="o@agency.example", http=mock)
    with pytest.raises(CalendarRefused) as refused:
        client.event_update(calendar_id="primary", event_id="cfabc", body={})
    assert refused.value.code == "forbiddenForServiceAccounts" and refused.value.status == 403
    mock = HttpMockSequence([TOKEN, err(500, "error_503.json"), err(500, "error_503.json")])
    client = GoogleCalendarClient.from_service_account_info(
        service_account_info, subject="o@agency.example", http=mock, retries=1, backoff_seconds=0
    )
    with pytest.raises(CalendarUnavailable):
        client.event_update(calendar_id="primary", event_id="cfabc", body={})
