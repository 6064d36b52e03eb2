"""Outreach: sequences, enrollments, outbound messages and the human gate, replies, suppression.

The tables predate this app (they were created by `leads`), so each model keeps its `leads_*`
table name: moving the code moved no data.
"""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from clientsflow.models import TimeStampedModel
from leads.models import Lead, TimelineKind


class OutreachEventKind(TimelineKind):
    """What outreach puts on a lead's timeline."""

    ENROLLED = "enrolled", "Enrolled in a sequence"
    ENROLLMENT_STOPPED = "enrollment_stopped", "Sequence stopped"
    MESSAGE_SENT = "message_sent", "Email sent"
    REPLY_RECEIVED = "reply_received", "Reply received"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class InboundReply(models.Model):
    """A reply from a lead (inbound mail webhook or IMAP poll), matched to its lead when possible.

    Classification lives in `classify/` (a `Classification` per reply); `outreach.services.replies`
    creates these rows and stops enrollments. A reply matched only by its `From:` address whose
    sender was not authenticated is `held_for_review`: stored and shown, but it moves nothing.
    """

    class Source(models.TextChoices):
        WEBHOOK = "webhook", "Inbound webhook"
        IMAP = "imap", "IMAP poll"
        MANUAL = "manual", "Entered by hand"
        DEMO = "demo", "Demo data"

    class MatchedBy(models.TextChoices):
        IN_REPLY_TO = "in_reply_to", "In-Reply-To header"
        REFERENCES = "references", "References header"
        SENDER = "sender", "Sender address"
        HUMAN = "human", "Matched by a person"
        UNMATCHED = "unmatched", "Unmatched"

    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies")
    source = models.CharField(max_length=16, choices=Source.choices)
    from_email = models.CharField(max_length=254)
    from_email_normalized = models.CharField(verbose_name="sender email (as matched)", max_length=254, db_index=True)
    to_email = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    body = models.TextField(blank=True)
    message_id = models.CharField(verbose_name="Message-ID header", max_length=998, blank=True)
    in_reply_to = models.CharField(verbose_name="In-Reply-To header", max_length=998, blank=True)
    references = models.TextField(verbose_name="References header", blank=True)
    matched_by = models.CharField(max_length=16, choices=MatchedBy.choices, default=MatchedBy.UNMATCHED)
    sender_verified = models.BooleanField(
        null=True,
        help_text="Whether the receiving side authenticated the sender (DKIM or SPF aligned with the From "
        "domain). Empty for replies stored before this was checked.",
    )
    sender_check = models.CharField(max_length=255, blank=True, help_text="How the sender was (not) verified.")
    held_for_review = models.BooleanField(
        default=False,
        db_index=True,
        help_text="Matched only by an unverified sender address: it changes nothing until a person applies it.",
    )
    received_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Recorded once (by `outreach.services.answers`) rather than looked up per reply by each
    # report that asks which email got an answer.
    in_answer_to = models.ForeignKey(
        "OutboundMessage",
        verbose_name="answers",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="replies",
        db_index=False,  # inboundreply_answer_idx starts with it
        help_text="The email this reply answers: the last one sent to its lead at or before it arrived.",
    )

    class Meta:
        verbose_name = "inbound reply"
        verbose_name_plural = "inbound replies"
        db_table = "leads_inboundreply"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message_id"], condition=~Q(message_id=""), name="inboundreply_unique_message_id"
            ),
        ]
        indexes = [
            # Reports (outreach): the replies in a range in lead order, read from the index alone.
            models.Index(fields=["lead", "received_at", "id"], name="inboundreply_lead_time_idx"),
            # Reports (outreach): the replies each email got, grouped per email from the index alone.
            models.Index(fields=["in_answer_to", "received_at", "id"], name="inboundreply_answer_idx"),
        ]

    def __str__(self) -> str:
        return f"Reply from {self.from_email} ({self.received_at:%Y-%m-%d})"


def outbound_content_hash(subject: str, body: str) -> str:
    """SHA-256 of exactly the subject and body a person approved.

    A NUL separates the two so that moving text between subject and body changes the hash.
    """
    return hashlib.sha256(f"{subject}\x00{body}".encode()).hexdigest()


