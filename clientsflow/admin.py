from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from clientsflow.models import AuditEvent, IntegrationStatus, JobRun, WebhookEvent
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


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "verb", "object_type", "object_id", "object_repr")
    list_filter = ("verb", "object_type", "created_at")
    search_fields = ("object_id", "object_repr", "actor_label")
    list_select_related = ("actor_user",)
    date_hierarchy = "created_at"

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
