"""Admin for outreach: sequences, enrollments, the review queue (the human gate), replies.

Every action calls a service; the approve, reject and send actions need the
`outreach.approve_outboundmessage` permission and are hidden without it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from clientsflow.display import first_line, relative_time
from clientsflow.errors import DomainError
from leads.models import Lead
from outreach.models import Enrollment, InboundReply, OutboundMessage, Sequence, SequenceStep, Suppression
from outreach.selectors import outbound_review_context
from outreach.services.replies import reply_apply, reply_match_by_hand
from outreach.services.review import (
    APPROVE_PERMISSION,
    outbound_approve,
    outbound_edit,
    outbound_reject,
    outbound_resolve_unknown,
    outbound_retry_failed,
)
from outreach.services.sending import outbound_send
from outreach.services.sequences import (
    enrollment_create,
    enrollment_pause,
    enrollment_preview,
    enrollment_resume,
    enrollment_stop,
    enrollments_create_bulk,
)

Status = OutboundMessage.Status


class SequenceStepInline(admin.StackedInline):
    model = SequenceStep
    extra = 0
    fields = ("position", "delay_hours", "intent", "subject_template", "body_template")


@admin.register(Sequence)
class SequenceAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    inlines = [SequenceStepInline]
    readonly_fields = ("created_at", "updated_at")


class EnrollmentAddForm(forms.ModelForm):
    class Meta:
        model = Enrollment
        fields = ("lead", "sequence")


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = (
        "lead",
        "sequence",
        "status",
        "next_step",
        "next_due_at",
        "stop_reason",
        "enrolled_by",
        "created_at",
    )
    list_filter = ("status", "sequence")
    list_select_related = ("lead", "sequence")
    search_fields = ("lead__name", "lead__email_normalized")
    raw_id_fields = ("lead",)
    actions = ["stop", "pause", "resume"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = EnrollmentAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return [f.name for f in Enrollment._meta.fields]

    def save_model(self, request: HttpRequest, obj: Enrollment, form: Any, change: bool) -> None:
        if change:
            return
        try:
            created = enrollment_create(lead=obj.lead, sequence=obj.sequence, actor=request.user)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            raise _Refused from exc
        obj.pk = created.pk

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except _Refused:
            return HttpResponseRedirect(request.path)

    def get_urls(self) -> list[Any]:
        enroll = path("enroll/", self.admin_site.admin_view(self.enroll_leads_view), name="outreach_enrollment_enroll")
        return [enroll, *super().get_urls()]

    def enroll_leads_view(self, request: HttpRequest) -> HttpResponse:
        """Enroll many leads at once: the lead list's "Enroll in a sequence…" action lands here.

        A confirmation page first (which leads would be skipped, and why); enrolling on "Yes".
        """
        lead_list = reverse("admin:leads_lead_changelist")
        if not self.has_add_permission(request):
            self.message_user(request, "You need the 'add enrollment' permission to enroll leads.", messages.ERROR)
            return HttpResponseRedirect(lead_list)
        sequences = list(Sequence.objects.filter(is_active=True).order_by("name"))
        if not sequences:
            self.message_user(request, "There is no active sequence yet: create one under Sequences.", messages.WARNING)
            return HttpResponseRedirect(lead_list)
        if request.method == "POST":
            ids = request.POST.getlist(ACTION_CHECKBOX_NAME)
        else:
            ids = request.GET.get("ids", "").split(",")
        leads = list(Lead.objects.filter(pk__in=[i for i in ids if i.isdigit()]).order_by("-created_at", "-id")[:500])
        if not leads:
            self.message_user(request, "Select the leads to enroll on the lead list first.", messages.WARNING)
            return HttpResponseRedirect(lead_list)
        chosen = next((s for s in sequences if str(s.pk) == request.POST.get("sequence")), sequences[0])
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            result = enrollments_create_bulk(leads=leads, sequence=chosen, actor=request.user)
            self.message_user(request, f"Enrolled {len(result.enrolled)} lead(s) in {chosen}.", messages.SUCCESS)
            for lead, reason in result.skipped[:20]:
                self.message_user(request, f"Skipped {lead}: {reason}", messages.WARNING)
            return HttpResponseRedirect(lead_list)
        context = {
            **self.admin_site.each_context(request),
            "title": "Enroll leads in a sequence",
            "opts": self.model._meta,
            "sequences": sequences,
            "chosen": chosen,
            "preview": enrollment_preview(leads=leads, sequence=chosen),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "back_url": lead_list,
        }
        return TemplateResponse(request, "admin/outreach/enroll_confirm.html", context)

    @admin.action(description="Stop the selected enrollments", permissions=["change"])
    def stop(self, request: HttpRequest, queryset: QuerySet[Enrollment]) -> None:
        for enrollment in queryset:
            enrollment_stop(enrollment=enrollment, reason="stopped by hand", actor=request.user)
        self.message_user(request, f"Stopped {queryset.count()} enrollment(s).")

    @admin.action(description="Pause the selected enrollments", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Enrollment]) -> None:
        for enrollment in queryset:
            enrollment_pause(enrollment=enrollment, actor=request.user)
        self.message_user(request, "Paused. Resume them to carry on from the same step.")

    @admin.action(description="Resume the selected enrollments", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Enrollment]) -> None:
        for enrollment in queryset:
            try:
                enrollment_resume(enrollment=enrollment, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{enrollment.lead}: {exc}", messages.WARNING)


class _Refused(Exception):
    pass


class OutboundMessageForm(forms.ModelForm):
    class Meta:
        model = OutboundMessage
        fields = ("subject", "body")
        widgets = {"body": forms.Textarea(attrs={"rows": 14, "cols": 90})}


DETAIL_FIELDS = (
    "message_id",
    "in_reply_to",
    "references",
    "claimed_at",
    "send_attempts",
    "approved_hash",
    "provider_message_id",
    "enrollment",
    "origin",
    "created_at",
)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    """The review queue: pending drafts with the lead's context; approve exactly what you read."""

    form = OutboundMessageForm
    change_form_template = "admin/outreach/outboundmessage/change_form.html"
    list_display = ("lead", "stage", "sequence_step", "subject_and_first_line", "status", "age")
    list_display_links = ("subject_and_first_line",)
    list_filter = ("status", "kind", "origin")
    list_select_related = ("lead", "approved_by", "step", "enrollment__sequence")
    search_fields = ("subject", "to_email", "lead__name")
    ordering = ("created_at", "id")  # the queue is worked oldest first
    readonly_fields = (
        "lead",
        "kind",
        "to_email",
        "status",
        "approved_by",
        "approved_at",
        "rejected_reason",
        "block_reason",
        "sent_at",
        "last_error",
        "sequence_step",
        *DETAIL_FIELDS,
    )
    fieldsets = (
        (None, {"fields": ("subject", "body")}),
        (
            "Status",
            {
                "fields": (
                    "lead",
                    "to_email",
                    "sequence_step",
                    "status",
                    "approved_by",
                    "approved_at",
                    "rejected_reason",
                    "block_reason",
                    "sent_at",
                    "last_error",
                )
            },
        ),
        ("Details", {"classes": ("collapse",), "fields": ("kind", *DETAIL_FIELDS)}),
    )
    actions = [
        "approve_selected",
        "reject_selected",
        "send_now",
        "retry_failed",
        "unknown_was_delivered",
        "unknown_not_delivered",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drafts come from sequences and proposals

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of what was (or was not) sent stays; reject instead

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE_PERMISSION)

    def get_readonly_fields(self, request: HttpRequest, obj: OutboundMessage | None = None) -> Any:
        if obj is not None and obj.status not in (Status.DRAFT, Status.APPROVED, Status.FAILED):
            return ("subject", "body", *self.readonly_fields)
        return self.readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutboundMessage]:
        return super().get_queryset(request).select_related("lead", "approved_by", "step", "enrollment__sequence")

    # --- the list ------------------------------------------------------------------------------

    @admin.display(description="Stage", ordering="lead__stage")
    def stage(self, obj: OutboundMessage) -> str:
        return obj.lead.get_stage_display()

    @admin.display(description="Sequence step")
    def sequence_step(self, obj: OutboundMessage) -> str:
        if obj.step_id and obj.step is not None:
            return f"{obj.step.sequence} · step {obj.step.position}"
        if obj.enrollment_id and obj.enrollment is not None:
            return f"{obj.enrollment.sequence}"
        return obj.get_kind_display()

    @admin.display(description="Email", ordering="subject")
    def subject_and_first_line(self, obj: OutboundMessage) -> str:
        return format_html('<strong>{}</strong><span class="first-line">{}</span>', obj.subject, first_line(obj.body))

    @admin.display(description="Age", ordering="created_at")
    def age(self, obj: OutboundMessage) -> str:
        return relative_time(obj.created_at)

    # --- the review form -----------------------------------------------------------------------

    def next_draft(self, after: OutboundMessage) -> OutboundMessage | None:
        """The next draft awaiting review, oldest first, after this one (then from the start)."""
        drafts = OutboundMessage.objects.filter(status=Status.DRAFT).exclude(pk=after.pk).order_by("created_at", "id")
        later = drafts.filter(created_at__gte=after.created_at).exclude(created_at=after.created_at, id__lt=after.pk)
        return later.first() or drafts.first()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if obj is not None:
            extra.update(outbound_review_context(obj))
            extra["conversation"] = [
                {**item, "at": datetime.fromisoformat(item["at"])} for item in reversed(extra["review_thread"])
            ]
            extra["can_approve"] = self.has_approve_permission(request)
            following = self.next_draft(obj)
            extra["next_draft_url"] = (
                reverse("admin:outreach_outboundmessage_change", args=[following.pk]) if following else ""
            )
        return super().change_view(request, object_id, form_url, extra)

    def save_model(self, request: HttpRequest, obj: OutboundMessage, form: Any, change: bool) -> None:
        if not {"subject", "body"} & set(form.changed_data):
            return
        was_approved = OutboundMessage.objects.filter(pk=obj.pk, status=Status.APPROVED).exists()
        saved = outbound_edit(
            message=obj, subject=form.cleaned_data["subject"], body=form.cleaned_data["body"], actor=request.user
        )
        # "Save and approve" approves what this person just wrote, not a hash from before the edit.
        request._outbound_saved_hash = saved.content_hash()  # type: ignore[attr-defined]  # handed on to response_change
        request._outbound_approval_voided = was_approved  # type: ignore[attr-defined]  # for the message below
        obj.refresh_from_db()

    def response_change(self, request: HttpRequest, obj: OutboundMessage) -> HttpResponse:
        try:
            if "_approve" in request.POST or "_approve_next" in request.POST:
                expected = getattr(request, "_outbound_saved_hash", None) or request.POST.get("content_hash", "")
                outbound_approve(message=obj, actor=request.user, expected_hash=expected)
                if "_approve_next" in request.POST:
                    following = self.next_draft(obj)
                    if following is None:
                        self.message_user(request, "Approved. No more drafts are waiting for review.")
                        return HttpResponseRedirect(reverse("admin:outreach_outboundmessage_changelist"))
                    self.message_user(request, f"Approved the email to {obj.lead}. Here is the next draft.")
                    return HttpResponseRedirect(reverse("admin:outreach_outboundmessage_change", args=[following.pk]))
                self.message_user(
                    request, "Approved. It is sent by 'Send now' or, with autosend on, in the send window."
                )
                return HttpResponseRedirect(request.path)
            if "_reject" in request.POST:
                outbound_reject(message=obj, actor=request.user, reason=request.POST.get("reject_reason", ""))
                self.message_user(request, "Rejected; the sequence moves on to its next step.")
                return HttpResponseRedirect(request.path)
            if "_send_now" in request.POST:
                result = outbound_send(message_id=obj.pk, trigger="human", actor=request.user)
                self._report_send(request, [result])
                return HttpResponseRedirect(request.path)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.path)
        if getattr(request, "_outbound_approval_voided", False):
            self.message_user(request, "Your edit cancelled the approval — approve again to send.", messages.WARNING)
            return HttpResponseRedirect(request.path)
        if getattr(request, "_outbound_saved_hash", None) and "_continue" not in request.POST:
            self.message_user(request, "Saved. The draft still needs approval before it can be sent.")
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def _report_send(self, request: HttpRequest, results: list[Any]) -> None:
        sent = [r for r in results if r.sent]
        if sent:
            self.message_user(request, f"Sent {len(sent)} email(s).", messages.SUCCESS)
        for result in results:
            if not result.sent:
                self.message_user(
                    request, f"Message #{result.message_id} not sent: {result.explain()}", messages.WARNING
                )

    # --- actions -------------------------------------------------------------------------------

    def _confirm(self, request: HttpRequest, queryset: QuerySet[OutboundMessage], action: str, title: str, **ctx: Any):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "action": action,
            "objects": list(queryset.select_related("lead")[:200]),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            **ctx,
        }
        return TemplateResponse(request, "admin/outreach/outbound_confirm.html", context)

    @admin.action(description="Approve the selected drafts…", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> HttpResponse | None:
        drafts = queryset.filter(status=Status.DRAFT)
        if request.POST.get("confirm") != "yes":
            for message in drafts:
                message.shown_hash = message.content_hash()  # type: ignore[attr-defined]  # for the confirmation template only
            return self._confirm(request, drafts, "approve_selected", "Approve these drafts as they are")
        approved = 0
        for message in drafts:
            try:
                outbound_approve(
                    message=message, actor=request.user, expected_hash=request.POST.get(f"hash_{message.pk}", "")
                )
                approved += 1
            except DomainError as exc:
                self.message_user(request, f"{message}: {exc}", messages.WARNING)
        self.message_user(request, f"Approved {approved} draft(s).", messages.SUCCESS)
        return None

    @admin.action(description="Reject the selected drafts…", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> HttpResponse | None:
        rows = queryset.filter(status__in=(Status.DRAFT, Status.APPROVED, Status.FAILED))
        reason = request.POST.get("reject_reason", "").strip()
        if request.POST.get("confirm") != "yes" or not reason:
            return self._confirm(request, rows, "reject_selected", "Reject these drafts", needs_reason=True)
        for message in rows:
            outbound_reject(message=message, actor=request.user, reason=reason)
        self.message_user(request, f"Rejected {rows.count()} message(s).")
        return None

    @admin.action(description="Send the selected approved emails now", permissions=["approve"])
    def send_now(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        results = [
            outbound_send(message_id=pk, trigger="human", actor=request.user)
            for pk in queryset.values_list("pk", flat=True)
        ]
        self._report_send(request, results)

    @admin.action(description="Retry the selected failed sends", permissions=["approve"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        results = []
        for message in queryset.filter(status=Status.FAILED):
            try:
                outbound_retry_failed(message=message, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{message}: {exc}", messages.WARNING)
                continue
            results.append(outbound_send(message_id=message.pk, trigger="human", actor=request.user))
        self._report_send(request, results)

    @admin.action(description="Unknown outcome: I checked, it was delivered", permissions=["approve"])
    def unknown_was_delivered(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        for message in queryset.filter(status=Status.UNKNOWN):
            outbound_resolve_unknown(message=message, actor=request.user, delivered=True)
        self.message_user(request, "Marked as sent.")

    @admin.action(
        description="Unknown outcome: I checked, it was NOT delivered (back to approved)", permissions=["approve"]
    )
    def unknown_not_delivered(self, request: HttpRequest, queryset: QuerySet[OutboundMessage]) -> None:
        for message in queryset.filter(status=Status.UNKNOWN):
            outbound_resolve_unknown(message=message, actor=request.user, delivered=False)
        self.message_user(request, "Back to approved: use 'Send now' to send them.")


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("email_hash", "reason", "actor_label", "created_at")
    readonly_fields = ("email_hash", "reason", "actor_label", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class MatchReplyForm(forms.Form):
    lead = forms.ModelChoiceField(queryset=Lead.objects.filter(merged_into__isnull=True), widget=forms.NumberInput)


@admin.register(InboundReply)
class InboundReplyAdmin(admin.ModelAdmin):
    """Replies, with the unmatched ones for a person to match to their lead."""

    list_display = ("received_at", "from_email", "subject", "lead", "matched_by", "sender", "source")
    list_filter = ("held_for_review", "matched_by", "source", "sender_verified")
    list_select_related = ("lead",)
    search_fields = ("from_email_normalized", "subject")
    readonly_fields = [f.name for f in InboundReply._meta.fields]
    actions = ["match_to_lead", "apply_reply"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Sender")
    def sender(self, obj: InboundReply) -> str:
        if obj.held_for_review:
            return "Sender not verified: waiting for review"
        if obj.sender_verified:
            return f"Verified ({obj.sender_check})"
        if obj.sender_verified is False:
            return "Sender not verified"
        return "Not checked"

    @admin.action(
        description="Apply this reply (sender not verified): stop the sequence, move the lead", permissions=["change"]
    )
    def apply_reply(self, request: HttpRequest, queryset: QuerySet[InboundReply]) -> None:
        applied = 0
        skipped = queryset.filter(held_for_review=False).count()
        for reply in queryset.filter(held_for_review=True):
            try:
                reply_apply(reply=reply, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{reply}: {exc}", messages.ERROR)
            else:
                applied += 1
        if applied:
            self.message_user(
                request,
                f"{applied} repl{'y' if applied == 1 else 'ies'} applied: the sequence stopped and the lead moved "
                "to Replied (classification then acts on it).",
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected repl{'y was' if skipped == 1 else 'ies were'} not waiting for review.",
                messages.WARNING,
            )

    @admin.action(description="Match the selected unmatched reply to a lead…", permissions=["change"])
    def match_to_lead(self, request: HttpRequest, queryset: QuerySet[InboundReply]) -> HttpResponse | None:
        replies = list(queryset.filter(lead__isnull=True)[:2])
        if len(replies) != 1:
            self.message_user(request, "Select exactly one unmatched reply.", messages.WARNING)
            return None
        form = MatchReplyForm(request.POST if "lead" in request.POST else None)
        if form.is_valid():
            try:
                reply_match_by_hand(reply=replies[0], lead=form.cleaned_data["lead"], actor=request.user)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, "Matched; the lead's sequence stopped and it moved to Replied.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Match a reply to its lead",
            "opts": self.model._meta,
            "action": "match_to_lead",
            "objects": replies,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/outreach/reply_match.html", context)
