"""Bookings: hosts, event types and their availability, holds, and the overlap-proof `Booking`.

No double booking is a database guarantee, not a view check: on PostgreSQL migration 0002 adds
an exclusion constraint (btree_gist) over `(host, [buffered_start, buffered_end))` for active
bookings, and 0003 the same for holds; on SQLite every write transaction is `BEGIN IMMEDIATE`
(see settings), so the checks and inserts in `bookings.services` run one at a time. The
constraints are kept out of `Meta.constraints` on purpose: SQLite cannot create them and Django
would try to on a table remake.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from clientsflow.models import TimeStampedModel
from leads.models import TimelineKind

NO_OVERLAP_CONSTRAINT = "booking_no_overlap_per_host"
HOLD_NO_OVERLAP_CONSTRAINT = "hold_no_overlap_per_host"


class BookingEventKind(TimelineKind):
    """What bookings puts on a lead's timeline."""

    BOOKING = "booking", "Booking"


class Host(TimeStampedModel):
    """A person whose calendar is booked (the owner)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="booking_host"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(help_text="The organizer on invites; the delegated Google user when Google is on.")
    timezone = models.CharField(max_length=64, help_text="IANA zone the weekly hours are written in.")
    google_calendar_id = models.CharField(verbose_name="Google Calendar ID", max_length=255, default="primary")

    def __str__(self) -> str:
        return self.name


class EventType(TimeStampedModel):
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="event_types")
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    duration_minutes = models.PositiveIntegerField(default=30)
    slot_interval_minutes = models.PositiveIntegerField(default=30, help_text="Offered start times step by this.")
    buffer_before_minutes = models.PositiveIntegerField(default=0)
    buffer_after_minutes = models.PositiveIntegerField(default=0)
    min_notice_minutes = models.PositiveIntegerField(default=240, help_text="No slot starts sooner than this.")
    days_ahead = models.PositiveIntegerField(default=30, help_text="How far ahead slots are offered.")
    location = models.CharField(max_length=255, blank=True, help_text="Used when there is no Meet link.")
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(duration_minutes__gte=5), name="eventtype_duration_min"),
            models.CheckConstraint(condition=Q(slot_interval_minutes__gte=5), name="eventtype_interval_min"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


class WeeklyHours(models.Model):
    """One window of a weekday, in the host's zone (several rows make a split day)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    event_type = models.ForeignKey(EventType, on_delete=models.CASCADE, related_name="weekly_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["weekday", "start_time"]
        verbose_name_plural = "weekly hours"
        constraints = [
            models.CheckConstraint(condition=Q(end_time__gt=models.F("start_time")), name="weeklyhours_order")
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class DateOverride(models.Model):
    """Replaces the weekly hours on one date: windows, or a day off when no times are given."""

    event_type = models.ForeignKey(EventType, on_delete=models.CASCADE, related_name="date_overrides")
    date = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)

    class Meta:
        ordering = ["date", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(start_time__isnull=True) & Q(end_time__isnull=True))
                | (Q(start_time__isnull=False) & Q(end_time__gt=models.F("start_time"))),
                name="dateoverride_day_off_or_window",
            )
        ]

    def __str__(self) -> str:
        if self.start_time is None:
            return f"{self.date}: day off"
        return f"{self.date}: {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class Hold(models.Model):
    """A slot kept for a visitor for a few minutes while they fill in the form.

    Exclusive like a booking: on PostgreSQL migration 0003 adds an exclusion constraint over
    `(host, [buffered_start, buffered_end))` (expired rows included, so `hold_create` deletes the
    host's expired holds before it inserts). A visitor (session) holds one slot at a time and an
    address at most `BOOKING_HOLDS_PER_ADDRESS`, so no one can keep the calendar hidden.
    """

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="holds")
    event_type = models.ForeignKey(EventType, on_delete=models.CASCADE, related_name="holds")
    token = models.CharField(max_length=64, unique=True)
    visitor_key = models.CharField(max_length=64, blank=True, db_index=True, help_text="The visitor's session.")
    address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    buffered_start = models.DateTimeField()
    buffered_end = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["host", "buffered_start"], name="hold_host_start_idx")]

    def __str__(self) -> str:
        return f"Hold {self.start_at:%Y-%m-%d %H:%M}Z until {self.expires_at:%H:%M}Z"


class Booking(TimeStampedModel):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        RESCHEDULED = "rescheduled", "Confirmed (moved by the lead)"
        CANCELLED = "cancelled", "Cancelled"

    class InviteStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent (Google Calendar)"
        FALLBACK_SENT = "fallback_sent", "Sent (ICS email)"
        BLOCKED = "blocked", "Blocked"

    ACTIVE_STATUSES = (Status.CONFIRMED, Status.RESCHEDULED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    host = models.ForeignKey(Host, on_delete=models.PROTECT, related_name="bookings")
    event_type = models.ForeignKey(EventType, on_delete=models.PROTECT, related_name="bookings")
    lead = models.ForeignKey("leads.Lead", on_delete=models.PROTECT, related_name="bookings")
    start_at = models.DateTimeField(verbose_name="starts", db_index=True, help_text="UTC.")
    end_at = models.DateTimeField(verbose_name="ends", help_text="UTC.")
    buffered_start = models.DateTimeField(editable=False, help_text="start_at minus the buffer before.")
    buffered_end = models.DateTimeField(editable=False, help_text="end_at plus the buffer after.")
    timezone = models.CharField(verbose_name="lead's time zone", max_length=64, help_text="The invitee's IANA zone.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONFIRMED, db_index=True)
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254)
    phone = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True)
    sequence = models.PositiveIntegerField(default=0, help_text="iCalendar SEQUENCE: bumped on every change.")
    google_event_id = models.CharField(
        verbose_name="Google Calendar event ID", max_length=255, blank=True, db_index=True
    )
    meet_url = models.URLField(verbose_name="Google Meet link", blank=True, db_index=True)
    invite_status = models.CharField(
        max_length=16, choices=InviteStatus.choices, default=InviteStatus.PENDING, db_index=True
    )
    invite_error = models.TextField(blank=True)
    invite_updated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=255, blank=True)
    cancelled_by = models.CharField(max_length=100, blank=True)
    rescheduled_at = models.DateTimeField(null=True, blank=True)
    reminder_24h_sent_at = models.DateTimeField(verbose_name="24-hour reminder sent", null=True, blank=True)
    reminder_1h_sent_at = models.DateTimeField(verbose_name="1-hour reminder sent", null=True, blank=True)

    class Meta:
        ordering = ["-start_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(end_at__gt=models.F("start_at")), name="booking_end_after_start"),
            models.CheckConstraint(
                condition=Q(buffered_start__lte=models.F("start_at")) & Q(buffered_end__gte=models.F("end_at")),
                name="booking_buffer_contains_meeting",
            ),
        ]
        indexes = [
            models.Index(fields=["host", "status", "buffered_start"], name="booking_host_active_idx"),
            models.Index(fields=["lead", "-start_at"], name="booking_lead_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.start_at:%Y-%m-%d %H:%M}Z ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def ics_uid(self) -> str:
        return f"booking-{self.public_id}@clientsflow"

    @property
    def google_event_key(self) -> str:
        """Our own Google event id (base32hex): a retried insert can never create a second event."""
        return f"cf{self.public_id.hex}"

    @property
    def conference_request_id(self) -> str:
        """Stable per booking, so a retried create never makes a second Meet."""
        return f"cf-booking-{self.public_id}"
