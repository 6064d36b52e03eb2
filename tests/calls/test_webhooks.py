"""POST /webhooks/fireflies/ and /webhooks/meet/participant-joined/ through the real views."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest

from calls.jobs import fireflies_backup_poll
from calls.models import Call, MeetingRoutingDecision
from clientsflow.models import WebhookEvent
from clientsflow.signatures import hmac_sha256_hex
from leads.models import LeadEvent, Stage
from tests.calls.conftest import FIREFLIES_SECRET, LEAD_SECRET, MEETING_ID, PAGE_ID, fixture_bytes, notion_body
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def _post(body: bytes, *, signature: str | None = "auto", url: str = "/webhooks/fireflies/", **headers):
        if signature == "auto":
            secret = FIREFLIES_SECRET if "fireflies" in url else LEAD_SECRET
            signature = "sha256=" + hmac_sha256_hex(secret, body)
        if signature is not None:
            headers["HTTP_X_HUB_SIGNATURE" if "fireflies" in url else "HTTP_X_SIGNATURE"] = signature
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=body, content_type="application/json", **headers)

    return _post


@pytest.fixture
def dana():
    return LeadFactory(
        name="Dana Whitfield",
        email="dana.whitfield@northwind.example",
        email_normalized="dana.whitfield@northwind.example",
        company="Northwind Studio",
        stage=Stage.BOOKED,
    )


def test_v1_delivery_is_stored_fetched_matched_and_written_to_notion(post, vendors, dana):
    vendors.fireflies.ready()

    response = post(fixture_bytes("fireflies_v1_transcription_completed.json"))

    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "event_id": f"{MEETING_ID}:Transcription completed"}
    event = WebhookEvent.objects.get()
    assert (event.provider, event.status) == ("fireflies", "processed")
    call = Call.objects.get()
    assert call.fireflies_id == MEETING_ID
    assert call.status == Call.Status.FETCHED
    assert call.started_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert call.duration_seconds == 1890
    assert call.participants == [
        "owner@agency.example",
        "dana.whitfield@northwind.example",
        "ops@northwind.example",
    ]
    assert call.lead == dana
    assert call.match_method == Call.MatchMethod.EMAIL
    assert "Dana Whitfield: Happy to." in call.transcript_text
    assert call.notion_status == Call.NotionStatus.SYNCED
    assert call.notion_page_id == PAGE_ID
    dana.refresh_from_db()
    assert dana.stage == Stage.CALL_DONE
    timeline = LeadEvent.objects.get(lead=dana, kind="call")
    assert timeline.label == "Sales call"
    assert timeline.data["recording_url"].endswith("video.mp4")
    properties = notion_body(vendors.notion_create)["properties"]
    assert properties["Date"]["date"]["start"] == "2026-11-24T08:00:00-05:00"
    assert properties["Email"]["email"] == "dana.whitfield@northwind.example"


def test_v2_delivery_is_accepted_with_its_own_event_id(post, vendors, dana):
    vendors.fireflies.ready()

    response = post(fixture_bytes("fireflies_v2_meeting_transcribed.json"))

    assert response.json()["event_id"] == f"{MEETING_ID}:meeting.transcribed"
    assert Call.objects.get().lead == dana


def test_bare_hex_signature_is_accepted(post, vendors):
    vendors.fireflies.ready()
    body = fixture_bytes("fireflies_v2_meeting_transcribed.json")
    assert post(body, signature=hmac_sha256_hex(FIREFLIES_SECRET, body)).status_code == 200


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "not-hex", ""])
def test_bad_or_missing_signature_is_401_and_nothing_is_stored(post, vendors, signature):
    response = post(fixture_bytes("fireflies_v2_meeting_transcribed.json"), signature=signature)

    assert response.status_code == 401
    assert "x-hub-signature" in response.json()["error"]
    assert not WebhookEvent.objects.exists()
    assert not Call.objects.exists()
    assert vendors.fireflies.requests == []


def test_signature_over_a_different_body_is_refused(post):
    signed = fixture_bytes("fireflies_v1_transcription_completed.json")
    response = post(
        fixture_bytes("fireflies_v2_meeting_transcribed.json"),
        signature="sha256=" + hmac_sha256_hex(FIREFLIES_SECRET, signed),
    )
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_no_secret_configured_rejects_even_a_signed_delivery(post, settings):
    body = fixture_bytes("fireflies_v2_meeting_transcribed.json")
    signature = "sha256=" + hmac_sha256_hex(FIREFLIES_SECRET, body)
    settings.FIREFLIES_WEBHOOK_SECRET = ""

    response = post(body, signature=signature)

    assert response.status_code == 503
    assert "FIREFLIES_WEBHOOK_SECRET" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_payload_without_meeting_id_is_400(post):
    response = post(b'{"event": "meeting.transcribed"}')
    assert response.status_code == 400
    assert "meeting id" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_duplicate_delivery_gives_one_call_and_one_notion_row(post, vendors, dana):
    vendors.fireflies.ready()
    body = fixture_bytes("fireflies_v2_meeting_transcribed.json")

    responses = [post(body) for _ in range(3)]

    assert [r.json()["status"] for r in responses] == ["accepted", "duplicate", "duplicate"]
    assert WebhookEvent.objects.get().deliveries == 3
    assert Call.objects.count() == 1
    assert vendors.notion_create.call_count == 1
    assert vendors.notion_update.call_count == 0
    assert vendors.fireflies.count("transcript(") == 1
    assert LeadEvent.objects.filter(kind="call").count() == 1


def test_v1_and_v2_for_one_meeting_update_the_same_row(post, vendors, dana):
    vendors.fireflies.ready()

    post(fixture_bytes("fireflies_v1_transcription_completed.json"))
    post(fixture_bytes("fireflies_v2_meeting_summarized.json"))

    assert Call.objects.count() == 1
    assert WebhookEvent.objects.count() == 2
    assert vendors.notion_create.call_count == 1
    assert vendors.notion_update.call_count == 1
    assert str(vendors.notion_update.calls.last.request.url).endswith(PAGE_ID)
    assert LeadEvent.objects.filter(kind="call").count() == 1


def test_early_webhook_leaves_a_pending_call_that_the_backup_poll_completes(
    post, vendors, dana, django_capture_on_commit_callbacks
):
    vendors.fireflies.not_ready()
    vendors.fireflies.ready()

    response = post(fixture_bytes("fireflies_v2_meeting_transcribed.json"))

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "processed"  # the event is done; the call waits
    call = Call.objects.get()
    assert call.status == Call.Status.PENDING
    assert call.fetch_attempts == 1
    assert "no transcript" in call.fetch_error
    assert call.lead is None
    assert vendors.notion_create.call_count == 0

    with (
        mock.patch("django.utils.timezone.now", return_value=datetime(2026, 11, 24, 14, 0, tzinfo=UTC)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = fireflies_backup_poll()

    assert result == {"listed": 1, "completed": 1, "not_ready": 0, "failed": 0}
    call.refresh_from_db()
    assert call.status == Call.Status.FETCHED
    assert call.fetch_attempts == 2
    assert call.lead == dana
    assert vendors.notion_create.call_count == 1
    list_request = next(r for r in vendors.fireflies.requests if "transcripts(" in r["query"])
    assert list_request["variables"]["fromDate"] == "2026-11-23T14:00:00+00:00"


def test_backup_poll_skips_transcripts_already_fetched(vendors, dana):
    vendors.fireflies.ready()
    assert fireflies_backup_poll()["completed"] == 1
    assert fireflies_backup_poll() == {"listed": 1, "completed": 0, "not_ready": 0, "failed": 0}
    assert vendors.fireflies.count("transcript(") == 1


def test_bot_joined_is_acknowledged_and_ignored(post, vendors):
    response = post(fixture_bytes("fireflies_v2_bot_joined.json"))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == "processed"
    assert not Call.objects.exists()


def test_a_storage_failure_answers_503_never_500(post):
    with mock.patch("calls.webhooks.webhook_event_store", side_effect=RuntimeError("disk full")):
        response = post(fixture_bytes("fireflies_v2_meeting_transcribed.json"))
    assert response.status_code == 503
    assert response["Retry-After"] == "60"


def test_client_reference_id_is_kept_for_matching(post, vendors, dana):
    other = LeadFactory(stage=Stage.BOOKED)
    vendors.fireflies.ready()
    body = (
        b'{"event": "meeting.transcribed", "timestamp": 1795527600000, "meeting_id": "'
        + MEETING_ID.encode()
        + b'", "client_reference_id": "'
        + str(other.public_id).encode()
        + b'"}'
    )

    post(body)

    call = Call.objects.get()
    assert call.lead == other  # step 1 wins over the participant email (step 2)
    assert call.match_method == Call.MatchMethod.CLIENT_REFERENCE


# --- meeting routing ------------------------------------------------------------------------


def test_meet_webhook_records_the_decision_and_asks_fireflies_once(post, vendors):
    body = fixture_bytes("meet_participant_joined.json")

    first = post(body, url="/webhooks/meet/participant-joined/")
    second = post(body, url="/webhooks/meet/participant-joined/", HTTP_X_EVENT_ID="meet-join-7782")

    assert first.status_code == second.status_code == 200
    decisions = list(MeetingRoutingDecision.objects.order_by("id").values_list("decision", flat=True))
    assert decisions == ["requested", "already_requested"]
    assert vendors.fireflies.count("addToLiveMeeting") == 1
    mutation = next(r for r in vendors.fireflies.requests if "addToLiveMeeting" in r["query"])
    assert mutation["variables"]["meetingLink"] == "https://meet.google.com/abc-defg-hij"


def test_meet_webhook_external_only_skips_internal_meetings(post, vendors, settings):
    settings.MEETING_ROUTING_RULE = "external_only"
    body = (
        b'{"id": "m-1", "meeting_link": "https://meet.google.com/xyz-abcd-efg", "participants": ["a@agency.example"]}'
    )

    post(body, url="/webhooks/meet/participant-joined/")

    decision = MeetingRoutingDecision.objects.get()
    assert decision.decision == "skipped"
    assert "internal" in decision.reason
    assert vendors.fireflies.count("addToLiveMeeting") == 0


def test_meet_webhook_external_only_asks_when_an_outsider_joins(post, vendors, settings):
    settings.MEETING_ROUTING_RULE = "external_only"
    post(fixture_bytes("meet_participant_joined.json"), url="/webhooks/meet/participant-joined/")
    decision = MeetingRoutingDecision.objects.get()
    assert decision.decision == "requested"
    assert "northwind.example" in decision.reason


def test_meet_webhook_without_fireflies_key_records_local_decision(post, vendors, settings):
    settings.FIREFLIES_API_KEY = ""
    post(fixture_bytes("meet_participant_joined.json"), url="/webhooks/meet/participant-joined/")
    assert MeetingRoutingDecision.objects.get().decision == "local"
    assert vendors.fireflies.requests == []


def test_meet_webhook_refuses_bad_signature_and_bad_input(post):
    body = fixture_bytes("meet_participant_joined.json")
    assert post(body, url="/webhooks/meet/participant-joined/", signature="sha256=00").status_code == 401
    bad = b'{"meeting_link": "javascript:alert(1)"}'
    response = post(bad, url="/webhooks/meet/participant-joined/")
    assert response.status_code == 400
    assert "meeting_link" in response.json()["error"]
    assert not WebhookEvent.objects.exists()
    assert not MeetingRoutingDecision.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        "javascript:alert(document.cookie)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http://app.fireflies.ai/view/x",
        "//evil.example/x",
        "https:alert(1)",
    ],
)
def test_vendor_links_that_are_not_https_are_dropped(post, vendors, dana, bad, caplog):
    from tests.calls.conftest import fixture_json

    data = fixture_json("fireflies_transcript.json")
    transcript = data["data"]["transcript"]
    transcript["transcript_url"] = bad
    transcript["video_url"] = bad
    vendors.fireflies.ready(data)

    assert post(fixture_bytes("fireflies_v1_transcription_completed.json")).status_code == 200

    call = Call.objects.get()
    assert call.status == Call.Status.FETCHED
    assert (call.transcript_url, call.video_url) == ("", "")
    assert call.audio_url == transcript["audio_url"]  # the https one is kept
    assert call.recording_url == transcript["audio_url"]
    assert LeadEvent.objects.get(lead=dana, kind="call").data["recording_url"] == transcript["audio_url"]
    dropped = [r for r in caplog.records if r.getMessage() == "fireflies.url_dropped"]
    assert sorted(r.field for r in dropped) == ["transcript_url", "video_url"]
