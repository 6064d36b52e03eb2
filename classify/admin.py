from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from classify.models import Classification, ClassificationChange, Label, PromotionDecision, PromptVersion
from classify.selectors import POSITIVE
from classify.services.classification import classification_review
from classify.text import strip_reply
from clientsflow.errors import DomainError
from clientsflow.http import safe_next
from leads.models import Lead, Stage


def review_outcome(result: Classification, *, previous: str, lead: Lead | None, stage_before: str) -> str:
    """What a review did, in one sentence: "Confirmed as positive (wants to talk); the lead stays in Replied."."""
    label = Label(result.effective_label).label.lower()
    said = f"Confirmed as {label}" if result.effective_label == previous else f"Corrected to {label}"
    if lead is None:
        after = "the reply is not matched to a lead, so no lead moved"
    elif lead.stage != stage_before:
        after = f"{lead} moved to {Stage(lead.stage).label}"
    else:
        after = f"{lead} stays in {Stage(lead.stage).label}"
    extra = ""
    if result.suppressed_at is not None:
        extra = "; their address gets no more email"
    if result.policy_note and result.policy_action == Classification.PolicyAction.LOST_SKIPPED:
        extra += f" ({result.policy_note})"
    return f"{said}; {after}{extra}."


class ClassificationChangeInline(admin.StackedInline):  # stacked: the tabular one has an empty header cell (axe)
    model = ClassificationChange
    extra = 0
    can_delete = False
    fields = ("at", "cause", "from_label", "to_label", "from_version", "to_version", "actor_label")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PositiveWaitingFilter(admin.SimpleListFilter):
    title = "positive, waiting for an answer"
    parameter_name = "positive_waiting"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", "Positive replies, lead still in Replied")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "1":
            return queryset.filter(POSITIVE, needs_review=False, reply__lead__stage=Stage.REPLIED)
        return queryset


