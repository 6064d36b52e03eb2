"""Small request helpers shared by every app's views."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """The request django-htmx's middleware hands every view: annotate a view with it to read `request.htmx`."""

    htmx: HtmxDetails


def wants_json(request: HttpRequest) -> bool:
    """The board's script asks for JSON; a plain form post or a browser page does not."""
    return "application/json" in request.headers.get("Accept", "")


def safe_next(request: HttpRequest, candidate: str, *, default: str) -> str:
    """`candidate` if it points back at this site, else `default`: a `next` or Referer from the
    request must never send the user to another host (an open redirect)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
