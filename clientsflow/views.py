from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

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
