# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support)
"""The human gate: nothing is sent without an approval of exactly that text, on every path."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.urls import reverse

from clientsflow.errors import DomainError
from clientsflow.mailpolicy import allowlist_permits
from clientsflow.models import AuditEvent
from leads.models import LeadEvent, Stage
from outreach.models import OutboundMessage, OutreachEventKind
from outreach.services.review import NotPermitted, outbound_approve, outbound_edit, outbound_reject
from outreach.services.sending import (
    outbound_autosend_due,
    outbound_mark_stale_sending_unknown,
    outbound_send,
)
from outreach.services.suppression import suppression_add
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import (  # noqa: F401  (fixtures)
    approver,
    assistant,
    make_approved,
    make_draft,
    make_enrollment,
    open_window,
)

pytestmark = pytest.mark.django_db
Status = OutboundMessage.Status


def audit_reasons(message: OutboundMessage) -> list[str]:
    return [
        e.details.get("reason", "")
        for e in AuditEvent.objects.filter(object_id=str(message.pk), verb="outbound.blocked").order_by("id")
    ]


# --- No approval -> no send, on every path ------------------------------------------------------


def test_unapproved_draft_is_not_sent_by_a_person(open_window, approver):
    draft = make_draft()
    result = outbound_send(message_id=draft.pk, trigger="human", actor=approver)
    assert not result.sent and result.reason == "not_approved"
    assert mail.outbox == []
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert audit_reasons(draft) == ["not_approved"]


def test_unapproved_draft_is_not_sent_by_a_direct_send_call(open_window, settings, approver):
    settings.AUTOSEND_ENABLED = True
    draft = make_draft()
    assert outbound_send(message_id=draft.pk, trigger="autosend").outcome == "skipped"
    assert outbound_send(message_id=draft.pk, trigger="human", actor=approver).outcome == "skipped"
    assert mail.outbox == []
    assert audit_reasons(draft) == ["not_approved", "not_approved"]


def test_unapproved_draft_is_not_sent_by_the_dispatcher(open_window, settings):
    settings.AUTOSEND_ENABLED = True
    make_draft()
    assert outbound_autosend_due() == {"due": 0}
    assert mail.outbox == []


def test_admin_send_now_action_refuses_unapproved_drafts(open_window, client, approver):
    draft = make_draft()
    client.force_login(approver)
    response = client.post(
        reverse("admin:outreach_outboundmessage_changelist"),
        {"action": "send_now", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "not sent" in response.content.decode()
    assert mail.outbox == []
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_user_without_approve_permission_cannot_approve_or_send(open_window, assistant, approver):
    draft = make_draft()
    with pytest.raises(NotPermitted):
        outbound_approve(message=draft, actor=assistant, expected_hash=draft.content_hash())
    approved = make_approved(approver)
    with pytest.raises(NotPermitted):
        outbound_send(message_id=approved.pk, trigger="human", actor=assistant)
    assert mail.outbox == []


def test_admin_hides_gate_actions_without_the_permission(client, assistant, approver):
    make_draft()
    client.force_login(assistant)
    page = client.get(reverse("admin:outreach_outboundmessage_changelist")).content.decode()
    assert "approve_selected" not in page and "send_now" not in page
    client.force_login(approver)
    page = client.get(reverse("admin:outreach_outboundmessage_changelist")).content.decode()
    assert "approve_selected" in page and "send_now" in page


# --- Approved -> sent once, with the record --------------------------------------------------


def test_approved_message_is_sent_once_with_audit_and_timeline(open_window, approver):
    lead = LeadFactory(email="ada@client.example")
    message = make_approved(approver, lead, subject="Hello Ada", body="Exactly this body.")
    result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.sent
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ada@client.example"] and sent.subject == "Hello Ada"
    assert sent.body.startswith("Exactly this body.")
    message.refresh_from_db()
    assert message.status == Status.SENT and message.sent_at is not None
    audit = AuditEvent.objects.get(verb="outbound.sent", object_id=str(message.pk))
    assert audit.details["hash"] == message.approved_hash == message.content_hash()
    assert audit.details["approved_by"] == "owner" and audit.details["to"] == "ada@client.example"
    assert LeadEvent.objects.filter(lead=lead, kind=OutreachEventKind.MESSAGE_SENT).count() == 1
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    # A second attempt finds it sent and sends nothing.
    again = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert not again.sent and len(mail.outbox) == 1


def test_edit_after_approval_voids_it_and_nothing_is_sent(open_window, settings, approver, assistant):
    settings.AUTOSEND_ENABLED = True
    message = make_approved(approver)
    outbound_edit(message=message, subject=message.subject, body=message.body + " P.S. 50% off!", actor=assistant)
    message.refresh_from_db()
    assert message.status == Status.DRAFT and message.approved_hash == "" and message.approved_by is None
    assert outbound_autosend_due() == {"due": 0}
    assert outbound_send(message_id=message.pk, trigger="human", actor=approver).reason == "not_approved"
    assert mail.outbox == []
    assert AuditEvent.objects.get(verb="outbound.edited").details["approval_voided"] is True


def test_content_changed_behind_the_services_back_is_not_sent(open_window, approver):
    message = make_approved(approver)
    OutboundMessage.objects.filter(pk=message.pk).update(body="Something nobody approved.")
    result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.reason == "not_approved"
    assert mail.outbox == []
    message.refresh_from_db()
    assert message.status == Status.DRAFT and message.approved_hash == ""


def test_approval_must_match_the_text_the_approver_saw(approver):
    draft = make_draft()
    seen = draft.content_hash()
    outbound_edit(message=draft, subject="Changed subject", body=draft.body, actor=approver)
    with pytest.raises(DomainError, match="changed since you opened it"):
        outbound_approve(message=draft, actor=approver, expected_hash=seen)


def test_approval_is_a_database_invariant(approver):
    from django.db import IntegrityError, transaction

    draft = make_draft()
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundMessage.objects.filter(pk=draft.pk).update(status=Status.APPROVED)


# --- Allowlist, suppression, AUTOSEND, window, cap ------------------------------------------------


def test_allowlist_patterns():
    from django.test import override_settings

    with override_settings(SEND_ALLOWLIST=["me@agency.example", "*@client.example"]):
        assert allowlist_permits("ME@agency.example")
        assert allowlist_permits("anyone@client.example")
        assert not allowlist_permits("someone@else.example")
        assert not allowlist_permits("x@sub.client.example")
    with override_settings(SEND_ALLOWLIST=[]):
        assert allowlist_permits("someone@else.example")


def test_allowlist_blocks_and_audits(open_window, settings, approver):
    settings.SEND_ALLOWLIST = ["*@agency.example"]
    message = make_approved(approver, LeadFactory(email="prospect@elsewhere.example"))
    result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.outcome == "blocked" and result.reason == "allowlist"
    assert mail.outbox == []
    message.refresh_from_db()
    assert message.status == Status.BLOCKED
    assert audit_reasons(message) == ["allowlist"]


def test_suppressed_address_blocks_and_audits(open_window, approver):
    lead = LeadFactory(email="gone@client.example")
    message = make_approved(approver, lead)
    # Suppressed by some other path after approval (e.g. a different lead record, same address).
    from outreach.models import Suppression
    from outreach.services.suppression import email_hash

    Suppression.objects.create(email_hash=email_hash("Gone@Client.example"), reason="test", actor_label="test")
    result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.reason == "suppressed"
    assert mail.outbox == []
    assert audit_reasons(message) == ["suppressed"]


def test_suppression_add_blocks_unsent_messages_and_stops_enrollments(approver):
    enrollment = make_enrollment()
    message = make_approved(approver, enrollment.lead)
    suppression_add(email=enrollment.lead.email.upper(), reason="complaint", actor_label="test")
    message.refresh_from_db()
    enrollment.refresh_from_db()
    assert message.status == Status.BLOCKED
    assert enrollment.status == "stopped"
    # New drafts for the address are born blocked.
    assert make_draft(enrollment.lead).status == Status.BLOCKED


def test_autosend_off_means_the_dispatcher_sends_nothing(open_window, settings, approver):
    settings.AUTOSEND_ENABLED = False
    message = make_approved(approver)
    assert outbound_autosend_due() == {"skipped": "AUTOSEND_ENABLED is off"}
    # A send without a person behind it.
    assert outbound_send(message_id=message.pk, trigger="autosend").outcome == "skipped"
    assert mail.outbox == []
    message.refresh_from_db()
    assert message.status == Status.APPROVED


def test_dispatcher_job_sends_approved_messages_when_autosend_is_on(
    open_window, settings, approver, django_capture_on_commit_callbacks
):
    from clientsflow.dispatcher import dispatch_tick, registry
    from clientsflow.models import JobRun

    settings.AUTOSEND_ENABLED = True
    message = make_approved(approver)
    draft = make_draft()
    jobs = {"outbound_autosend": registry()["outbound_autosend"]}
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_tick(jobs=jobs) == ["outbound_autosend"]
    assert JobRun.objects.get(job="outbound_autosend").status == "succeeded"
    assert [m.subject for m in mail.outbox] == [message.subject]
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_outside_the_send_window_nothing_is_sent_and_it_is_audited(open_window, settings, approver):
    settings.AUTOSEND_ENABLED = True
    settings.OUTBOUND_SEND_DAYS = []  # no day is a send day
    make_approved(approver)
    result = outbound_autosend_due()
    assert result["skipped"] == "outside the send window"
    assert mail.outbox == []
    assert AuditEvent.objects.filter(verb="outbound.blocked", details__reason="outside_window").exists()


def test_daily_cap_stops_sending_and_is_audited(open_window, settings, approver):
    settings.AUTOSEND_ENABLED = True
    settings.OUTBOUND_DAILY_CAP = 1
    first, second = make_approved(approver), make_approved(approver)
    outbound_autosend_due()
    assert len(mail.outbox) == 1
    second.refresh_from_db() if first.pk < second.pk else first.refresh_from_db()
    assert OutboundMessage.objects.filter(status=Status.APPROVED).count() == 1
    assert AuditEvent.objects.filter(verb="outbound.blocked", details__reason="daily_cap").count() == 1


def test_send_window_uses_the_owner_zone(settings):
    from datetime import UTC, datetime

    from outreach.services.sending import in_send_window

    settings.OWNER_TIMEZONE = "America/New_York"
    settings.OUTBOUND_SEND_DAYS = ["mon", "tue", "wed", "thu", "fri"]
    settings.OUTBOUND_SEND_HOURS = "9-17"
    # Tuesday 2026-11-24 13:30 UTC is 08:30 in New York (before 9), 14:30 UTC is 09:30.
    assert not in_send_window(datetime(2026, 11, 24, 13, 30, tzinfo=UTC))
    assert in_send_window(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))
    # Saturday.
    assert not in_send_window(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))


def test_the_send_window_in_settings_wins_over_the_environment(settings, django_capture_on_commit_callbacks):
    from datetime import UTC, datetime, time

    from django.core.exceptions import ValidationError

    from clientsflow.site import site_settings_update
    from outreach.services.sending import in_send_window

    settings.OWNER_TIMEZONE = "America/New_York"
    settings.OUTBOUND_SEND_DAYS = ["mon", "tue", "wed", "thu", "fri"]
    settings.OUTBOUND_SEND_HOURS = "9-17"
    tuesday = [datetime(2026, 11, 24, hour, minute, tzinfo=UTC) for hour, minute in ((13, 45), (14, 15), (23, 0))]
    # 08:45, 09:15 and 18:00 in New York
    assert [in_send_window(t) for t in tuesday] == [False, True, False]
    with django_capture_on_commit_callbacks(execute=True):
        site_settings_update(send_window_start=time(8, 30), send_window_end=time(0, 0))  # 08:30 to midnight
    assert [in_send_window(t) for t in tuesday] == [True, True, True]
    assert not in_send_window(datetime(2026, 11, 24, 13, 29, tzinfo=UTC))  # 08:29
    with django_capture_on_commit_callbacks(execute=True):
        site_settings_update(send_window_start=time(9, 30), send_window_end=time(10, 0))
    assert [in_send_window(t) for t in tuesday] == [False, False, False]
    assert in_send_window(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))  # 09:30
    assert not in_send_window(datetime(2026, 11, 28, 14, 30, tzinfo=UTC))  # Saturday: still the days' rule
    for start, end in ((time(10, 0), time(9, 0)), (time(10, 0), None)):
        with pytest.raises(ValidationError, match="send window"):
            site_settings_update(send_window_start=start, send_window_end=end)


# --- Failures: failed (retry by a person) vs unknown (never resent) -----------------------------


def test_refused_by_the_provider_is_failed_and_a_person_can_retry(open_window, settings, approver):
    import smtplib

    from outreach.services.review import outbound_retry_failed

    settings.EMAIL_BACKEND = "tests.outreach.outbound_backends.RefusingBackend"
    message = make_approved(approver)
    result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.outcome == Status.FAILED
    message.refresh_from_db()
    assert message.status == Status.FAILED and "SMTPRecipientsRefused" in message.last_error
    assert AuditEvent.objects.filter(verb="outbound.failed", object_id=str(message.pk)).exists()
    assert smtplib  # the refusal is smtplib's own exception, raised by the backend
    # The dispatcher never retries a failed message on its own.
    settings.AUTOSEND_ENABLED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    outbound_autosend_due()
    assert mail.outbox == []
    outbound_retry_failed(message=message, actor=approver)
    assert outbound_send(message_id=message.pk, trigger="human", actor=approver).sent
    assert len(mail.outbox) == 1


def test_error_after_the_provider_may_have_accepted_is_unknown_and_never_resent(open_window, settings, approver):
    from tests.outreach import outbound_backends

    settings.AUTOSEND_ENABLED = True
    settings.EMAIL_BACKEND = "tests.outreach.outbound_backends.AcceptThenDropBackend"
    outbound_backends.ACCEPTED.clear()
    message = make_approved(approver)
    result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.outcome == Status.UNKNOWN
    assert len(outbound_backends.ACCEPTED) == 1
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    # Neither the dispatcher, an automatic send nor a person's "Send now" sends it again.
    outbound_autosend_due()
    outbound_send(message_id=message.pk, trigger="autosend")
    assert outbound_send(message_id=message.pk, trigger="human", actor=approver).outcome != "sent"
    assert len(outbound_backends.ACCEPTED) == 1


def test_crash_between_provider_accept_and_status_save_leaves_unknown(open_window, settings, approver):
    """The provider accepted; saving `sent` fails (database error): unknown, and never resent."""
    settings.AUTOSEND_ENABLED = True
    message = make_approved(approver)

    def fail_sent_update(execute, sql, params, many, context):
        if sql.startswith("UPDATE") and "leads_outboundmessage" in sql and params and "sent" in params:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_sent_update):
        result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.outcome == Status.UNKNOWN
    assert len(mail.outbox) == 1  # it did go out
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    outbound_autosend_due()
    outbound_send(message_id=message.pk, trigger="autosend")
    assert len(mail.outbox) == 1


def test_worker_killed_mid_send_is_swept_to_unknown_not_resent(open_window, settings, approver):
    from datetime import timedelta

    from tests.outreach import outbound_backends

    settings.AUTOSEND_ENABLED = True
    settings.EMAIL_BACKEND = "tests.outreach.outbound_backends.AcceptThenDieBackend"
    outbound_backends.ACCEPTED.clear()
    message = make_approved(approver)
    with pytest.raises(outbound_backends.WorkerKilled):
        outbound_send(message_id=message.pk, trigger="autosend")
    message.refresh_from_db()
    assert message.status == Status.SENDING
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    outbound_autosend_due()  # a `sending` row is never picked up again
    assert mail.outbox == []
    assert outbound_mark_stale_sending_unknown(older_than=timedelta(0)) == 1
    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    outbound_autosend_due()
    assert mail.outbox == [] and len(outbound_backends.ACCEPTED) == 1


# --- Reject, and the sequence's own checks ----------------------------------------------------


def test_reject_requires_a_reason_and_moves_the_sequence_on(approver):
    enrollment = make_enrollment(steps=2)
    from outreach.services.drafting import sequence_drafts_due

    assert sequence_drafts_due()["drafted"] == 1
    draft = OutboundMessage.objects.get(enrollment=enrollment)
    with pytest.raises(DomainError):
        outbound_reject(message=draft, actor=approver, reason=" ")
    outbound_reject(message=draft, actor=approver, reason="Too pushy")
    draft.refresh_from_db()
    enrollment.refresh_from_db()
    assert draft.status == Status.REJECTED and draft.rejected_reason == "Too pushy"
    assert enrollment.next_step == 2 and enrollment.next_due_at is not None


def test_sequence_message_for_a_lead_who_moved_on_is_blocked(open_window, approver):
    enrollment = make_enrollment()
    message = make_approved(approver, enrollment.lead, enrollment=enrollment)
    from leads.services.stages import lead_move_stage

    lead_move_stage(lead=enrollment.lead, to_stage=Stage.BOOKED, actor_label="test")
    result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.reason == "lead_stage"
    assert mail.outbox == []


def test_allowlist_accepts_shell_style_globs():
    from django.test import override_settings

    with override_settings(SEND_ALLOWLIST=["*+zz@agency.example", "*@*.agency.example", "@legacy.example"]):
        assert allowlist_permits("Ops+ZZ@agency.example")
        assert allowlist_permits("ada@team.agency.example")
        assert allowlist_permits("old@legacy.example")
        assert not allowlist_permits("ops@agency.example")
        assert not allowlist_permits("ada@agency.example.evil")
        assert not allowlist_permits("")
