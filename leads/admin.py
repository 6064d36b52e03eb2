from __future__ import annotations

import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from clientsflow.display import owner_time, owner_time_relative, phone_international
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.money import format_money
from leads.markup import note_html
from leads.models import Lead, LeadEvent, LeadImport, LeadMerge, Note, PossibleDuplicate, Stage, StageChange, Task
from leads.next_steps import owner_day_end
from leads.services.dedup import possible_duplicate_dismiss, possible_duplicate_merge
from leads.services.importer import DEFAULT_SOURCE, DELIMITER_NAMES, FIELD_LABELS, ImportFileError
from leads.services.lead_imports import (
    MAPPABLE_FIELDS,
    check_mapping,
    check_upload,
    file_size_text,
    lead_import_columns,
    lead_import_dry_run,
    lead_import_rejects_write,
    lead_import_start,
    lead_import_upload,
    max_upload_bytes,
)
from leads.services.merge import lead_merge, lead_merge_undo, merge_plan
from leads.services.owner_edits import check_no_duplicate, lead_update_by_owner
from leads.services.stages import check_stage_move, lead_move_stage
from leads.services.tasks import task_complete


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

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        head = upload.read(65536)
        upload.seek(0)
        try:
            check_upload(file_name=upload.name, size=upload.size, head=head)
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload


class ImportMappingForm(forms.Form):
    """One select per CSV column: which lead field it fills, or ignore it."""

    def __init__(self, *args: Any, header: list[str], initial_mapping: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header = header
        choices = [("", "Ignore this column"), *MAPPABLE_FIELDS]
        for index, cell in enumerate(header):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=cell.strip() or f"Column {index + 1} (no name)",
                choices=choices,
                required=False,
                initial=initial_mapping[index] if index < len(initial_mapping) else "",
            )

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"column_{index}", "") for index in range(len(self.header))]

    def initial_mapping(self) -> list[str]:
        return [self.fields[f"column_{index}"].initial or "" for index in range(len(self.header))]

    def clean(self) -> dict[str, Any]:
        super().clean()
        try:
            check_mapping(header=self.header, mapping=self.mapping())
        except DomainError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return self.cleaned_data


