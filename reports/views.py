from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from leads.models import Lead
from leads.permissions import NOT_ALLOWED_MESSAGE, VIEW_LEAD, staff_permission_required
from reports.pages import REPORTS
from reports.periods import DEFAULT_RANGE, ReportFilterForm


@staff_permission_required(VIEW_LEAD)
def report_index(request: HttpRequest) -> HttpResponse:
    allowed = [report for report in REPORTS.values() if request.user.has_perms(report.perms)]
    return render(request, "reports/index.html", {"reports": allowed, "active": "reports"})


@staff_permission_required(VIEW_LEAD)
def report_detail(request: HttpRequest, slug: str) -> HttpResponse:
    report = REPORTS.get(slug)
    if report is None:
        raise Http404("No such report.")
    if not request.user.has_perms(report.perms):
        raise PermissionDenied(NOT_ALLOWED_MESSAGE)
    form = ReportFilterForm(request.GET or {"range": DEFAULT_RANGE})
    sources = list(Lead.objects.order_by("source").values_list("source", flat=True).distinct())
    context = {"report": report, "form": form, "sources": sources, "reports": REPORTS.values(), "active": "reports"}
    if not form.is_valid():
        return render(request, "reports/report.html", context, status=400)
    period = form.period()
    context.update(period=period, page=report.build(period))
    return render(request, "reports/report.html", context)
