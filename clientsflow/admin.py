from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from clientsflow.audit import audit_record
from clientsflow.display import audit_verb_label, object_type_label, owner_time_relative
from clientsflow.models import AuditEvent, IntegrationStatus, JobRun, Notification, SiteSettings, WebhookEvent
from clientsflow.notify import PROBLEM_STATUSES, notification_dismiss, notification_send_again
from clientsflow.site import site_settings, site_settings_forget
from clientsflow.webhooks import webhook_event_replay


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "provider", "event_id", "event_type", "status", "attempts", "deliveries")
    list_filter = ("status", "provider", "received_at")
    search_fields = ("event_id",)
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]
    date_hierarchy = "received_at"
    actions = ["replay"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        qs = super().get_queryset(request)
        # Bodies can be large: the change list never loads them.
        return (
            qs.defer("body")
            if request.resolver_match and (request.resolver_match.url_name or "").endswith("changelist")
            else qs
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Replay: process the selected events again", permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        queued = skipped = 0
        for event in queryset:
            if event.status == WebhookEvent.Status.PROCESSED:
                skipped += 1
                continue
            webhook_event_replay(event=event)
            queued += 1
        self.message_user(request, f"Queued {queued} event(s) for processing.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Skipped {skipped} already processed event(s): processing twice would double their effect.",
                messages.WARNING,
            )


class AuditVerbFilter(admin.SimpleListFilter):
    """Filter on the raw verb (`?verb=outbound.blocked` still works), listed in plain words."""

    title = "what happened"
    parameter_name = "verb"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        verbs = AuditEvent.objects.order_by().values_list("verb", flat=True).distinct()
        return sorted(((verb, audit_verb_label(verb)) for verb in verbs), key=lambda pair: pair[1])

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        return queryset.filter(verb=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("when", "actor_label", "what", "object_label", "object_repr")
    list_filter = (AuditVerbFilter, "object_type", "created_at")
    search_fields = ("object_id", "object_repr", "actor_label", "verb")
    list_select_related = ("actor_user",)
    date_hierarchy = "created_at"
    fields = ("when", "actor_label", "what", "verb", "object_label", "object_id", "object_repr", "details")
    readonly_fields = fields

    @admin.display(description="When", ordering="created_at")
    def when(self, obj: AuditEvent) -> str:
        return owner_time_relative(obj.created_at)

    @admin.display(description="What happened", ordering="verb")
    def what(self, obj: AuditEvent) -> str:
        return audit_verb_label(obj.verb)

    @admin.display(description="On", ordering="object_type")
    def object_label(self, obj: AuditEvent) -> str:
        return object_type_label(obj.object_type)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("slot", "job", "status", "started_at", "finished_at")
    list_filter = ("status", "job")
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(IntegrationStatus)
class IntegrationStatusAdmin(admin.ModelAdmin):
    list_display = ("vendor", "failing_since", "consecutive_failures", "alerted_at", "last_error_at", "last_ok_at")
    list_filter = ("vendor",)
    readonly_fields = [f.name for f in IntegrationStatus._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin):
    """One row: the list goes straight to its form; it can be neither added twice nor deleted."""

    # A bare host typed as the public address means https (Django 6's default, stated here).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        ("Your agency", {"fields": ["agency_name", "owner_name", "logo", "brand_colour", "public_base_url"]}),
        ("Emails to leads", {"fields": ["sender_name", "signature"]}),
        ("Booking page", {"fields": ["booking_headline", "host_name", "host_photo"]}),
        (
            "Your hours",
            {"fields": ["working_hours_start", "working_hours_end", "send_window_start", "send_window_end"]},
        ),
        ("Notifications", {"fields": ["notify_via", "notifications", "digest_time"]}),
        ("Pipeline", {"fields": ["default_currency", "stage_probabilities", "going_cold_days"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SiteSettings | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        row = site_settings()
        return HttpResponseRedirect(reverse("admin:clientsflow_sitesettings_change", args=[row.pk]))

    def save_model(self, request: HttpRequest, obj: SiteSettings, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        site_settings_forget()
        # Which settings changed and who changed them (names only: a signature is the owner's text).
        audit_record(
            verb="settings.changed", obj=obj, actor=request.user, details={"fields": sorted(form.changed_data)}
        )


class NotificationAttentionFilter(admin.SimpleListFilter):
    """`?attention=1`: what "Needs you" counts (failed, blocked or unknown, not dismissed)."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", "Did not (surely) reach you")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
        if self.value() == "1":
            return queryset.filter(status__in=PROBLEM_STATUSES, dismissed_at__isnull=True)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """What the owner was told, and whether it arrived: read-only, but for two deliberate actions
    on one that did not (surely) arrive: send it again, or dismiss it."""

    list_display = ("created_at", "kind", "subject", "via", "status", "error", "sent_at", "dismissed_at")
    list_filter = (NotificationAttentionFilter, "status", "kind", "via")
    search_fields = ("subject", "key")
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["send_again", "dismiss"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("clientsflow.change_notification"))

    @admin.action(
        description="Send again: deliver the selected failed, blocked or unknown notifications (may arrive twice)",
        permissions=["resolve"],
    )
    def send_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        queued = sum(notification_send_again(notification=row, actor=request.user) for row in queryset)
        skipped = queryset.count() - queued
        self.message_user(request, f"Sending {queued} notification(s) again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped}: already sent or on their way (never sent twice).", messages.WARNING
            )

    @admin.action(description="Dismiss: stop listing the selected ones in Needs you", permissions=["resolve"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        dismissed = sum(notification_dismiss(notification=row, actor=request.user) for row in queryset)
        self.message_user(request, f"Dismissed {dismissed} notification(s).", messages.SUCCESS)
