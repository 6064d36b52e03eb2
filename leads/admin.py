from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from clientsflow.display import owner_time_relative, phone_international
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.money import format_money
from leads.models import Lead, LeadEvent, LeadMerge, PossibleDuplicate, Stage, StageChange
from leads.services.dedup import possible_duplicate_dismiss, possible_duplicate_merge
from leads.services.importer import (
    DEFAULT_SOURCE,
    DELIMITER_NAMES,
    ImportFileError,
    lead_import_csv,
    lead_import_preview,
)
from leads.services.merge import lead_merge, lead_merge_undo, merge_plan
from leads.services.owner_edits import check_no_duplicate, lead_update_by_owner
from leads.services.stages import check_stage_move, lead_move_stage


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    can_delete = False
    fields = ("changed_at", "from_stage", "to_stage", "actor_label", "reason")
    readonly_fields = fields
    ordering = ("-changed_at", "-id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LeadEventInline(admin.TabularInline):
    model = LeadEvent
    extra = 0
    can_delete = False
    fields = ("at", "label", "summary")
    readonly_fields = fields
    verbose_name_plural = "Timeline"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LeadAdminForm(forms.ModelForm):
    move_to = forms.ChoiceField(
        choices=[("", "— keep the current stage —"), *Stage.choices], required=False, label="Move to stage"
    )
    move_reason = forms.CharField(required=False, max_length=255, label="Reason (required for Lost)")

    class Meta:
        model = Lead
        fields = ("name", "email", "phone", "company", "source")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        try:
            check_no_duplicate(
                email=cleaned.get("email", ""), phone=cleaned.get("phone", ""), exclude_pk=self.instance.pk
            )
            if not self.instance.pk and not (cleaned.get("email") or cleaned.get("phone")):
                raise InvalidInput("A lead needs an email address or a phone number.")
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if self.instance.pk and cleaned.get("move_to"):
            try:
                check_stage_move(lead=self.instance, to_stage=cleaned["move_to"], reason=cleaned.get("move_reason", ""))
            except DomainError as exc:
                self.add_error("move_to", str(exc))
        return cleaned


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="The first row names the columns (for example Name, Email, Phone)."
    )
    source = forms.CharField(
        initial=DEFAULT_SOURCE, max_length=60, help_text="Used for rows without a Source column value."
    )


