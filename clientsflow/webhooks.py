"""The webhook inbox: store every delivery first, process it once, after commit.

Each app registers a handler for its provider prefix (`leads`, `stripe`, `fireflies`, ...); the
handler runs inside the same transaction that marks the event processed, so an event is processed
exactly once or not at all.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from clientsflow.models import WebhookEvent

logger = logging.getLogger(__name__)

Handler = Callable[[WebhookEvent], dict[str, Any] | None]
_HANDLERS: dict[str, Handler] = {}

# Headers worth keeping with an event; never cookies or authorization.
KEPT_HEADERS = (
    "Content-Type",
    "User-Agent",
    "X-Event-Id",
    "X-Request-Id",
    "X-Forwarded-For",
)
MAX_ATTEMPTS = 5


class PayloadTooLarge(Exception):
    pass


def json_error(message: str, status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def register_webhook_handler(provider_prefix: str) -> Callable[[Handler], Handler]:
    def decorator(func: Handler) -> Handler:
        _HANDLERS[provider_prefix] = func
        return func

    return decorator


def handler_for(provider: str) -> Handler:
    prefix = provider.split(":", 1)[0]
    try:
        return _HANDLERS[prefix]
    except KeyError:
        raise LookupError(f"No webhook handler is registered for {prefix!r}.") from None


def read_body_limited(request: HttpRequest, max_bytes: int) -> bytes:
    """The raw body, refusing anything over `max_bytes` before it is read or hashed."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise PayloadTooLarge
    body = request.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise PayloadTooLarge
    return body


def check_hmac_signature(
    request: HttpRequest, body: bytes, *, secret: str, not_configured: str, header: str
) -> JsonResponse | None:
    """Fail closed: None when `header` holds the HMAC-SHA256 of `body`, else the 503/401 to send."""
    from clientsflow.signatures import verify_hmac_sha256

    if not secret:
        return json_error(not_configured, 503)
    if not verify_hmac_sha256(secret, body, request.headers.get(header)):
        return json_error(f"The {header} header is missing or does not match the body (HMAC-SHA256).", 401)
    return None


def kept_headers(request: HttpRequest, extra: tuple[str, ...] = ()) -> dict[str, str]:
    return {name: request.headers[name] for name in (*KEPT_HEADERS, *extra) if name in request.headers}


def delivery_id(header_value: str | None, payload: Any, body: bytes) -> str:
    """The header's id, else the payload's `id`, else the SHA-256 of the body."""
    if header_value and header_value.strip():
        return header_value.strip()[:255]
    if isinstance(payload, dict) and payload.get("id") not in (None, ""):
        return str(payload["id"])[:255]
    return "sha256:" + hashlib.sha256(body).hexdigest()


def webhook_event_store(
    *, provider: str, event_id: str, body: bytes, headers: dict[str, str], event_type: str = ""
) -> tuple[WebhookEvent, bool]:
    """Store a delivery. Returns `(event, created)`; a replay only counts the delivery."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                provider=provider,
                event_id=event_id,
                event_type=event_type[:100],
                headers=headers,
                body=body.decode("utf-8"),
            )
    except IntegrityError:
        WebhookEvent.objects.filter(provider=provider, event_id=event_id).update(deliveries=F("deliveries") + 1)
        event = WebhookEvent.objects.get(provider=provider, event_id=event_id)
        logger.info("webhook.replayed", extra={"provider": provider, "event_id": event_id})
        return event, False
    logger.info("webhook.stored", extra={"provider": provider, "event_id": event_id, "webhook_pk": event.pk})
    transaction.on_commit(lambda: _enqueue_stored(event.pk))
    return event, True


def _enqueue_stored(event_pk: int) -> None:
    """Queue a stored event. The row is already committed, so a broker outage must not turn the
    sender's delivery into an error: the dispatcher's `webhook_sweep` re-queues it later."""
    from clientsflow.tasks import process_webhook_event

    try:
        process_webhook_event.delay(event_pk)
    except BrokerUnavailable:
        logger.warning("webhook.enqueue_failed", extra={"webhook_pk": event_pk, "reason": "broker unavailable"})


def webhook_event_process(*, event_id: int) -> WebhookEvent | None:
    """Process one stored event once. A failure is recorded on the event and re-raised."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
            if event is None or event.status == WebhookEvent.Status.PROCESSED:
                return event
            handler = handler_for(event.provider)
            result = handler(event) or {}
            event.status = WebhookEvent.Status.PROCESSED
            event.processed_at = timezone.now()
            event.attempts = F("attempts") + 1
            event.last_error = ""
            event.save(update_fields=["status", "processed_at", "attempts", "last_error"])
    except Exception as exc:
        WebhookEvent.objects.filter(pk=event_id).exclude(status=WebhookEvent.Status.PROCESSED).update(
            status=WebhookEvent.Status.FAILED,
            attempts=F("attempts") + 1,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.warning("webhook.failed", extra={"webhook_pk": event_id, "error_type": type(exc).__name__})
        raise
    logger.info("webhook.processed", extra={"webhook_pk": event_id, "outcome": result})
    event.refresh_from_db()
    return event


def webhook_event_replay(*, event: WebhookEvent) -> None:
    """Queue a stored event for processing again (admin action). Processed events stay processed."""
    from clientsflow.tasks import process_webhook_event

    if event.status != WebhookEvent.Status.PROCESSED:
        WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.RECEIVED)
        process_webhook_event.delay_on_commit(event.pk)


def stale_unprocessed_events(*, older_than: timedelta, limit: int = 200) -> list[int]:
    cutoff = timezone.now() - older_than
    return list(
        WebhookEvent.objects.filter(
            Q(status=WebhookEvent.Status.RECEIVED) | Q(status=WebhookEvent.Status.FAILED),
            received_at__lt=cutoff,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
