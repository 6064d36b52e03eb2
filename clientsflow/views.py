from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache

from clientsflow.branding import BRANDING_CONTENT_TYPES, branding_file_path, public_branding

logger = logging.getLogger(__name__)


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return False, type(exc).__name__
    return True, "ok"


def _broker_ok() -> tuple[bool, str]:
    if not settings.REDIS_URL:
        return True, "in-process (no broker configured)"
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except Exception as exc:
        return False, type(exc).__name__
    return True, "ok"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    db_ok, db_detail = _database_ok()
    broker_ok, broker_detail = _broker_ok()
    ok = db_ok and broker_ok
    failed = [name for name, good in (("database", db_ok), ("broker", broker_ok)) if not good]
    body: dict[str, Any] = {
        "status": "ok" if ok else "unavailable",
        "database": db_detail,
        "broker": broker_detail,
    }
    if failed:
        body["failed"] = failed
        logger.warning("healthz.failed", extra={"failed": failed})
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = "30"
    return response


def brand_css(request: HttpRequest) -> HttpResponse:
    """The agency's colour as CSS custom properties (public pages allow no `style=`)."""
    branding = public_branding()
    css = f":root {{ --brand: {branding.colour}; --brand-ink: {branding.ink}; }}\n"
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    # The link carries the settings' version (?v=), so a changed colour is a new URL.
    patch_cache_control(response, public=True, max_age=3600)
    return response


def branding_file(request: HttpRequest, name: str) -> FileResponse:
    """An uploaded logo or host photo from MEDIA_ROOT/branding/: images only, nothing else there."""
    path = branding_file_path(name)
    if path is None:
        raise Http404("No such file.")
    response = FileResponse(path.open("rb"), content_type=BRANDING_CONTENT_TYPES[path.suffix.lower()])
    # An SVG opened on its own must not run anything it carries.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    patch_cache_control(response, public=True, max_age=3600)
    return response
