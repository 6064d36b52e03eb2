"""The admin index leads with "Needs you": the same counts as the board, from the same selector."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from board.selectors import needs_you


def admin_needs_you(request: HttpRequest) -> dict[str, Any]:
    match = getattr(request, "resolver_match", None)
    if match is None or match.view_name != "admin:index" or not request.user.is_staff:
        return {}
    items = needs_you()
    return {
        "needs_you": [item for item in items if item.count],
        "needs_you_total": sum(item.count for item in items),
        "board_url": reverse("board:board"),
        "reports_url": reverse("reports:index"),
    }
