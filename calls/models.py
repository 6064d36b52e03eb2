"""Sales calls recorded by Fireflies, the lead each belongs to, and meeting-routing decisions."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from clientsflow.models import TimeStampedModel
from leads.models import TimelineKind


class CallEventKind(TimelineKind):
    """What calls puts on a lead's timeline."""

    CALL = "call", "Sales call"


class Call(TimeStampedModel):
    """One recorded meeting (one Fireflies transcript id), matched to a lead or waiting for a person.

    A webhook may arrive before the transcript is ready: the row then exists as `pending` and the
    fetch is retried (task backoff and the 3-minute backup poll) until it is `fetched`.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the transcript"
        FETCHED = "fetched", "Transcript fetched"

    class MatchMethod(models.TextChoices):
        CLIENT_REFERENCE = "client_reference", "Client reference id"
        EMAIL = "email", "Participant email"
        MEETING_ID = "meeting_id", "Meeting already linked"
        BOOKING = "booking", "Booking (calendar event / Meet link)"
        HUMAN = "human", "Confirmed by a person"
        UNMATCHED = "unmatched", "Unmatched"

    class NotionStatus(models.TextChoices):
        PENDING = "pending", "Waiting to sync"
        SYNCED = "synced", "In Notion"
        RETRYING = "retrying", "Will retry"
        FAILED = "failed", "Failed: needs you"
        NOT_CONFIGURED = "not_configured", "Notion not configured"

    fireflies_id = models.CharField(
        verbose_name="Fireflies ID", max_length=100, unique=True, help_text="Fireflies meeting / transcript id."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    title = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, db_index=True, help_text="UTC.")
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA zone the call is shown in.")
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    organizer_email = models.CharField(max_length=254, blank=True)
    participants = models.JSONField(
        verbose_name="participants' emails", default=list, blank=True, help_text="Participant email addresses."
    )
    attendees = models.JSONField(
        verbose_name="calendar attendees", default=list, blank=True, help_text="[{name, email}] from the calendar."
    )
    transcript_url = models.URLField(max_length=1000, blank=True)
    audio_url = models.URLField(max_length=2000, blank=True)
    video_url = models.URLField(max_length=2000, blank=True)
    meeting_link = models.URLField(max_length=1000, blank=True)
    calendar_event_ids = models.JSONField(
        verbose_name="calendar event IDs", default=list, blank=True, help_text="calendar_id / cal_id from Fireflies."
    )
    client_reference_id = models.CharField(verbose_name="booking reference", max_length=255, blank=True)
    summary = models.TextField(blank=True)
    transcript_text = models.TextField(blank=True)

    fetch_attempts = models.PositiveIntegerField(default=0)
    fetch_error = models.TextField(blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)

    lead = models.ForeignKey("leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    match_method = models.CharField(
        max_length=20, choices=MatchMethod.choices, default=MatchMethod.UNMATCHED, db_index=True
    )
    match_confidence = models.FloatField(default=0.0, help_text="0 to 1.")
    match_steps = models.JSONField(default=list, blank=True, help_text="Each step of the match chain and its result.")
    match_suggestions = models.JSONField(
        verbose_name="suggested leads", default=list, blank=True, help_text="Fuzzy candidates for a person to confirm."
    )
    matched_at = models.DateTimeField(null=True, blank=True)
    matched_by = models.CharField(max_length=100, blank=True)

    notion_page_id = models.CharField(verbose_name="Notion page ID", max_length=64, blank=True)
    notion_status = models.CharField(
        max_length=16, choices=NotionStatus.choices, default=NotionStatus.PENDING, db_index=True
    )
    notion_error = models.TextField(blank=True)
    notion_attempts = models.PositiveIntegerField(default=0)
    notion_synced_at = models.DateTimeField(null=True, blank=True)
    notion_claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="A sync in progress (no two syncs of one call at once)."
    )

    unmatched_alerted_at = models.DateTimeField(null=True, blank=True)
    sync_failure_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(match_method="unmatched", lead__isnull=True)
                | (~Q(match_method="unmatched") & Q(lead__isnull=False)),
                name="call_lead_iff_matched",
            ),
            models.CheckConstraint(
                condition=Q(match_confidence__gte=0) & Q(match_confidence__lte=1), name="call_confidence_range"
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "-started_at"], name="call_lead_idx"),
            models.Index(fields=["match_method", "status"], name="call_match_idx"),
        ]

    def __str__(self) -> str:
        return self.title or f"Fireflies meeting {self.fireflies_id}"

    @property
    def recording_url(self) -> str:
        return self.video_url or self.audio_url or self.transcript_url

    @property
    def is_unmatched(self) -> bool:
        return self.lead_id is None


class MeetingRoutingDecision(models.Model):
    """What the routing rule decided when a participant joined a meeting (one row per delivery)."""

    class Decision(models.TextChoices):
        REQUESTED = "requested", "Fireflies asked to join"
        ALREADY_REQUESTED = "already_requested", "Already asked for this meeting"
        SKIPPED = "skipped", "Not recorded (rule)"
        LOCAL = "local", "Would ask Fireflies (not configured)"
        FAILED = "failed", "Asking Fireflies failed"

    webhook_event = models.ForeignKey(
        "clientsflow.WebhookEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    meeting_link = models.URLField(max_length=1000, db_index=True)
    title = models.CharField(max_length=256, blank=True)
    participant_emails = models.JSONField(default=list, blank=True)
    rule = models.CharField(max_length=32)
    decision = models.CharField(max_length=20, choices=Decision.choices)
    reason = models.CharField(max_length=500)
    error = models.TextField(blank=True)
    decided_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()}: {self.meeting_link}"
