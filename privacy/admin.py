"""Erasures (read-only), and the admin pages behind the Lead list's privacy actions.

The Lead changelist's actions ("Export selected as CSV", "Export this person's data", "Erase this
person…") redirect here by URL name, so `leads` imports nothing of this app.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from clientsflow.errors import DomainError
from leads.models import Lead
from privacy.models import Erasure
from privacy.selectors import LEAD_HEADER, lead_export_rows
from privacy.services.erase import CHANGE_PERMISSION, DELETE_PERMISSION, person_erase, person_erase_preview
from privacy.services.export import person_export
from privacy.views import csv_response

VIEW_PERMISSION = "leads.view_lead"
# Ids travel in the redirect's query string; past this, the board's export (filters) is the way.
MAX_SELECTED = 10_000


def _ids(request: HttpRequest) -> list[int]:
    try:
        return [int(pk) for pk in request.GET.get("ids", "").split(",") if pk][:MAX_SELECTED]
    except ValueError as exc:
        raise Http404("Those are not lead ids.") from exc


@admin.register(Erasure)
class ErasureAdmin(admin.ModelAdmin):
    list_display = ("erased_at", "lead_public_id", "actor_label", "unreachable_count")
    list_select_related = ("erased_by",)
    readonly_fields = [f.name for f in Erasure._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Could not reach")
    def unreachable_count(self, obj: Erasure) -> int:
        return len(obj.unreachable)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("export-selected/", wrap(self.export_selected_view), name="privacy_export_selected"),
            path("person/<int:lead_id>/export/", wrap(self.person_export_view), name="privacy_person_export"),
            path("person/<int:lead_id>/erase/", wrap(self.person_erase_view), name="privacy_person_erase"),
            *super().get_urls(),
        ]

    def export_selected_view(self, request: HttpRequest) -> HttpResponseBase:
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied
        leads = Lead.objects.filter(pk__in=_ids(request)).order_by("-created_at", "-id")
        return csv_response(
            filename=f"leads-selected-{timezone.now():%Y%m%d-%H%M}.csv",
            header=LEAD_HEADER,
            rows=lead_export_rows(leads),
        )

    def person_export_view(self, request: HttpRequest, lead_id: int) -> HttpResponseBase:
        # The whole file about someone is more than the list shows: the change permission.
        if not request.user.has_perm(CHANGE_PERMISSION):
            raise PermissionDenied
        lead = get_object_or_404(Lead, pk=lead_id)
        response = HttpResponse(person_export(lead=lead), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="person-{lead.public_id}.zip"'
        return response

    def person_erase_view(self, request: HttpRequest, lead_id: int) -> HttpResponseBase:
        if not request.user.has_perms([CHANGE_PERMISSION, DELETE_PERMISSION]):
            raise PermissionDenied
        lead = get_object_or_404(Lead, pk=lead_id)
        error = ""
        if request.method == "POST":
            try:
                erasure = person_erase(lead=lead, actor=request.user, confirmation=request.POST.get("confirmation", ""))
            except DomainError as exc:
                error = str(exc)
            else:
                self.message_user(request, f"Erased: {sum(erasure.counts.values())} rows anonymised.", messages.SUCCESS)
                for item in erasure.unreachable:
                    self.message_user(
                        request,
                        f"Could not reach {item['system']} ({item['id']}): {item['reason']} Remove it there by hand.",
                        messages.WARNING,
                    )
                return HttpResponseRedirect(reverse("admin:privacy_erasure_change", args=[erasure.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase this person",
            "opts": Lead._meta,
            "preview": person_erase_preview(lead=lead),
            "error": error,
        }
        return TemplateResponse(request, "admin/privacy/erase_preview.html", context, status=400 if error else 200)
