"""`/u/<token>/`: unsubscribe (the link in every email and the RFC 8058 one-click POST)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from outreach.services.suppression import suppression_add_from_link, unsubscribe_token_read

logger = logging.getLogger(__name__)


# csrf_exempt: mail providers POST `List-Unsubscribe=One-Click` with no cookie or token (RFC 8058);
# the signed token in the URL is the authorization, and unsubscribing is the only effect.
def _rate(group: str, request: HttpRequest) -> str:
    return settings.UNSUBSCRIBE_RATE_LIMIT


@csrf_exempt
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_rate, method="POST", block=False, group="leads.unsubscribe")
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if getattr(request, "limited", False):
        return render(request, "outreach/unsubscribe.html", {"state": "limited"}, status=429)
    data = unsubscribe_token_read(token)
    if data is None:
        return render(request, "outreach/unsubscribe.html", {"state": "invalid"}, status=404)
    if request.method == "GET":
        # A GET never unsubscribes: mail scanners fetch links (RFC 8058, section 1). One click on
        # the page's button does.
        return render(request, "outreach/unsubscribe.html", {"state": "confirm", "token": token})
    suppression_add_from_link(hashed=data["h"], message_public_id=data.get("m", ""), actor_label="unsubscribe")
    logger.info("outbound.unsubscribed", extra={"one_click": request.POST.get("List-Unsubscribe") == "One-Click"})
    return render(request, "outreach/unsubscribe.html", {"state": "done"})
