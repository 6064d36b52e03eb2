"""A database from before the outreach app keeps every row, approval and permission after migrating.

The database is taken back to the last migration where `leads` owned the outbound models, filled
through the historical models of that layout, and migrated forward to today's.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from outreach.models import (
    Enrollment,
    ImapCursor,
    InboundReply,
    OutboundMessage,
    Sequence,
    SequenceStep,
    Suppression,
)
from outreach.services.review import check_can_approve

pytestmark = pytest.mark.django_db(transaction=True)

# The last migrations of the layout where `leads` owned the outbound models.
BEFORE = [("leads", "0005_billing_timeline_kinds"), ("classify", "0002_builtin_prompt"), ("outreach", None)]
# Read and write content types and permissions at their current shape.
FRAMEWORK = [("contenttypes", "0002_remove_content_type_name"), ("auth", "0012_alter_user_first_name_max_length")]
MOVED = ("inboundreply", "sequence", "sequencestep", "enrollment", "outboundmessage", "suppression", "imapcursor")


def _migrate(targets: list[tuple[str, str | None]] | None = None):
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    nodes = [target for target in targets if target[1] is not None] + FRAMEWORK
    return MigrationExecutor(connection).loader.project_state(nodes).apps


def _seed(apps, *, stale_outreach_types: bool) -> dict[str, object]:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("auth", "User")
    Group = apps.get_model("auth", "Group")
    for model in MOVED:
        ContentType.objects.get_or_create(app_label="leads", model=model)
    outbound_type = ContentType.objects.get(app_label="leads", model="outboundmessage")
    approve, _ = Permission.objects.get_or_create(
        content_type=outbound_type,
        codename="approve_outboundmessage",
        defaults={"name": "Can approve and send outbound messages"},
    )
    if stale_outreach_types:
        # `migrate` ran once with the new code before this migration: both content types exist.
        stale = ContentType.objects.create(app_label="outreach", model="outboundmessage")
        Permission.objects.create(content_type=stale, codename="approve_outboundmessage", name="Can approve")

    approver = User.objects.create(username="approver", is_staff=True, is_active=True, password="!")
    approver.user_permissions.add(approve)
    reviewers = Group.objects.create(name="Reviewers")
    reviewers.permissions.add(approve)
    assistant = User.objects.create(username="assistant", is_staff=True, is_active=True, password="!")
    assistant.groups.add(reviewers)

    now = timezone.now()
    lead = apps.get_model("leads", "Lead").objects.create(
        name="Ada Lovelace", email="ada@example.com", email_normalized="ada@example.com", stage="replied"
    )
    Sequence = apps.get_model("leads", "Sequence")
    sequence = Sequence.objects.create(name="Warm intro")
    step = apps.get_model("leads", "SequenceStep").objects.create(
        sequence=sequence, position=1, delay_hours=0, subject_template="Hi", body_template="Hello"
    )
    enrollment = apps.get_model("leads", "Enrollment").objects.create(
        lead=lead, sequence=sequence, status="stopped", next_step=1, stop_reason="the lead replied", enrolled_by="owner"
    )
    subject, body = "A quick idea for Analytical Engines", "Hi Ada,\n\nWould a short call next week make sense?"
    approved_hash = hashlib.sha256(f"{subject}\x00{body}".encode()).hexdigest()
    sent = apps.get_model("leads", "OutboundMessage").objects.create(
        lead=lead,
        enrollment=enrollment,
        step=step,
        to_email="ada@example.com",
        subject=subject,
        body=body,
        status="sent",
        origin="template",
        approved_by=approver,
        approved_at=now - timedelta(hours=1),
        approved_hash=approved_hash,
        message_id="<cf.before-the-move@agency.example>",
        sent_at=now,
        provider_message_id="provider-1",
    )
    reply = apps.get_model("leads", "InboundReply").objects.create(
        lead=lead,
        source="webhook",
        from_email="ada@example.com",
        from_email_normalized="ada@example.com",
        subject="Re: A quick idea",
        body="Yes, Tuesday works.",
        message_id="<reply-1@example.com>",
        in_reply_to=sent.message_id,
        matched_by="in_reply_to",
        received_at=now,
    )
    apps.get_model("classify", "Classification").objects.create(
        reply=reply, label="positive", confidence=0.9, backend="local"
    )
    suppression = apps.get_model("leads", "Suppression").objects.create(
        email_hash=hashlib.sha256(b"gone@example.com").hexdigest(), reason="unsubscribe_link", actor_label="unsubscribe"
    )
    apps.get_model("leads", "ImapCursor").objects.create(
        mailbox="replies@agency.example/INBOX", uidvalidity=7, last_uid=42
    )
    return {
        "approver": approver.pk,
        "assistant": assistant.pk,
        "approve_perm": approve.pk,
        "sequence": sequence.pk,
        "step": step.pk,
        "enrollment": enrollment.pk,
        "sent": sent.pk,
        "hash": approved_hash,
        "reply": reply.pk,
        "suppression": suppression.pk,
    }


@pytest.mark.parametrize("stale_outreach_types", [False, True], ids=["plain", "outreach-types-already-created"])
def test_a_database_from_the_leads_layout_keeps_every_row_approval_and_permission(stale_outreach_types):
    old = _migrate(BEFORE)
    try:
        ids = _seed(old, stale_outreach_types=stale_outreach_types)
    finally:
        _migrate()

    message = OutboundMessage.objects.select_related("approved_by", "enrollment", "step").get(pk=ids["sent"])
    assert message.status == OutboundMessage.Status.SENT
    assert message.approved_hash == ids["hash"] == message.content_hash()
    assert message.approval_valid and message.approved_by.pk == ids["approver"]
    assert message.enrollment.pk == ids["enrollment"] and message.step.pk == ids["step"]
    assert message.provider_message_id == "provider-1"

    enrollment = Enrollment.objects.get(pk=ids["enrollment"])
    assert enrollment.sequence_id == ids["sequence"] and enrollment.status == Enrollment.Status.STOPPED
    assert list(Sequence.objects.get(pk=ids["sequence"]).steps.values_list("pk", flat=True)) == [ids["step"]]
    assert SequenceStep.objects.get(pk=ids["step"]).body_template == "Hello"

    reply = InboundReply.objects.get(pk=ids["reply"])
    assert reply.in_reply_to == message.message_id and reply.lead_id == message.lead_id
    assert reply.classification.label == "positive"  # classify's relation follows the model
    assert Suppression.objects.get(pk=ids["suppression"]).reason == "unsubscribe_link"
    assert ImapCursor.objects.get(mailbox="replies@agency.example/INBOX").last_uid == 42

    # The grants made under `leads` hold under `outreach`, directly and through a group.
    users = get_user_model().objects
    for key in ("approver", "assistant"):
        user = users.get(pk=ids[key])
        assert user.has_perm("outreach.approve_outboundmessage")
        check_can_approve(user)
    assert not ContentType.objects.filter(app_label="leads", model__in=MOVED).exists()
    outbound_type = ContentType.objects.get_for_model(OutboundMessage)
    assert outbound_type.app_label == "outreach"
    assert outbound_type.permission_set.filter(codename="approve_outboundmessage").count() == 1
