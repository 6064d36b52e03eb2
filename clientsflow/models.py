"""Cross-cutting records: the webhook inbox, the audit log and dispatcher job runs."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class WebhookEvent(models.Model):
    """One delivery from a provider, stored before anything is done with it.

    `(provider, event_id)` is unique: a replayed delivery finds its twin and changes nothing.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    provider = models.CharField(max_length=64)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(default=1, help_text="How many times it arrived.")
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhookevent_unique_provider_event"),
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="webhookevent_status_idx")]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id}"


class AuditEvent(models.Model):
    """Append-only record of who did what. Rows are never changed or deleted."""

    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(verbose_name="who", max_length=100, help_text="A user's name or a system job.")
    verb = models.CharField(verbose_name="what happened (code)", max_length=64, db_index=True)
    object_type = models.CharField(verbose_name="object type (code)", max_length=64, blank=True)
    # No index of its own: an object's rows are found by type and id (`audit_object_idx`); the
    # admin's search is a substring match no index serves. Intake writes a row per delivery.
    object_id = models.CharField(verbose_name="object ID", max_length=64, blank=True)
    object_repr = models.CharField(verbose_name="object", max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.verb} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        # The append-only guarantee is an invariant of the row itself, not of one caller.
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("Audit events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only and cannot be deleted.")


class JobRun(models.Model):
    """One run of one dispatcher job for one schedule slot.

    `(job, slot)` is unique, which is the dispatcher's lock: whichever tick inserts the row owns
    the slot; a second Beat or a slow tick finds it taken and does nothing.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    job = models.CharField(max_length=100)
    slot = models.DateTimeField(help_text="The scheduled time (UTC) this run is for.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="jobrun_unique_job_slot")]
        ordering = ["-slot", "job"]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot:%Y-%m-%d %H:%M}Z"


class IntegrationStatus(models.Model):
    """How one vendor integration is doing, kept by `clientsflow.integrations` (one row per vendor).

    Vendors report each call's outcome; a run of failures long enough becomes one owner alert
    (`alerted_at`), posted to Slack at most once per outage, and cleared by the next success.
    """

    vendor = models.CharField(max_length=40, unique=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True, help_text="First failure of the current outage.")
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When this outage became an owner alert.")
    slack_posted_at = models.DateTimeField(null=True, blank=True, help_text="When the alert was posted to Slack.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vendor"]
        verbose_name_plural = "integration statuses"

    def __str__(self) -> str:
        state = "failing" if self.failing_since else "ok"
        return f"{self.vendor}: {state}"


def default_stage_probabilities() -> dict[str, int]:
    """Per-stage chance (percent) that an open deal is won: the weighted forecast's weights."""
    return {
        "new": 5,
        "contacted": 10,
        "replied": 20,
        "booked": 30,
        "call_done": 40,
        "proposal_sent": 60,
        "signed": 90,
        "paid": 100,
        "nurture": 5,
        "lost": 0,
    }


def default_notification_switches() -> dict[str, bool]:
    """Which owner notifications are on, by kind (`clientsflow.notify` documents the kinds)."""
    return {
        "booking_created": True,
        "booking_rescheduled": True,
        "booking_cancelled": True,
        "reply_positive": True,
        "reply_needs_review": True,
        "proposal_viewed": True,
        "proposal_signed": True,
        "payment_received": True,
        "payment_failed": True,
        "digest": True,
    }