def _import_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _import_token_path(token: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", token or ""):
        raise Http404("No such import.")
    return _import_dir() / f"{token}.csv"


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    form = LeadAdminForm
    change_list_template = "admin/leads/lead/change_list.html"

    def get_urls(self) -> list[Any]:
        urls = [
            path("import-csv/", self.admin_site.admin_view(self.import_csv_view), name="leads_lead_import"),
            path(
                "import-csv/<str:token>/rejects.csv",
                self.admin_site.admin_view(self.import_rejects_view),
                name="leads_lead_import_rejects",
            ),
        ]
        return urls + super().get_urls()

    def import_csv_view(self, request: HttpRequest) -> HttpResponse:
        """Upload -> dry-run preview (nothing written) -> import -> result with a rejects file."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        context: dict[str, Any] = {**self.admin_site.each_context(request), "opts": self.model._meta}
        context["title"] = "Import leads from a CSV file"
        if request.method == "POST" and request.POST.get("token"):
            token = request.POST["token"]
            upload = _import_token_path(token)
            if not upload.exists():
                raise Http404("This upload has expired; upload the file again.")
            try:
                summary = lead_import_csv(
                    path=upload,
                    source=request.POST.get("source") or DEFAULT_SOURCE,
                    rejects_path=upload.with_suffix(".rejects.csv"),
                )
            except (ImportFileError, InvalidInput) as exc:
                messages.error(request, str(exc))
                return HttpResponseRedirect(reverse("admin:leads_lead_import"))
            context.update(stage="done", summary=summary, token=token, title="Import finished")
            return TemplateResponse(request, "admin/leads/import_csv.html", context)
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            token = uuid.uuid4().hex
            upload = _import_token_path(token)
            with upload.open("wb") as handle:
                for chunk in form.cleaned_data["file"].chunks():
                    handle.write(chunk)
            try:
                preview = lead_import_preview(
                    path=upload, source=form.cleaned_data["source"], rejects_path=upload.with_suffix(".rejects.csv")
                )
            except (ImportFileError, InvalidInput) as exc:
                form.add_error("file", str(exc))
            else:
                context.update(
                    stage="preview",
                    preview=preview,
                    delimiter_name=DELIMITER_NAMES.get(preview.delimiter, preview.delimiter),
                    token=token,
                    source=form.cleaned_data["source"],
                    title="Check the import before it runs",
                )
                return TemplateResponse(request, "admin/leads/import_csv.html", context)
        context.update(stage="upload", form=form)
        return TemplateResponse(request, "admin/leads/import_csv.html", context)

    def import_rejects_view(self, request: HttpRequest, token: str) -> HttpResponseBase:
        if not self.has_add_permission(request):
            raise PermissionDenied
        rejects = _import_token_path(token).with_suffix(".rejects.csv")
        if not rejects.exists():
            raise Http404("No rejected rows for this import.")
        return FileResponse(
            rejects.open("rb"), as_attachment=True, filename="rejected-rows.csv", content_type="text/csv"
        )

    list_display = (
        "__str__",
        "email",
        "phone_display",
        "company",
        "source",
        "stage",
        "value_display",
        "added",
        "merged_into",
    )
    list_filter = ("stage", "source", "created_at")
    search_fields = ("name", "email_normalized", "phone", "phone_e164", "company")
    list_select_related = ("merged_into",)
    readonly_fields = (
        "public_id",
        "stage",
        "stage_changed_at",
        "email_normalized",
        "phone_e164",
        "phone_display",
        "value_display",
        "external_ids",
        "owner_edited_fields",
        "merged_into",
        "created_at",
        "updated_at",
    )
    inlines = [StageChangeInline, LeadEventInline]
    actions = ["merge_selected", "enroll_in_sequence", "export_selected", "export_person", "erase_person"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # a COUNT(*) over 100,000 leads on every page is wasted work

    def get_fieldsets(self, request: HttpRequest, obj: Lead | None = None) -> Any:
        contact = ("name", "email", "phone", "company", "source")
        if obj is None:
            return [(None, {"fields": contact})]
        return [
            (None, {"fields": contact}),
            ("Pipeline", {"fields": ("stage", "stage_changed_at", "value_display", "move_to", "move_reason")}),
            (
                "Identity",
                {
                    "fields": (
                        "public_id",
                        "email_normalized",
                        "phone_display",
                        "external_ids",
                        "owner_edited_fields",
                        "merged_into",
                        "created_at",
                        "updated_at",
                    )
                },
            ),
        ]

    @admin.display(description="Phone", ordering="phone_e164")
    def phone_display(self, obj: Lead) -> str:
        return phone_international(obj.phone_e164 or obj.phone) or "—"

    @admin.display(description="Deal value", ordering="value_minor")
    def value_display(self, obj: Lead) -> str:
        return format_money(obj.value_minor, obj.value_currency)

    @admin.display(description="Added", ordering="created_at")
    def added(self, obj: Lead) -> str:
        return owner_time_relative(obj.created_at)

    def save_model(self, request: HttpRequest, obj: Lead, form: forms.ModelForm, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in LeadAdminForm.Meta.fields}
        try:
            saved = lead_update_by_owner(lead=obj if change else None, changes=changes, actor=request.user)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        obj.pk = saved.pk
        move_to = form.cleaned_data.get("move_to")
        if change and move_to:
            lead_move_stage(
                lead=saved, to_stage=move_to, actor=request.user, reason=form.cleaned_data.get("move_reason", "")
            )

    @admin.action(description="Enroll the selected leads in a sequence…", permissions=["change"])
    def enroll_in_sequence(self, request: HttpRequest, queryset: QuerySet[Lead]) -> HttpResponse:
        # Enrolling is outreach's: its admin page confirms and enrolls. Linked by URL name, so
        # this admin imports nothing of outreach's.
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:500])
        return HttpResponseRedirect(f"{reverse('admin:outreach_enrollment_enroll')}?ids={ids}")

    # The privacy app's admin pages do these; linked by URL name, so leads imports nothing of it.
    @admin.action(description="Export selected as CSV", permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Lead]) -> HttpResponse:
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:10_000])
        return HttpResponseRedirect(f"{reverse('admin:privacy_export_selected')}?ids={ids}")

    @admin.action(description="Export this person's data", permissions=["change"])
    def export_person(self, request: HttpRequest, queryset: QuerySet[Lead]) -> HttpResponse | None:
        return self._one_person(request, queryset, "admin:privacy_person_export")

    @admin.action(description="Erase this person…", permissions=["change", "delete"])
    def erase_person(self, request: HttpRequest, queryset: QuerySet[Lead]) -> HttpResponse | None:
        return self._one_person(request, queryset, "admin:privacy_person_erase")

    def _one_person(self, request: HttpRequest, queryset: QuerySet[Lead], url_name: str) -> HttpResponse | None:
        leads = list(queryset[:2])
        if len(leads) != 1:
            self.message_user(request, "Select exactly one lead.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse(url_name, args=[leads[0].pk]))

    @admin.action(description="Merge the two selected leads…", permissions=["change"])
    def merge_selected(self, request: HttpRequest, queryset: QuerySet[Lead]) -> HttpResponse | None:
        leads = list(queryset.order_by("created_at", "id")[:3])
        if len(leads) != 2:
            self.message_user(request, "Select exactly two leads to merge.", messages.WARNING)
            return None
        survivor, duplicate = leads
        if request.POST.get("survivor") == str(duplicate.pk):
            survivor, duplicate = duplicate, survivor
        try:
            plan = merge_plan(survivor=survivor, duplicate=duplicate)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        if request.POST.get("confirm") == "yes":
            merge = lead_merge(survivor=survivor, duplicate=duplicate, actor=request.user)
            self.message_user(
                request,
                f"Merged {duplicate} into {survivor}. Undo it from Lead merges (merge #{merge.pk}) if it was a mistake.",
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge two leads",
            "plan": plan,
            "leads": leads,
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/leads/merge_preview.html", context)


@admin.register(LeadMerge)
class LeadMergeAdmin(admin.ModelAdmin):
    list_display = ("merged_at", "survivor", "duplicate", "merged_by", "undone_at")
    list_select_related = ("survivor", "duplicate", "merged_by")
    readonly_fields = [f.name for f in LeadMerge._meta.fields]
    actions = ["undo"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Undo the selected merges", permissions=["change"])
    def undo(self, request: HttpRequest, queryset: QuerySet[LeadMerge]) -> None:
        for merge in queryset:
            try:
                lead_merge_undo(merge=merge, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"Merge #{merge.pk}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"Merge #{merge.pk} undone: {merge.duplicate} is its own lead again.")


@admin.register(PossibleDuplicate)
class PossibleDuplicateAdmin(admin.ModelAdmin):
    list_display = ("created_at", "lead_a", "lead_b", "reason", "status", "resolved_by")
    list_filter = ("status", "reason")
    list_select_related = ("lead_a", "lead_b", "resolved_by")
    search_fields = ("lead_a__name", "lead_a__email_normalized", "lead_b__name", "lead_b__email_normalized")
    readonly_fields = [f.name for f in PossibleDuplicate._meta.fields]
    actions = ["merge_into_older", "dismiss"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Merge each pair into its older lead (undoable)", permissions=["change"])
    def merge_into_older(self, request: HttpRequest, queryset: QuerySet[PossibleDuplicate]) -> None:
        for pair in queryset.select_related("lead_a"):
            try:
                merge = possible_duplicate_merge(pair=pair, survivor=pair.lead_a, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{pair}: {exc}", messages.WARNING)
            else:
                self.message_user(
                    request, f"Merged {merge.duplicate} into {merge.survivor}; undo it from Lead merges if wrong."
                )

    @admin.action(description="Not the same person: dismiss the selected pairs", permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[PossibleDuplicate]) -> None:
        for pair in queryset:
            try:
                possible_duplicate_dismiss(pair=pair, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{pair}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"Dismissed: {pair.lead_a} and {pair.lead_b} are two people.")