OUTCOME_LABELS = {
    "created": "New lead",
    "enriched": "Adds details to an existing lead",
    "unchanged": "Already there, nothing new",
    "rejected": "Not imported",
}


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    form = LeadAdminForm
    change_list_template = "admin/leads/lead/change_list.html"

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        urls = [
            path("import-csv/", view(self.import_upload_view), name="leads_lead_import"),
            path("import-csv/<int:pk>/", view(self.import_mapping_view), name="leads_lead_import_mapping"),
            path("import-csv/<int:pk>/progress/", view(self.import_progress_view), name="leads_lead_import_progress"),
            path("import-csv/<int:pk>/rejects.csv", view(self.import_rejects_view), name="leads_lead_import_rejects"),
        ]
        return urls + super().get_urls()

    def _import_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        if not self.has_add_permission(request):
            raise PermissionDenied
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title}

    def import_upload_view(self, request: HttpRequest) -> HttpResponse:
        """Step 1: upload a file (checked for size and kind), kept on a LeadImport row."""
        context = self._import_context(request, "Import leads from a CSV file")
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                lead_import = lead_import_upload(
                    file_name=upload.name,
                    content=upload.read(),
                    source=form.cleaned_data["source"],
                    user=request.user,
                )
            except ImportFileError as exc:
                form.add_error("file", str(exc))
            except DomainError as exc:
                form.add_error("source" if "source" in str(exc) else "file", str(exc))
            else:
                return HttpResponseRedirect(reverse("admin:leads_lead_import_mapping", args=[lead_import.pk]))
        context.update(stage="upload", form=form, max_size=file_size_text(max_upload_bytes()))
        return TemplateResponse(request, "admin/leads/import_csv.html", context)

    def import_mapping_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Step 2: choose which column fills which field, see the dry run, then start the import."""
        context = self._import_context(request, "Choose the columns and check the import")
        lead_import = get_object_or_404(LeadImport, pk=pk)
        if lead_import.status != LeadImport.Status.UPLOADED:
            return HttpResponseRedirect(reverse("admin:leads_lead_import_progress", args=[pk]))
        try:
            columns = lead_import_columns(lead_import=lead_import)
        except ImportFileError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:leads_lead_import"))
        data = request.POST if request.method == "POST" else None
        form = ImportMappingForm(data, header=columns.header, initial_mapping=lead_import.mapping or columns.defaults)
        mapping = form.initial_mapping()
        if data is not None:
            if not form.is_valid():
                mapping = []
            else:
                mapping = form.mapping()
                if request.POST.get("action") == "import":
                    started, _ = lead_import_start(lead_import_id=pk, mapping=mapping, user=request.user)
                    return HttpResponseRedirect(reverse("admin:leads_lead_import_progress", args=[started.pk]))
        dry_run = None
        if mapping:
            try:
                dry_run = lead_import_dry_run(lead_import=lead_import, mapping=mapping)
            except DomainError as exc:
                form.add_error(None, str(exc))
            except ImportFileError as exc:
                form.add_error(None, str(exc))
        rows = []
        if dry_run is not None:
            fields = [name for name in FIELD_LABELS if name in mapping]
            rows = [
                {
                    "number": row.number,
                    "cells": [row.values.get(name, "") for name in fields],
                    "outcome": row.outcome,
                    "outcome_label": OUTCOME_LABELS[row.outcome],
                    "reason": row.reason,
                }
                for row in dry_run.rows
            ]
            context["preview_fields"] = [FIELD_LABELS[name].capitalize() for name in fields]
        context.update(
            stage="mapping",
            lead_import=lead_import,
            form=form,
            delimiter_name=DELIMITER_NAMES.get(columns.delimiter, columns.delimiter),
            encoding=columns.encoding,
            dry_run=dry_run,
            preview_rows=rows,
        )
        return TemplateResponse(request, "admin/leads/import_csv.html", context)

    def import_progress_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Step 3: the run's progress; htmx polls the `progress` partial every second until it ends."""
        context = self._import_context(request, "CSV import")
        lead_import = get_object_or_404(LeadImport.objects.defer("content").select_related("started_by"), pk=pk)
        if lead_import.status == LeadImport.Status.UPLOADED:
            return HttpResponseRedirect(reverse("admin:leads_lead_import_mapping", args=[pk]))
        if request.method == "POST" and lead_import.status == LeadImport.Status.FAILED:
            lead_import_start(lead_import_id=pk, mapping=lead_import.mapping, user=request.user)
            return HttpResponseRedirect(reverse("admin:leads_lead_import_progress", args=[pk]))
        context.update(
            stage="progress",
            lead_import=lead_import,
            percent=(100 * lead_import.rows_done // lead_import.total_rows) if lead_import.total_rows else 0,
            progress_max=max(lead_import.total_rows, lead_import.rows_done, 1),
        )
        if getattr(request, "htmx", False):
            return TemplateResponse(request, "admin/leads/_import_progress.html", context)
        return TemplateResponse(request, "admin/leads/import_csv.html", context)

    def import_rejects_view(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        self._import_context(request, "")
        lead_import = get_object_or_404(LeadImport.objects.defer("content"), pk=pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="rejected-rows-{lead_import.pk}.csv"'
        buffer = io.StringIO()
        buffer.write("\ufeff")  # so Excel reads the file as UTF-8
        lead_import_rejects_write(lead_import=lead_import, handle=buffer)
        response.write(buffer.getvalue())
        return response

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


@admin.register(LeadImport)
class LeadImportAdmin(admin.ModelAdmin):
    """The CSV imports, read-only: who uploaded what, when, and what each run did."""

    list_display = (
        "created_at",
        "created_by",
        "file_name",
        "status",
        "rows",
        "created_count",
        "enriched_count",
        "unchanged_count",
        "rejected_count",
        "open_link",
    )
    list_display_links = ("created_at",)
    list_filter = ("status", "created_at")
    list_select_related = ("created_by",)
    search_fields = ("file_name",)
    exclude = ("content", "claim", "columns", "mapping")
    readonly_fields = (
        "created_at",
        "created_by",
        "file_name",
        "file_size",
        "source",
        "mapping_display",
        "status",
        "started_by",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "total_rows",
        "last_row",
        "rows_done",
        "created_count",
        "enriched_count",
        "unchanged_count",
        "rejected_count",
        "error",
        "open_link",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[LeadImport]:
        return super().get_queryset(request).defer("content")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Columns")
    def mapping_display(self, obj: LeadImport) -> str:
        fills = dict(MAPPABLE_FIELDS)
        return "; ".join(
            f"{column or '(no name)'} → {fills.get(name, 'ignored') if name else 'ignored'}"
            for column, name in zip(obj.columns, obj.mapping, strict=False)
        )

    @admin.display(description="Rows")
    def rows(self, obj: LeadImport) -> str:
        return f"{obj.rows_done} of {obj.total_rows}"

    @admin.display(description="Progress and rejected rows")
    def open_link(self, obj: LeadImport) -> str:
        url_name = (
            "admin:leads_lead_import_mapping"
            if obj.status == LeadImport.Status.UPLOADED
            else ("admin:leads_lead_import_progress")
        )
        return format_html('<a href="{}">Open</a>', reverse(url_name, args=[obj.pk]))


# --- Notes and tasks: read in the admin, written on the lead page -------------------------------
# Written only through the lead page (leads.services.notes / tasks), which puts each on the
# timeline and in the audit log; here they are listed, filtered and searched across all leads,
# never added, edited or deleted (an edit here would bypass both). Ticking a task done is the one
# change, through the same service.


def _lead_links(lead: Lead) -> str:
    return format_html(
        '<a href="{}">{}</a> · <a href="{}">open on the board</a>',
        reverse("admin:leads_lead_change", args=[lead.pk]),
        lead,
        reverse("board:lead-detail", args=[lead.public_id]),
    )


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Note)
class NoteAdmin(_ReadOnlyAdmin):
    """Every note on every lead, newest first: who wrote what, when, about whom."""

    list_display = ("created_at_owner", "lead_link", "excerpt", "author")
    list_filter = ("created_at", ("author", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("lead", "author")
    search_fields = ("body", "lead__name", "lead__email_normalized", "lead__company")
    date_hierarchy = "created_at"
    fields = ("lead_link", "author", "created_at_owner", "body_shown")
    readonly_fields = fields

    @admin.display(description="Written", ordering="created_at")
    def created_at_owner(self, obj: Note) -> str:
        return owner_time_relative(obj.created_at)

    @admin.display(description="Lead")
    def lead_link(self, obj: Note) -> str:
        return _lead_links(obj.lead)

    @admin.display(description="Note")
    def excerpt(self, obj: Note) -> str:
        text = " ".join(obj.body.split())
        return text if len(text) <= 120 else f"{text[:119]}…"

    @admin.display(description="Note")
    def body_shown(self, obj: Note) -> str:
        return note_html(obj.body)  # sanitized: raw HTML escaped, https links only


class TaskStateFilter(admin.SimpleListFilter):
    """Open tasks by when they fall due on the owner's calendar, or done ones."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("overdue", "Overdue"),
            ("today", "Due later today"),
            ("later", "Due after today"),
            ("open", "All open"),
            ("done", "Done"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Task]) -> QuerySet[Task]:
        now = timezone.now()
        open_tasks = queryset.filter(done_at__isnull=True)
        match self.value():
            case "overdue":
                return open_tasks.filter(due_at__lt=now)
            case "today":
                return open_tasks.filter(due_at__gte=now, due_at__lt=owner_day_end(now))
            case "later":
                return open_tasks.filter(due_at__gte=owner_day_end(now))
            case "open":
                return open_tasks
            case "done":
                return queryset.filter(done_at__isnull=False)
        return queryset


@admin.register(Task)
class TaskAdmin(_ReadOnlyAdmin):
    """Every next step on every lead: what, for whom, due when (owner's zone), done by whom."""

    list_display = ("title", "lead_link", "due_at_owner", "state", "created_by", "done_at_owner", "done_by")
    list_display_links = ("title",)
    list_filter = (TaskStateFilter, "due_at", ("created_by", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("lead", "created_by", "done_by")
    search_fields = ("title", "lead__name", "lead__email_normalized", "lead__company")
    date_hierarchy = "due_at"
    ordering = ("done_at", "due_at", "id")  # open ones first (NULLs first on both databases)
    fields = ("title", "lead_link", "due_at_owner", "state", "created_by", "created_at", "done_at_owner", "done_by")
    readonly_fields = fields
    actions = ["mark_done"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list's "tick done" action asks with no object; a task's own page stays view-only.
        return obj is None and admin.ModelAdmin.has_change_permission(self, request)

    @admin.display(description="Lead")
    def lead_link(self, obj: Task) -> str:
        return _lead_links(obj.lead)

    @admin.display(description="Due", ordering="due_at")
    def due_at_owner(self, obj: Task) -> str:
        return owner_time(obj.due_at)

    @admin.display(description="Done", ordering="done_at")
    def done_at_owner(self, obj: Task) -> str:
        return owner_time(obj.done_at) if obj.done_at else "—"

    @admin.display(description="State")
    def state(self, obj: Task) -> str:
        if obj.done_at is not None:
            return "Done"
        now = timezone.now()
        if obj.due_at < now:
            return "Overdue"
        return "Due today" if obj.due_at < owner_day_end(now) else "Open"

    @admin.action(description="Tick the selected tasks done", permissions=["change"])
    def mark_done(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        done = 0
        for task in queryset.filter(done_at__isnull=True):
            try:
                task_complete(task=task, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{task}: {exc}", messages.WARNING)
            else:
                done += 1
        skipped = queryset.filter(done_at__isnull=False).count() - done
        note = f" ({skipped} already done, left as they were)" if skipped > 0 else ""
        self.message_user(request, f"Ticked {done} task{'' if done == 1 else 's'} done{note}.")
