"""Turn a lost database connection into a 503 with a retry hint instead of a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.functional import SimpleLazyObject, empty

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


# The policy headers as built from the settings alone: (report only, an admin page) -> header text.
# A response that carries no policy of its own (no `@csp_update`, `@csp_replace`, `@csp`) and a
# request that used no nonce get exactly these, so they are built once, not twice per response.
_BUILT_POLICIES: dict[tuple[bool, bool], str] = {}
_POLICY_SETTINGS = {
    "CONTENT_SECURITY_POLICY",
    "CONTENT_SECURITY_POLICY_REPORT_ONLY",
    "CSP_ADMIN_PATH_PREFIX",
    "CSP_ADMIN_UPDATE",
    "DEBUG",
}
# What a view's decorators put on its response (django-csp): such a response is built as the
# library builds it.
_OWN_POLICY_ATTRS = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


def _forget_built_policies(*, setting: str, **_kwargs: Any) -> None:
    if setting in _POLICY_SETTINGS:
        _BUILT_POLICIES.clear()


setting_changed.connect(_forget_built_policies)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the admin's one allowance (inline styles) added on its
    pages; a view's own `@csp_update` still wins.

    The usual response (no policy of its own, no nonce asked for) gets the policy built once from
    the settings (`_BUILT_POLICIES`); any other goes through django-csp's own `process_response`.
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _OWN_POLICY_ATTRS
        ):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (500, 404):
            return response  # as django-csp leaves Django's debug pages
        admin = request.path_info.startswith(settings.CSP_ADMIN_PATH_PREFIX)
        for report_only, header, exempt in (
            (False, HEADER, "_csp_exempt"),
            (True, HEADER_REPORT_ONLY, "_csp_exempt_ro"),
        ):
            policy = _BUILT_POLICIES.get((report_only, admin))
            if policy is None:
                parts = self.get_policy_parts(request, response, report_only)
                policy = build_policy(parts.config, parts.update, parts.replace, parts.nonce, report_only)
                _BUILT_POLICIES[(report_only, admin)] = policy
            if not policy or header in response or getattr(response, exempt, False) is not False:
                continue
            setting = "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else "CONTENT_SECURITY_POLICY"
            excluded = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(excluded)):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written is an error, not a no-op.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response

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


class LazyMessageMiddleware(MessageMiddleware):
    """Django's message middleware, with the storage made when a view or template first uses it.

    A request that never touches messages (a webhook delivery, a JSON partial) skips building the
    cookie and session storages; one that does gets the same storage, saved on the response as
    Django saves it. Untouched, Django's `update` would store nothing either (nothing used, nothing
    added)."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        storage = request.__dict__.get("_messages")
        if isinstance(storage, SimpleLazyObject) and storage._wrapped is empty:  # type: ignore[attr-defined]
            return response
        return super().process_response(request, response)
