from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from bookings.models import Booking, DateOverride, EventType, Hold, Host, WeeklyHours
from bookings.tasks import booking_invite_deliver_task
from clientsflow.display import owner_time_relative, phone_international


class WeeklyHoursInline(admin.TabularInline):
    model = WeeklyHours
    extra = 0


class DateOverrideInline(admin.TabularInline):
    model = DateOverride
    extra = 0
    verbose_name_plural = "Date overrides (leave the times empty for a day off)"


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "timezone", "google_calendar_id")
    list_select_related = ("user",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(EventType)
class EventTypeAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "host", "duration_minutes", "is_active", "public_link")
    list_select_related = ("host",)
    list_filter = ("is_active",)
    prepopulated_fields = {"slug": ("title",)}
    inlines = [WeeklyHoursInline, DateOverrideInline]
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="Booking page")
    def public_link(self, obj: EventType) -> str:
        url = reverse("bookings:book", args=[obj.slug])
        return format_html('<a href="{}">{}</a>', url, url)


class UpcomingFilter(admin.SimpleListFilter):
    title = "when"
    parameter_name = "upcoming"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Upcoming (active)"), ("not_over", "Not over yet (cancelled too)"), ("past", "Past")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Booking]) -> QuerySet[Booking]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(end_at__gt=now, status__in=Booking.ACTIVE_STATUSES).order_by("start_at")
        if self.value() == "not_over":
            return queryset.filter(end_at__gt=now).order_by("start_at")
        if self.value() == "past":
            return queryset.filter(end_at__lte=now)
        return queryset


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ("starts", "lead", "event_type", "status", "invite_status", "invite_error_short")
    list_select_related = ("lead", "event_type")
    list_filter = (UpcomingFilter, "invite_status", "status", "event_type")
    search_fields = ("name", "email", "google_event_id", "meet_url")
    date_hierarchy = "start_at"
    raw_id_fields = ("lead",)
    actions = ["retry_invite"]
    fields = (
        "public_id",
        "lead",
        "host",
        "event_type",
        "start_at",
        "end_at",
        "timezone",
        "status",
        "name",
        "email",
        "phone_display",
        "note",
        "invite_status",
        "invite_error",
        "invite_updated_at",
        "google_event_id",
        "meet_url",
        "sequence",
        "cancelled_at",
        "cancelled_by",
        "cancel_reason_display",
        "rescheduled_at",
        "reminder_24h_sent_at",
        "reminder_1h_sent_at",
        "cancel_link",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields  # changes go through the services (manage link, cancel, retry)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # bookings are made on the booking page, where the overlap check runs

    @admin.display(description="Starts (your time)", ordering="start_at")
    def starts(self, obj: Booking) -> str:
        return owner_time_relative(obj.start_at)

    @admin.display(description="Phone")
    def phone_display(self, obj: Booking) -> str:
        return phone_international(obj.phone) or "—"

    @admin.display(description="Invite problem")
    def invite_error_short(self, obj: Booking) -> str:
        return obj.invite_error[:80]

    @admin.display(description="Cancel reason")
    def cancel_reason_display(self, obj: Booking) -> str:
        if obj.status != Booking.Status.CANCELLED:
            return "—"
        return obj.cancel_reason or "No reason given"

    @admin.display(description="Cancel")
    def cancel_link(self, obj: Booking) -> str:
        if not obj.is_active:
            return "—"
        url = reverse("bookings:staff-cancel", args=[obj.pk])
        return format_html('<a href="{}">Cancel this booking…</a>', url)

    @admin.action(description="Send the invite again", permissions=["change"])
    def retry_invite(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        count = 0
        for booking in queryset.only("pk", "sequence"):
            booking_invite_deliver_task.delay_on_commit(booking.pk, booking.sequence)
            count += 1
        self.message_user(request, f"Queued the invite again for {count} booking(s).", messages.SUCCESS)


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    list_display = ("start_at", "event_type", "expires_at")
    list_select_related = ("event_type",)
    readonly_fields = (
        "host",
        "event_type",
        "token",
        "start_at",
        "end_at",
        "buffered_start",
        "buffered_end",
        "expires_at",
    )
