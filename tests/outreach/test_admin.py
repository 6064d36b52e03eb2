"""The review queue as the owner works it: what the list shows, the conversation beside the draft,
internal fields tucked away, plain messages after an edit, and "Approve and next"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.models import InboundReply, OutboundMessage
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import approver, make_approved, make_draft  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
Status = OutboundMessage.Status


def _change_url(message: OutboundMessage) -> str:
    return reverse("admin:outreach_outboundmessage_change", args=[message.pk])


def _form(message: OutboundMessage, **extra: str) -> dict[str, str]:
    message.refresh_from_db()
    return {"subject": message.subject, "body": message.body, "content_hash": message.content_hash(), **extra}


def test_list_shows_lead_stage_step_subject_first_line_and_age(admin_client):
    from tests.outreach.outbound_support import make_enrollment

    enrollment = make_enrollment()
    draft = make_draft(
        enrollment.lead,
        enrollment=enrollment,
        step=enrollment.sequence.steps.get(position=1),
        body="Hi Dana,\n\nSaw your launch last week and had one idea for the onboarding.\n\nBest",
    )
    OutboundMessage.objects.filter(pk=draft.pk).update(created_at=timezone.now() - timedelta(hours=3))
    page = admin_client.get(reverse("admin:outreach_outboundmessage_changelist")).content.decode()
    assert str(draft.lead) in page
    assert draft.lead.get_stage_display() in page
    assert f"{enrollment.sequence} · step 1" in page
    assert draft.subject in page
    assert "Saw your launch last week and had one idea for the onboarding." in page
    assert "3 hours ago" in page


def test_change_form_shows_the_conversation_and_hides_internals_under_details(admin_client):
    lead = LeadFactory()
    InboundReply.objects.create(
        lead=lead,
        from_email=lead.email,
        from_email_normalized=lead.email,
        subject="Re: Quick question",
        body="Sounds interesting, what would it cost?",
        received_at=timezone.now() - timedelta(hours=2),
    )
    draft = make_draft(lead)
    page = admin_client.get(_change_url(draft)).content.decode()
    assert "The conversation so far" in page
    assert "Sounds interesting, what would it cost?" in page and "2 hours ago" in page
    # Internal fields are read-only, in a collapsed "Details" fieldset.
    assert 'class="module aligned collapse"' in page or "<details" in page
    collapsed = page[page.index("Details</") :]
    for label in ("Message-ID header", "Claimed for sending at", "Approved content fingerprint"):
        assert label in collapsed, label
    assert 'name="message_id"' not in page and 'name="approved_hash"' not in page


def test_editing_an_approved_message_says_the_approval_was_cancelled(admin_client, approver):  # noqa: F811
    message = make_approved(approver)
    response = admin_client.post(
        _change_url(message), _form(message, body="A different body.", _save="Save"), follow=True
    )
    page = response.content.decode()
    assert "Your edit cancelled the approval — approve again to send." in page
    assert "changed successfully" not in page
    message.refresh_from_db()
    assert message.status == Status.DRAFT and message.approved_hash == ""


def test_approve_and_next_opens_the_next_draft(admin_client):
    first = make_draft()
    second = make_draft()
    response = admin_client.post(_change_url(first), _form(first, _approve_next="Approve and next"))
    assert response.status_code == 302 and response["Location"] == _change_url(second)
    first.refresh_from_db()
    assert first.status == Status.APPROVED
    response = admin_client.post(_change_url(second), _form(second, _approve_next="Approve and next"), follow=True)
    assert "No more drafts are waiting for review." in response.content.decode()


def test_reject_reason_is_a_labelled_field_and_the_shortcut_script_is_loaded(admin_client):
    draft = make_draft()
    page = admin_client.get(_change_url(draft)).content.decode()
    assert '<label for="id_reject_reason">Reject, because…</label>' in page
    assert 'data-shortcut="a"' in page and "clientsflow/admin-keys" in page
    assert "<script>" not in page.split("</head>")[1]  # no inline script in the body (CSP)
