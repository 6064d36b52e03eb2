from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from calls.clients.fireflies import FirefliesError
from calls.models import Call, MeetingRoutingDecision
from calls.selectors import calls_transcript_missing
from calls.services.ingest import call_fetch_and_match
from calls.services.matching import call_confirm_match, call_create_lead, call_match, call_new_lead_details
from calls.services.notion_sync import call_notion_sync
from clientsflow.display import owner_time_relative
from clientsflow.errors import DomainError
from clientsflow.payloads import https_url
from leads.models import Lead

MATCH_STEP_LABELS = {
    "client_reference": "Lead reference in the booking link",
    "email": "A participant's email",
    "meeting_id": "Meeting link seen before",
    "booking": "A booking at that time",
    "human": "Chosen by a person",
    "unmatched": "Result",
}
MATCH_RESULT_LABELS = {
    "matched": "matched",
    "no_match": "no match",
    "skipped": "not tried",
    "ambiguous": "more than one lead fits",
    "unmatched": "no lead found; waiting for a person",
}


class TranscriptMissingFilter(admin.SimpleListFilter):
    """The calls the backup poll no longer looks for: their transcript needs a person."""

    title = "transcript"
    parameter_name = "transcript"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("missing", "Never arrived (poll gave up)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Call]) -> QuerySet[Call]:
        if self.value() == "missing":
            return queryset.filter(pk__in=calls_transcript_missing().values("pk"))
        return queryset


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    change_form_template = "admin/calls/call/change_form.html"
    list_display = (
        "__str__",
        "started_owner",
        "lead",
        "match_method",
        "confidence",
        "status",
        "notion_status",
    )
    list_filter = ("match_method", "status", TranscriptMissingFilter, "notion_status", "started_at")
    list_select_related = ("lead",)
    search_fields = ("title", "fireflies_id", "organizer_email", "lead__name", "lead__email_normalized")
    date_hierarchy = "started_at"
    readonly_fields = (
        "fireflies_id",
        "status",
        "title",
        "started_owner",
        "timezone",
        "duration_seconds",
        "organizer_email",
        "participants_list",
        "attendees_list",
        "links",
        "meeting_link",
        "calendar_event_ids",
        "client_reference_id",
        "lead",
        "match_method",
        "confidence",
        "matched_at",
        "matched_by",
        "match_steps_list",
        "notion_status",
        "notion_page_id",
        "notion_error",
        "notion_attempts",
        "notion_synced_at",
        "fetch_attempts",
        "fetch_error",
        "fetched_at",
        "summary",
        "transcript_text",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("title", "started_owner", "timezone", "duration_seconds", "status", "links")}),
        (
            "Who was there",
            {
                "fields": (
                    "organizer_email",
                    "participants_list",
                    "attendees_list",
                    "meeting_link",
                    "calendar_event_ids",
                )
            },
        ),
        (
            "Lead",
            {
                "fields": (
                    "lead",
                    "match_method",
                    "confidence",
                    "matched_at",
                    "matched_by",
                    "client_reference_id",
                    "match_steps_list",
                )
            },
        ),
        (
            "Notion",
            {"fields": ("notion_status", "notion_error", "notion_page_id", "notion_attempts", "notion_synced_at")},
        ),
        ("Summary and transcript", {"classes": ("collapse",), "fields": ("summary", "transcript_text")}),
        (
            "Fireflies",
            {"fields": ("fireflies_id", "fetch_attempts", "fetch_error", "fetched_at", "created_at", "updated_at")},
        ),
    )
    actions = ("sync_to_notion", "fetch_again", "rerun_matching")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Call]:
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "calls_call_changelist":
            queryset = queryset.defer("transcript_text", "summary")
        return queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Started (owner's time)", ordering="started_at")
    def started_owner(self, obj: Call) -> str:
        return owner_time_relative(obj.started_at)

    @admin.display(description="Participants")
    def participants_list(self, obj: Call) -> str:
        if not obj.participants:
            return "—"
        return format_html(
            '<ul class="plain-list">{}</ul>', format_html_join("", "<li>{}</li>", ((e,) for e in obj.participants))
        )

    @admin.display(description="On the calendar invite")
    def attendees_list(self, obj: Call) -> str:
        people = [
            (a.get("name") or "(no name)", a.get("email") or "no email") for a in obj.attendees if isinstance(a, dict)
        ]
        if not people:
            return "—"
        return format_html('<ul class="plain-list">{}</ul>', format_html_join("", "<li>{} · {}</li>", people))

    @admin.display(description="Confidence", ordering="match_confidence")
    def confidence(self, obj: Call) -> str:
        return f"{obj.match_confidence:.0%}" if obj.lead_id else "—"

    @admin.display(description="How it was matched")
    def match_steps_list(self, obj: Call) -> str:
        steps = [step for step in obj.match_steps if isinstance(step, dict)]
        if not steps:
            return "—"
        rows = [
            (
                MATCH_STEP_LABELS.get(str(step.get("step")), str(step.get("step", "")).replace("_", " ").capitalize()),
                MATCH_RESULT_LABELS.get(str(step.get("result")), str(step.get("result", ""))),
                f" ({step['detail']})" if step.get("detail") else "",
            )
            for step in steps
        ]
        return format_html('<ol class="plain-list">{}</ol>', format_html_join("", "<li>{}: {}{}</li>", rows))

    @admin.display(description="Links")
    def links(self, obj: Call) -> str:
        parts = [
            (label, url)
            for label, url in (
                ("Recording", https_url(obj.video_url) or https_url(obj.audio_url)),
                ("Transcript", https_url(obj.transcript_url)),
            )
            if url
        ]
        if not parts:
            return "—"
        return format_html(
            " · ".join(['<a href="{}" target="_blank" rel="noopener">{}</a>'] * len(parts)),
            *[v for label, url in parts for v in (url, label)],
        )

    def get_urls(self) -> list:
        urls = super().get_urls()
        mine = [
            path(
                "<int:call_id>/confirm/<int:lead_id>/",
                self.admin_site.admin_view(self.confirm_view),
                name="calls_call_confirm",
            ),
            path(
                "<int:call_id>/new-lead/",
                self.admin_site.admin_view(self.new_lead_view),
                name="calls_call_new_lead",
            ),
        ]
        return mine + urls

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None):
        call = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if call is not None and call.lead_id is None:
            extra_context["suggestions"] = [
                {**s, "confirm_url": reverse("admin:calls_call_confirm", args=[call.pk, s["lead_id"]])}
                for s in call.match_suggestions
            ]
            extra_context["can_confirm"] = self.has_change_permission(request, call)
            extra_context["new_lead_url"] = reverse("admin:calls_call_new_lead", args=[call.pk])
            extra_context["new_lead_person"] = call_new_lead_details(call=call)
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def confirm_view(self, request: HttpRequest, call_id: int, lead_id: int) -> HttpResponse:
        """The one-click confirm: POST only, staff with change permission."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        call = get_object_or_404(Call, pk=call_id)
        if not self.has_change_permission(request, call):
            messages.error(request, "You do not have permission to match calls.")
            return HttpResponseRedirect(reverse("admin:calls_call_change", args=[call.pk]))
        lead = get_object_or_404(Lead, pk=lead_id)
        try:
            call_confirm_match(call=call, lead=lead, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"“{call}” is now on {lead}'s timeline and the lead moved on if it was booked.")
        return HttpResponseRedirect(reverse("admin:calls_call_change", args=[call.pk]))

    def new_lead_view(self, request: HttpRequest, call_id: int) -> HttpResponse:
        """ "Create a new lead from this call": the outside attendee becomes a lead, the call its first event."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        call = get_object_or_404(Call, pk=call_id)
        back = reverse("admin:calls_call_change", args=[call.pk])
        if not (self.has_change_permission(request, call) and request.user.has_perm("leads.add_lead")):
            messages.error(request, "You need permission to add leads and change calls to do this.")
            return HttpResponseRedirect(back)
        try:
            lead = call_create_lead(call=call, actor=request.user)
        except DomainError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(back)
        messages.success(request, f"Created the lead {lead} from this call; the call is on their timeline.")
        return HttpResponseRedirect(back)

    @admin.action(permissions=["change"], description="Write the selected calls to Notion again")
    def sync_to_notion(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        outcomes: dict[str, int] = {}
        for call_id in queryset.values_list("pk", flat=True):
            done = call_notion_sync(call_id=call_id)
            label = done.get_notion_status_display()
            outcomes[label] = outcomes.get(label, 0) + 1
        summary = ", ".join(f"{n} {label.lower()}" for label, n in outcomes.items())
        level = messages.WARNING if "Failed: needs you" in outcomes else messages.SUCCESS
        self.message_user(request, f"Notion: {summary}.", level)

    @admin.action(permissions=["change"], description="Fetch the transcript from Fireflies again")
    def fetch_again(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        done, problems = 0, []
        for call_id, fireflies_id in queryset.values_list("pk", "fireflies_id"):
            try:
                call_fetch_and_match(call_id=call_id)
                done += 1
            except FirefliesError as exc:
                problems.append(f"{fireflies_id}: {exc}")
        if done:
            self.message_user(request, f"Fetched {done} transcript(s).", messages.SUCCESS)
        for problem in problems[:5]:
            self.message_user(request, problem, messages.WARNING)

    @admin.action(permissions=["change"], description="Run the match chain again")
    def rerun_matching(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        matched = 0
        for call in queryset.filter(status=Call.Status.FETCHED):
            if call_match(call=call, actor_label=request.user.get_username()).lead_id:
                matched += 1
        self.message_user(request, f"{matched} call(s) now matched to a lead.", messages.SUCCESS)


@admin.register(MeetingRoutingDecision)
class MeetingRoutingDecisionAdmin(admin.ModelAdmin):
    list_display = ("decided_at", "meeting_link", "title", "rule", "decision", "reason")
    list_filter = ("decision", "rule")
    search_fields = ("meeting_link", "title")
    readonly_fields = [f.name for f in MeetingRoutingDecision._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