@admin.register(Classification)
class ClassificationAdmin(admin.ModelAdmin):
    """The borderline review queue: filter on "needs review", then confirm or correct in one click."""

    list_display = (
        "reply_from",
        "lead_link",
        "reply_excerpt",
        "label",
        "confidence_pct",
        "review_reason",
        "review_buttons",
        "final_label",
    )
    list_filter = ("needs_review", PositiveWaitingFilter, "label", "final_label", "backend", "policy_action")
    list_select_related = ("reply", "reply__lead", "prompt_version", "reviewed_by")
    search_fields = ("reply__from_email_normalized", "reply__subject", "reply__lead__name")
    ordering = ("-needs_review", "-created_at")
    readonly_fields = (
        "reply",
        "reply_own_text",
        "reply_body",
        "label",
        "confidence_pct",
        "backend",
        "prompt_version",
        "model_version",
        "rationale",
        "local_label",
        "local_confidence_pct",
        "unsubscribe_intent",
        "needs_review",
        "review_reason",
        "final_label",
        "reviewed_by",
        "reviewed_at",
        "policy_action",
        "policy_note",
        "suppressed_at",
        "created_at",
        "updated_at",
        "review_buttons",
    )
    fieldsets = (
        ("The reply", {"fields": ("reply", "reply_own_text")}),
        (
            "Label",
            {
                "fields": (
                    "label",
                    "confidence_pct",
                    "review_reason",
                    "review_buttons",
                    "final_label",
                    "reviewed_by",
                    "reviewed_at",
                )
            },
        ),
        ("What happened next", {"fields": ("policy_action", "policy_note", "unsubscribe_intent", "suppressed_at")}),
        ("Full reply, with quotes and signature", {"classes": ("collapse",), "fields": ("reply_body",)}),
        (
            "Details",
            {
                "classes": ("collapse",),
                "fields": (
                    "backend",
                    "prompt_version",
                    "model_version",
                    "rationale",
                    "local_label",
                    "local_confidence_pct",
                    "needs_review",
                    "created_at",
                    "updated_at",
                ),
            },
        ),
    )
    inlines = [ClassificationChangeInline]
    actions = ["confirm_selected", "correct_to_positive", "correct_to_negative", "correct_to_neutral"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="From", ordering="reply__from_email_normalized")
    def reply_from(self, obj: Classification) -> str:
        return obj.reply.from_email

    @admin.display(description="Lead")
    def lead_link(self, obj: Classification) -> str:
        lead = obj.reply.lead
        if lead is None:
            return "unmatched"
        return format_html('<a href="{}">{}</a>', reverse("admin:leads_lead_change", args=[lead.pk]), lead)

    @admin.display(description="Reply")
    def reply_excerpt(self, obj: Classification) -> str:
        # One line, cut by CSS at the column's width; the whole text is the tooltip and the form.
        text = " ".join(strip_reply(obj.reply.body or obj.reply.subject).split())
        return format_html('<span class="reply-excerpt" title="{}">{}</span>', text[:500], text[:200])

    @admin.display(description="Confidence", ordering="confidence")
    def confidence_pct(self, obj: Classification) -> str:
        return f"{obj.confidence:.0%}"

    @admin.display(description="Local model's confidence")
    def local_confidence_pct(self, obj: Classification) -> str:
        return f"{obj.local_confidence:.0%}" if obj.local_confidence is not None else "—"

    @admin.display(description="Their words (quotes and signature removed)")
    def reply_own_text(self, obj: Classification) -> str:
        return format_html('<div class="reply-text">{}</div>', strip_reply(obj.reply.body or obj.reply.subject))

    @admin.display(description="Full reply")
    def reply_body(self, obj: Classification) -> str:
        return format_html('<div class="reply-text">{}</div>', obj.reply.body)

    @admin.display(description="Review")
    def review_buttons(self, obj: Classification) -> str:
        # Buttons submit the changelist's own POST form (it carries the CSRF token) to the review URL.
        if not obj.needs_review:
            return "reviewed" if obj.final_label else "—"
        buttons = [(reverse("admin:classify_classification_review", args=[obj.pk, obj.label]), f"Confirm {obj.label}")]
        buttons += [
            (reverse("admin:classify_classification_review", args=[obj.pk, label]), f"Correct to {label}")
            for label in Label.values
            if label != obj.label
        ]
        return format_html_join(
            " ",
            '<button type="submit" class="button" formaction="{}" formmethod="post">{}</button>',
            buttons,
        )

    def get_urls(self) -> list:
        urls = super().get_urls()
        custom = [
            path(
                "<int:object_id>/review/<str:label>/",
                self.admin_site.admin_view(self.review_view),
                name="classify_classification_review",
            )
        ]
        return custom + urls

    def review_view(self, request: HttpRequest, object_id: int, label: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        classification = get_object_or_404(Classification, pk=object_id)
        if not self.has_change_permission(request, classification):
            raise PermissionDenied
        self._review(request, [classification], label=label)
        back = safe_next(
            request,
            request.META.get("HTTP_REFERER", ""),
            default=reverse("admin:classify_classification_changelist"),
        )
        return HttpResponseRedirect(back)

    def _review(self, request: HttpRequest, rows: list[Classification], *, label: str | None) -> None:
        for row in rows:
            target = label or row.effective_label
            previous = row.effective_label
            lead = row.reply.lead
            stage_before = lead.stage if lead is not None else ""
            try:
                result = classification_review(classification_id=row.pk, label=target, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{row.reply.from_email}: {exc}", messages.ERROR)
                continue
            if lead is not None:
                lead.refresh_from_db(fields=["stage"])
            self.message_user(
                request,
                review_outcome(result, previous=previous, lead=lead, stage_before=stage_before),
                messages.SUCCESS,
            )

    @admin.action(permissions=["change"], description="Confirm the selected labels")
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, list(queryset.select_related("reply")), label=None)

    @admin.action(permissions=["change"], description="Correct the selected to positive")
    def correct_to_positive(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, list(queryset.select_related("reply")), label=Label.POSITIVE)

    @admin.action(permissions=["change"], description="Correct the selected to negative")
    def correct_to_negative(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, list(queryset.select_related("reply")), label=Label.NEGATIVE)

    @admin.action(permissions=["change"], description="Correct the selected to neutral")
    def correct_to_neutral(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, list(queryset.select_related("reply")), label=Label.NEUTRAL)


@admin.register(PromptVersion)
class PromptVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "model", "eval_accuracy", "eval_fn_rate", "eval_examples", "evaluated_at")
    list_filter = ("status",)
    readonly_fields = (
        "status",
        "eval_accuracy",
        "eval_fn_rate",
        "eval_examples",
        "eval_dataset_sha256",
        "evaluated_at",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A prompt that has been evaluated is frozen: edit a copy, so figures always match the text.
        if obj is not None and obj.evaluated_at is not None:
            return (*self.readonly_fields, "name", "system_prompt", "model")
        return self.readonly_fields


@admin.register(PromotionDecision)
class PromotionDecisionAdmin(admin.ModelAdmin):
    list_display = (
        "decided_at",
        "kind",
        "candidate",
        "champion",
        "promoted",
        "candidate_accuracy",
        "champion_accuracy",
        "candidate_fn_rate",
        "champion_fn_rate",
        "reason",
    )
    list_filter = ("kind", "promoted")
    list_select_related = ("prompt_version",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
