# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support)
"""Sequences: enrolling, drafting due steps (Anthropic through the real SDK, template fallback)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx2
import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from clientsflow.errors import DomainError
from leads.models import Stage
from leads.services.stages import lead_move_stage
from outreach.models import Enrollment, OutboundMessage
from outreach.services.drafting import sequence_drafts_due
from outreach.services.sending import outbound_send
from outreach.services.sequences import enrollment_create, sequence_auto_enroll
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import (  # noqa: F401  (fixtures)
    SequenceFactory,
    StepFactory,
    approver,
    make_approved,
    make_enrollment,
    open_window,
)

pytestmark = pytest.mark.django_db
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"


class AnthropicAtTransport:
    """Answers the official SDK's HTTP requests at the transport (anthropic 2.x speaks httpx2,
    which respx does not patch, so the SDK gets an httpx2 client on a MockTransport)."""

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self.requests: list[httpx2.Request] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.response


@pytest.fixture
def anthropic_answers(settings, monkeypatch):
    from outreach.clients import anthropic as client_module

    settings.ANTHROPIC_API_KEY = "sk-ant-test"

    def install(response: httpx2.Response) -> AnthropicAtTransport:
        transport = AnthropicAtTransport(response)
        monkeypatch.setattr(
            client_module, "http_client", lambda: httpx2.Client(transport=httpx2.MockTransport(transport.handler))
        )
        return transport

    return install


def anthropic_answer(text: str) -> dict:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 20},
    }


def test_due_step_becomes_a_template_draft_without_anthropic(settings):
    settings.ANTHROPIC_API_KEY = ""
    enrollment = make_enrollment(LeadFactory(name="Ada Lovelace", company="Engines Ltd"))
    counts = sequence_drafts_due()
    assert counts["drafted"] == 1
    draft = OutboundMessage.objects.get(enrollment=enrollment)
    assert draft.status == "draft" and draft.origin == "template"
    assert draft.subject == "Quick question for Engines Ltd"
    assert draft.body.startswith("Hi Ada,")
    enrollment.refresh_from_db()
    assert enrollment.next_due_at is None  # waits for this step to be sent
    assert sequence_drafts_due()["drafted"] == 0
    assert mail.outbox == []


def test_anthropic_writes_the_draft_and_its_origin_is_recorded(anthropic_answers):
    route = anthropic_answers(
        httpx2.Response(
            200, json=anthropic_answer(json.dumps({"subject": "Engines, faster", "body": "Hi Ada, a thought..."}))
        )
    )
    enrollment = make_enrollment(LeadFactory(name="Ada Lovelace", company="Engines Ltd"))
    sequence_drafts_due()
    draft = OutboundMessage.objects.get(enrollment=enrollment)
    assert (draft.subject, draft.body) == ("Engines, faster", "Hi Ada, a thought...")
    assert draft.origin == "anthropic:claude-sonnet-5:outbound-v1"
    assert draft.status == "draft"
    assert str(route.requests[-1].url) == ANTHROPIC_URL
    sent = json.loads(route.requests[-1].content)
    assert sent["model"] == "claude-sonnet-5"
    assert "Introduce the agency" in sent["messages"][0]["content"]
    assert route.requests[-1].headers["authorization"] == "Bearer sk-ant-test"


@pytest.mark.parametrize(
    "response",
    [
        httpx2.Response(400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}),
        httpx2.Response(200, json=anthropic_answer("I cannot help with that.")),
    ],
)
def test_anthropic_failure_falls_back_to_the_template(anthropic_answers, response):
    anthropic_answers(response)
    enrollment = make_enrollment()
    sequence_drafts_due()
    draft = OutboundMessage.objects.get(enrollment=enrollment)
    assert draft.origin == "template (Anthropic failed)"
    assert draft.subject.startswith("Quick question for")


def test_sending_a_step_schedules_the_next_and_the_last_completes(open_window, approver):
    enrollment = make_enrollment(steps=2)
    sequence_drafts_due()
    first = OutboundMessage.objects.get(enrollment=enrollment)
    from outreach.services.review import outbound_approve

    outbound_approve(message=first, actor=approver, expected_hash=first.content_hash())
    assert outbound_send(message_id=first.pk, trigger="human", actor=approver).sent
    enrollment.refresh_from_db()
    assert enrollment.next_step == 2
    assert enrollment.next_due_at > timezone.now() + timedelta(hours=47)
    assert sequence_drafts_due()["drafted"] == 0  # not due for two days
    assert sequence_drafts_due(now=timezone.now() + timedelta(hours=49))["drafted"] == 1
    second = OutboundMessage.objects.filter(enrollment=enrollment, status="draft").get()
    outbound_approve(message=second, actor=approver, expected_hash=second.content_hash())
    assert outbound_send(message_id=second.pk, trigger="human", actor=approver).sent
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED


@pytest.mark.parametrize("stage", [Stage.REPLIED, Stage.BOOKED, Stage.LOST])
def test_leads_past_the_sequence_are_never_enrolled(stage):
    lead = LeadFactory()
    lead_move_stage(lead=lead, to_stage=stage, actor_label="test", reason="no budget")
    sequence = SequenceFactory()
    StepFactory(sequence=sequence, position=1)
    with pytest.raises(DomainError):
        enrollment_create(lead=lead, sequence=sequence, actor_label="test")


def test_a_lead_that_moved_on_has_its_enrollment_stopped_at_the_next_step():
    enrollment = make_enrollment()
    lead_move_stage(lead=enrollment.lead, to_stage=Stage.BOOKED, actor_label="bookings")
    assert sequence_drafts_due()["stopped"] == 1
    enrollment.refresh_from_db()
    assert enrollment.status == "stopped" and "Booked" in enrollment.stop_reason
    assert not OutboundMessage.objects.exists()


def test_auto_enroll_new_leads_of_the_configured_source(settings):
    sequence = SequenceFactory(name="Website follow-up")
    StepFactory(sequence=sequence, position=1)
    settings.SEQUENCE_AUTO_ENROLL_SOURCE = "website"
    settings.SEQUENCE_AUTO_ENROLL_SEQUENCE = "Website follow-up"
    web, other = LeadFactory(source="website"), LeadFactory(source="csv")
    assert sequence_auto_enroll()["enrolled"] == 1
    assert sequence_auto_enroll()["enrolled"] == 0  # idempotent
    assert Enrollment.objects.get().lead == web
    assert not Enrollment.objects.filter(lead=other).exists()
    settings.SEQUENCE_AUTO_ENROLL_SOURCE = ""
    assert sequence_auto_enroll() == {"skipped": 1}


def test_admin_bulk_enroll_asks_for_confirmation_first(client):
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_superuser("boss", "boss@agency.example", "pw-for-tests-only")
    client.force_login(owner)
    sequence = SequenceFactory()
    StepFactory(sequence=sequence, position=1)
    leads = [LeadFactory(), LeadFactory()]
    lost = LeadFactory()
    lead_move_stage(lead=lost, to_stage=Stage.LOST, actor_label="t", reason="gone")
    url = reverse("admin:leads_lead_changelist")
    ids = [lead.pk for lead in [*leads, lost]]
    page = client.post(url, {"action": "enroll_in_sequence", "_selected_action": ids}, follow=True)
    assert page.status_code == 200 and "Yes, enroll them" in page.content.decode()
    assert "No: The lead is Lost" in page.content.decode()
    assert Enrollment.objects.count() == 0
    confirm_url = page.redirect_chain[-1][0]
    done = client.post(confirm_url, {"_selected_action": ids, "sequence": sequence.pk, "confirm": "yes"}, follow=True)
    assert "Enrolled 2 lead(s)" in done.content.decode()
    assert set(Enrollment.objects.values_list("lead_id", flat=True)) == {lead.pk for lead in leads}


def test_admin_bulk_enroll_needs_the_add_enrollment_permission(client):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    clerk = get_user_model().objects.create_user("clerk", "clerk@agency.example", "pw-for-tests-only", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_lead", "change_lead"]))
    client.force_login(clerk)
    StepFactory(sequence=SequenceFactory(), position=1)
    lead = LeadFactory()
    page = client.get(reverse("admin:outreach_enrollment_enroll") + f"?ids={lead.pk}", follow=True)
    assert "You need the &#x27;add enrollment&#x27; permission" in page.content.decode()
    client.post(
        reverse("admin:outreach_enrollment_enroll"), {"_selected_action": [lead.pk], "confirm": "yes"}, follow=True
    )
    assert Enrollment.objects.count() == 0


def test_admin_bulk_approve_needs_confirmation_and_approves_exactly_what_was_shown(client, approver):
    from tests.outreach.outbound_support import make_draft

    first, second = make_draft(), make_draft()
    client.force_login(approver)
    url = reverse("admin:outreach_outboundmessage_changelist")
    page = client.post(url, {"action": "approve_selected", "_selected_action": [first.pk, second.pk]})
    assert "Yes, approve 2 draft(s)" in page.content.decode()
    assert OutboundMessage.objects.filter(status="approved").count() == 0
    shown = {m.pk: m.content_hash() for m in (first, second)}
    # Someone edits the second draft between the confirmation page and the click.
    OutboundMessage.objects.filter(pk=second.pk).update(body="Changed after it was shown.")
    client.post(
        url,
        {
            "action": "approve_selected",
            "_selected_action": [first.pk, second.pk],
            "confirm": "yes",
            **{f"hash_{pk}": h for pk, h in shown.items()},
        },
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "approved" and first.approved_by == approver
    assert second.status == "draft"


def test_admin_edit_then_approve_approves_the_edited_text(client, approver):
    from tests.outreach.outbound_support import make_draft

    draft = make_draft()
    client.force_login(approver)
    url = reverse("admin:outreach_outboundmessage_change", args=[draft.pk])
    page = client.get(url).content.decode()
    assert "The conversation so far" in page and "Approve exactly this text" in page
    client.post(
        url,
        {"subject": "Edited subject", "body": "Edited body.", "content_hash": draft.content_hash(), "_approve": "1"},
    )
    draft.refresh_from_db()
    assert draft.status == "approved" and draft.subject == "Edited subject"
    assert draft.approved_hash == draft.content_hash()


def test_board_badge_and_needs_you_count_pending_drafts(approver):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from board.selectors import card_badges, needs_you
    from outreach.selectors import outbound_badges
    from tests.outreach.outbound_support import make_draft

    drafted, quiet = make_draft(), LeadFactory()
    make_approved(approver)
    with CaptureQueriesContext(connection) as queries:
        badges = outbound_badges([drafted.lead_id, quiet.pk])
    assert len(queries) == 1
    assert [b.label for b in badges[drafted.lead_id]] == ["Awaiting approval"]
    assert quiet.pk not in badges
    assert "Awaiting approval" in [b.label for b in card_badges([drafted.lead_id])[drafted.lead_id]]
    assert {c.key: c.count for c in needs_you()}["outbound_drafts"] == 1