class SiteSettings(models.Model):
    """The one row of settings the owner edits in the admin (environment variables give the defaults).

    Read it through `clientsflow.site.site_settings()`, which caches it for every process; the row
    is created from the environment on first read, so a fresh install needs no setup.
    """

    class NotifyVia(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack"
        BOTH = "both", "Email and Slack"
        NONE = "none", "Off"

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    agency_name = models.CharField(max_length=120, help_text="Shown to leads on every page and email.")
    owner_name = models.CharField(max_length=120, help_text="Your name, as leads see it.")
    sender_name = models.CharField(max_length=120, blank=True, help_text="The From name on emails to leads.")
    signature = models.TextField(blank=True, help_text="Closes every email to a lead (plain text).")
    booking_headline = models.CharField(max_length=200, blank=True, help_text="The booking page's title.")
    host_name = models.CharField(max_length=120, blank=True, help_text="Who leads meet on a call.")
    host_photo = models.FileField(upload_to="branding/", blank=True, help_text="A square photo, PNG or JPEG.")
    logo = models.FileField(upload_to="branding/", blank=True, help_text="PNG, JPEG or SVG.")
    brand_colour = models.CharField(max_length=7, default="#2458d3", help_text="A hex colour such as #2458d3.")
    public_base_url = models.URLField(
        blank=True, help_text="The address leads reach this app at. Empty: PUBLIC_BASE_URL, or the address it serves."
    )
    working_hours_start = models.TimeField(default=datetime.time(9, 0))
    working_hours_end = models.TimeField(default=datetime.time(17, 0))
    # Empty: OUTBOUND_SEND_HOURS (default 9-17). The days stay OUTBOUND_SEND_DAYS.
    send_window_start = models.TimeField(
        null=True,
        blank=True,
        help_text="Automatic sends to leads start at this time (your time zone). Empty: OUTBOUND_SEND_HOURS.",
    )
    send_window_end = models.TimeField(
        null=True, blank=True, help_text="…and stop at this time; 00:00 means midnight. Empty: OUTBOUND_SEND_HOURS."
    )
    notify_via = models.CharField(max_length=8, choices=NotifyVia.choices, default=NotifyVia.EMAIL)
    notifications = models.JSONField(default=default_notification_switches, blank=True)
    stage_probabilities = models.JSONField(default=default_stage_probabilities, blank=True)
    default_currency = models.CharField(max_length=3, default="USD", help_text="ISO code such as USD or EUR.")
    going_cold_days = models.PositiveSmallIntegerField(
        default=7, help_text="Flag an active lead with no open task and no activity for this many days."
    )
    digest_time = models.TimeField(
        default=datetime.time(8, 0), help_text="When the daily digest is sent (your time zone)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="sitesettings_single_row")]
        verbose_name = "settings"
        verbose_name_plural = "settings"

    def __str__(self) -> str:
        return "Settings"

    def clean(self) -> None:
        super().clean()
        start, end = self.send_window_start, self.send_window_end
        if (start is None) != (end is None):
            raise ValidationError(
                {"send_window_end": "Give both the start and the end of the send window, or leave both empty."}
            )
        if start is not None and end is not None and end != datetime.time(0, 0) and end <= start:
            raise ValidationError({"send_window_end": "The send window must end after it starts (00:00 = midnight)."})

    def stage_probability(self, stage: str) -> int:
        merged = {**default_stage_probabilities(), **(self.stage_probabilities or {})}
        return max(0, min(100, int(merged.get(stage, 0))))

    def notification_on(self, kind: str) -> bool:
        merged = {**default_notification_switches(), **(self.notifications or {})}
        return bool(merged.get(kind, False)) and self.notify_via != self.NotifyVia.NONE


class Notification(models.Model):
    """One message to the owner about one event, kept whatever became of it.

    `key` names the event (`booking_created:42:1`, `digest:2026-03-08`) and is unique: the first
    insert owns the event, so processing it again (a replayed webhook, a retried task, a second
    dispatcher) never notifies twice. `status` says honestly what happened; a failure keeps
    its reason in `error` and is never shown as sent. A delivery whose worker died mid-way
    (`sending` past the grace period) becomes `unknown`: never resent by the system, shown to the
    owner until they send it again or dismiss it (`dismissed_at`).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        BLOCKED = "blocked", "Blocked"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Outcome unknown"

    kind = models.CharField(max_length=40, db_index=True)
    key = models.CharField(max_length=200, unique=True)
    subject = models.CharField(max_length=255)
    text = models.TextField()
    html = models.TextField(blank=True, help_text="An HTML part for the email (the digest has one).")
    link = models.CharField(max_length=500, blank=True)
    via = models.CharField(max_length=8, help_text="Where it was to go: email, slack or both.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    outcome = models.JSONField(default=dict, blank=True, help_text="What each channel did.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When its delivery started.")
    dismissed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the owner dismissed a notification that did not (surely) arrive."
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}"
