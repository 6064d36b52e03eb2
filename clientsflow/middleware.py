"""Turn a lost database connection into a 503 with a retry hint instead of a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from clientsflow.site import (
    request_base_url_reset,
    request_base_url_set,
    site_settings_memo_close,
    site_settings_memo_open,
)

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database.unavailable", extra={"path": request.path, "error_type": type(exception).__name__})
        response = JsonResponse(
            {"error": "The database is unavailable right now; nothing was saved. Try again shortly."}, status=503
        )
        response["Retry-After"] = "30"
        return response


class OwnerTimezoneMiddleware:
    """Show times in the owner's zone (admin lists, forms) unless a page picks another zone itself.

    Storage stays UTC; this only changes how Django renders and parses datetimes in a request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with timezone.override(ZoneInfo(settings.OWNER_TIMEZONE)):
            return self.get_response(request)


class SecurityHeadersMiddleware:
    """Headers every response carries, and the ones a link-token page needs on top.

    Permissions-Policy switches off browser features no page here uses, so injected or third-party
    code cannot reach them. A page opened by a link token (proposal, booking management,
    unsubscribe) shows a person's details to whoever holds the link: no browser or shared cache
    may keep a copy.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        match = getattr(request, "resolver_match", None)
        if match is not None and "token" in match.kwargs:
            add_never_cache_headers(response)
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the admin's one allowance (inline styles) added on its
    pages; a view's own `@csp_update` still wins."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.update is None and request.path_info.startswith(settings.CSP_ADMIN_PATH_PREFIX):
            parts.update = settings.CSP_ADMIN_UPDATE
        return parts


class PublicBaseUrlMiddleware:
    """Links built while serving a request point at the address it came in at (when no public
    base URL is set): `make run` on another port, or behind a tunnel, serves links that work.
    After CommonMiddleware, so the host was checked against ALLOWED_HOSTS. It also keeps the site
    settings row for the request (`clientsflow.site`), read once instead of at every use."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request_base_url_set(f"{request.scheme}://{request.get_host()}")
        memo = site_settings_memo_open()
        try:
            return self.get_response(request)
        finally:
            site_settings_memo_close(memo)
            request_base_url_reset(token)