class Sequence(TimeStampedModel):
    """An ordered series of emails a lead receives until they reply (or the steps run out)."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True, help_text="Inactive sequences draft nothing and enroll no one.")

    class Meta:
        db_table = "leads_sequence"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(help_text="1 for the first email, 2 for the next...")
    delay_hours = models.PositiveIntegerField(
        default=0, help_text="Hours after the previous step was sent (after enrollment for the first step)."
    )
    intent = models.CharField(
        max_length=500, blank=True, help_text="What this email should achieve, for the drafting model."
    )
    subject_template = models.CharField(
        max_length=255, help_text="Variables: {{ lead.first_name }}, {{ lead.name }}, {{ lead.company }}."
    )
    body_template = models.TextField()

    class Meta:
        db_table = "leads_sequencestep"
        ordering = ["sequence", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "position"], name="sequencestep_unique_position"),
            models.CheckConstraint(condition=Q(position__gte=1), name="sequencestep_position_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.sequence} · step {self.position}"


class Enrollment(TimeStampedModel):
    """One lead going through one sequence.

    `next_step` is the position of the step to draft next; `next_due_at` is when. While a step's
    draft waits for review and sending, `next_due_at` is empty: the following step is scheduled
    from the moment this one is actually sent.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="enrollments")
    sequence = models.ForeignKey(Sequence, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    next_step = models.PositiveSmallIntegerField(default=1)
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stop_reason = models.CharField(max_length=255, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    enrolled_by = models.CharField(max_length=100, help_text="The person, or what enrolled the lead.")

    class Meta:
        db_table = "leads_enrollment"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_due_at"], name="enrollment_due_idx")]

    def __str__(self) -> str:
        return f"{self.lead} in {self.sequence} ({self.get_status_display()})"


class OutboundMessage(TimeStampedModel):
    """One email to a lead. It leaves only after a person with the approve permission approved
    exactly this subject and body (`approved_hash`); any edit voids the approval."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft: awaiting approval"
        APPROVED = "approved", "Approved"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed: not sent"
        UNKNOWN = "unknown", "Unknown: may have been sent"
        REJECTED = "rejected", "Rejected"
        BLOCKED = "blocked", "Blocked"

    class Kind(models.TextChoices):
        SEQUENCE = "sequence", "Sequence step"
        PROPOSAL = "proposal", "Proposal"
        ONE_OFF = "one_off", "One-off"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="outbound_messages")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SEQUENCE)
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    step = models.ForeignKey(SequenceStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_email = models.CharField(max_length=254)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    origin = models.CharField(
        max_length=120, help_text="Who wrote the copy: 'template', 'anthropic:<model>:<prompt version>', ..."
    )
    send_after = models.DateTimeField(null=True, blank=True, help_text="Not sent automatically before this time.")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_hash = models.CharField(
        verbose_name="approved content fingerprint", max_length=64, blank=True, editable=False
    )
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejected_reason = models.CharField(max_length=255, blank=True)
    block_reason = models.CharField(max_length=255, blank=True)
    message_id = models.CharField(verbose_name="Message-ID header", max_length=255, unique=True, editable=False)
    in_reply_to = models.CharField(verbose_name="In-Reply-To header", max_length=998, blank=True, editable=False)
    references = models.TextField(verbose_name="References header", blank=True, editable=False)
    claimed_at = models.DateTimeField(verbose_name="claimed for sending at", null=True, blank=True, editable=False)
    send_attempts = models.PositiveIntegerField(default=0, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    provider_message_id = models.CharField(verbose_name="provider's message ID", max_length=255, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "leads_outboundmessage"
        ordering = ["-created_at", "-id"]
        permissions = [("approve_outboundmessage", "Can approve and send outbound messages")]
        indexes = [
            models.Index(fields=["status", "send_after"], name="outbound_status_idx"),
            models.Index(fields=["lead", "status"], name="outbound_lead_status_idx"),
            # Reports: a lead's last email sent before a reply, ties to the later id (one index
            # lookup per reply, no sort), and the emails of each step sent in a range (one range
            # per step, read from the index alone).
            # It also carries what the report needs of that email (PostgreSQL reads no row).
            models.Index(
                fields=["lead", "status", "sent_at", "id", "kind", "enrollment", "step"],
                name="outbound_lead_sent_idx",
            ),
            models.Index(
                fields=["kind", "status", "step", "sent_at", "enrollment", "lead"], name="outbound_step_sent_idx"
            ),
            # Reports on PostgreSQL: the sequence emails sent, in id order with their time, step,
            # enrollment and lead, read from the index alone and merged with the replies grouped
            # per email they answer (inboundreply_answer_idx, in the same order): no hash or sort
            # of the emails. Only those emails, so no entry is compared on its kind and status
            # (the whole query over a year at 100,000 leads: about 30 ms of server time, 90-100
            # from ranges of outbound_step_sent_idx). SQLite reads each entry's kind and status
            # from the index it uses, so it keeps outbound_step_sent_idx.
            models.Index(
                fields=["id", "sent_at", "step", "enrollment", "lead"],
                condition=Q(kind="sequence", status="sent", enrollment__isnull=False),
                name="outbound_sequence_sent_idx",
            ),
        ]
        constraints = [
            # The gate as a row invariant: nothing is approved, in flight or sent without an approval.
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "sending", "sent", "unknown"])
                | (~Q(approved_hash="") & Q(approved_by__isnull=False) & Q(approved_at__isnull=False)),
                name="outbound_approval_required",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject[:60]} → {self.to_email}"

    def content_hash(self) -> str:
        return outbound_content_hash(self.subject, self.body)

    @property
    def approval_valid(self) -> bool:
        return (
            bool(self.approved_hash) and self.approved_by_id is not None and self.approved_hash == self.content_hash()
        )


class Suppression(models.Model):
    """An address that must never be emailed again, kept as a hash so it outlives the lead."""

    email_hash = models.CharField(verbose_name="email fingerprint", max_length=64, unique=True)
    reason = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "leads_suppression"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"suppressed {self.email_hash[:12]}… ({self.reason})"


class ImapCursor(models.Model):
    """How far the IMAP poll has read one mailbox folder, so no message is read twice."""

    mailbox = models.CharField(max_length=255, unique=True, help_text="user@host/folder (no password).")
    uidvalidity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    polled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "IMAP mailbox position"
        verbose_name_plural = "IMAP mailbox positions"
        db_table = "leads_imapcursor"

    def __str__(self) -> str:
        return f"{self.mailbox} up to UID {self.last_uid}"
