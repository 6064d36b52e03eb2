"""The board's current view as a file: the same filters as `/board/`, every matching lead."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from board.forms import BoardFilterForm
from leads.permissions import VIEW_LEAD, staff_permission_required
from privacy.selectors import LEAD_HEADER, board_export_leads, lead_export_rows
from privacy.tables import csv_chunks, xlsx_file


def csv_response(*, filename: str, header: list[str], rows: Iterable[list[Any]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_chunks(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _filename(extension: str) -> str:
    return f"leads-{timezone.now():%Y%m%d-%H%M}.{extension}"


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def board_export_csv(request: HttpRequest) -> HttpResponseBase:
    filters = BoardFilterForm(request.GET).filters()
    return csv_response(
        filename=_filename("csv"), header=LEAD_HEADER, rows=lead_export_rows(board_export_leads(filters))
    )


@never_cache
@require_GET
@staff_permission_required(VIEW_LEAD)
def board_export_xlsx(request: HttpRequest) -> HttpResponseBase:
    filters = BoardFilterForm(request.GET).filters()
    try:
        handle = xlsx_file(LEAD_HEADER, lead_export_rows(board_export_leads(filters)), sheet="Leads")
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=_filename("xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
