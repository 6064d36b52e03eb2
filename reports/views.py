from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from leads.permissions import NOT_ALLOWED_MESSAGE, VIEW_LEAD, staff_permission_required
from reports.exports import report_csv
from reports.pages import REPORTS, Report
from reports.periods import DEFAULT_RANGE, Period, ReportFilterForm
from reports.selectors.sources import lead_sources


@staff_permission_required(VIEW_LEAD)
def report_index(request: HttpRequest) -> HttpResponse:
    allowed = [report for report in REPORTS.values() if request.user.has_perms(report.perms)]
    return render(request, "reports/index.html", {"reports": allowed, "active": "reports"})


def _report_for(request: HttpRequest, slug: str) -> Report:
    report = REPORTS.get(slug)
    if report is None:
        raise Http404("No such report.")
    if not request.user.has_perms(report.perms):
        raise PermissionDenied(NOT_ALLOWED_MESSAGE)
    return report


def _filter_query(request: HttpRequest) -> str:
    """The page's filters as a query string, for the download links."""
    query = request.GET.copy()
    query.pop("table", None)
    return query.urlencode()


@staff_permission_required(VIEW_LEAD)
def report_detail(request: HttpRequest, slug: str) -> HttpResponse:
    report = _report_for(request, slug)
    form = ReportFilterForm(request.GET or {"range": DEFAULT_RANGE})
    sources = lead_sources()
    context = {"report": report, "form": form, "sources": sources, "reports": REPORTS.values(), "active": "reports"}
    if not form.is_valid():
        return render(request, "reports/report.html", context, status=400)
    period = form.period()
    if period.source and period.source not in sources:
        # A source no lead has yet (a link kept from before): shown as chosen, not as "every source".
        context["sources"] = sorted([*sources, period.source])
    page = report.build(period)
    context.update(period=period, page=page, filter_query=_filter_query(request))
    return render(request, "reports/report.html", context)


def _filename(report: Report, period: Period, table: str) -> str:
    parts = ["clientsflow", report.slug, table, f"{period.start:%Y%m%d}-{period.end:%Y%m%d}", period.source]
    return "-".join(part for part in parts if part) + ".csv"


@staff_permission_required(VIEW_LEAD)
def report_download_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """`/reports/<slug>.csv?<the page's filters>[&table=<table>]`: the page's tables as CSV."""
    report = _report_for(request, slug)
    form = ReportFilterForm(request.GET or {"range": DEFAULT_RANGE})
    if not form.is_valid():
        errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponse(
            f"These filters cannot be used: {errors} Fix them on the report page and download again.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    period = form.period()
    table = request.GET.get("table", "")
    text = report_csv(report.build(period), table=table)
    if text is None:
        raise Http404("This report has no such table.")
    response = HttpResponse(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(report, period, table)}"'
    return response
