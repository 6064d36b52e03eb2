"""The webhook inbox: store every delivery first, process it once, after commit.

Each app registers a handler for its provider prefix (`leads`, `stripe`, `fireflies`, ...); the
handler runs inside the same transaction that marks the event processed, so an event is processed
exactly once or not at all. A handler that raises has that whole transaction rolled back, so it
needs no savepoint of its own.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from clientsflow.errors import InvalidInput
from clientsflow.models import WebhookEvent
from clientsflow.prepared import insert_row
from clientsflow.signatures import verify_hmac_sha256

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


@functools.cache
def _meta_key(name: str) -> str:
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


def request_header(request: HttpRequest, name: str) -> str | None:
    """The header `name` as `request.headers.get(name)` answers it, read from the one META key it
    comes from instead of building every header of the request (a step per delivery saved)."""
    return request.META.get(_meta_key(name))


def check_hmac_signature(
    request: HttpRequest, body: bytes, *, secret: str, not_configured: str, header: str
) -> JsonResponse | None:
    """Fail closed: None when `header` holds the HMAC-SHA256 of `body`, else the 503/401 to send."""
    if not secret:
        return json_error(not_configured, 503)
    if not verify_hmac_sha256(secret, body, request_header(request, header)):
        return json_error(f"The {header} header is missing or does not match the body (HMAC-SHA256).", 401)
    return None


P = TypeVar("P")
# Checks a delivery over its raw body: None when it is authentic, else the response refusing it.
Verifier = Callable[[HttpRequest, bytes], JsonResponse | None]


@dataclass(frozen=True)
class Delivery(Generic[P]):
    body: bytes
    payload: P


def webhook_receive(
    request: HttpRequest,
    *,
    max_bytes: int,
    too_large: str,
    verify: Verifier,
    parse: Callable[[bytes], P],
) -> Delivery[P] | JsonResponse:
    """The steps every webhook view takes before it stores anything, in this order: read the raw
    body up to `max_bytes` (413 with `too_large`), `verify` it over those raw bytes (its refusal is
    sent as is), then `parse` it (ValueError or InvalidInput: 400 with the message). Returns the
    delivery, or the response refusing it; nothing is written either way."""
    try:
        body = read_body_limited(request, max_bytes)
    except PayloadTooLarge:
        return json_error(too_large, 413)
    refused = verify(request, body)
    if refused is not None:
        return refused
    try:
        payload = parse(body)
    except (ValueError, InvalidInput) as exc:
        return json_error(str(exc), 400)
    return Delivery(body=body, payload=payload)


def webhook_accepted(*, event_id: str, created: bool) -> JsonResponse:
    """The answer to a delivery that is stored: a replay is acknowledged too, so the sender stops."""
    return JsonResponse({"status": "accepted" if created else "duplicate", "event_id": event_id}, status=200)


def kept_headers(request: HttpRequest, extra: tuple[str, ...] = ()) -> dict[str, str]:
    kept = {}
    for name in (*KEPT_HEADERS, *extra):
        value = request_header(request, name)
        if value is not None:
            kept[name] = value
    return kept


def delivery_id(header_value: str | None, payload: Any, body: bytes) -> str:
    """The header's id, else the payload's `id`, else the SHA-256 of the body."""
    if header_value and header_value.strip():
        return header_value.strip()[:255]
    if isinstance(payload, dict) and payload.get("id") not in (None, ""):
        return str(payload["id"])[:255]
    return "sha256:" + hashlib.sha256(body).hexdigest()


# Writes the event's row (new, already marked processed) together with the handler's own rows,
# in one statement: the handler's result, or None when it wrote nothing (see `_store_and_process`).
WithEvent = Callable[[WebhookEvent], dict[str, Any] | None]


def webhook_event_store(
    *,
    provider: str,
    event_id: str,
    body: bytes,
    headers: dict[str, str],
    event_type: str = "",
    inline_when_embedded: bool = False,
    together: WithEvent | None = None,
) -> tuple[WebhookEvent, bool]:
    """Store a delivery. Returns `(event, created)`; a replay only counts the delivery.

    With a broker the event is queued after commit. Without one (the embedded default, tasks run
    in-process) and with `inline_when_embedded`, it is processed in the same transaction that
    stores it, or by `together` in the same statement: see `_store_and_process`.
    """
    if inline_when_embedded and process_webhook_event.app.conf.task_always_eager:
        return _store_and_process(
            provider=provider, event_id=event_id, body=body, headers=headers, event_type=event_type, together=together
        )
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
        return _replayed(provider, event_id), False
    logger.info("webhook.stored", extra={"provider": provider, "event_id": event_id, "webhook_pk": event.pk})
    transaction.on_commit(lambda: _enqueue_stored(event.pk))
    return event, True


def _replayed(provider: str, event_id: str) -> WebhookEvent:
    WebhookEvent.objects.filter(provider=provider, event_id=event_id).update(deliveries=F("deliveries") + 1)
    logger.info("webhook.replayed", extra={"provider": provider, "event_id": event_id})
    return WebhookEvent.objects.get(provider=provider, event_id=event_id)


def _store_and_process(
    *, provider: str, event_id: str, body: bytes, headers: dict[str, str], event_type: str, together: WithEvent | None
) -> tuple[WebhookEvent, bool]:
    """Store the delivery and process it in one transaction (one commit instead of two).

    The row is written first and the handler runs after it, in the same transaction: both are
    committed together or not at all. The row goes in as processed (attempt 1), so success costs
    one INSERT and no UPDATE; nobody can see it before the commit, when that is true. A replay
    (same `(provider, event_id)`) writes nothing (`ON CONFLICT DO NOTHING`) and runs no handler.

    If the handler fails, the whole transaction is rolled back (its writes and the row) and the
    delivery is then stored on its own as `failed`, with the error, for the dispatcher's
    `webhook_sweep` to try again, exactly as a failed task leaves it. No savepoint is needed on
    the way that succeeds, which on PostgreSQL is two round trips fewer per delivery. If the
    process dies before either commit, nothing was stored and the sender, which got no 200,
    delivers again; the unique `(provider, event_id)` still makes a replay change nothing.

    `together`, when given, is tried first: the handler's processing for the common case written
    with the event's row in one statement (one round trip and, with no transaction open, one
    commit, instead of BEGIN, the event's INSERT, the handler's statements and COMMIT). It writes
    the row and its own rows at once or nothing; when it wrote nothing (a replay, or a case it does
    not cover) the delivery is stored and processed as above.
    """
    handler = handler_for(provider)

    def new_event(**outcome: Any) -> WebhookEvent:
        return WebhookEvent(
            provider=provider,
            event_id=event_id,
            event_type=event_type[:100],
            headers=headers,
            body=body.decode("utf-8"),
            attempts=1,
            **outcome,
        )

    if together is not None:
        event = new_event(status=WebhookEvent.Status.PROCESSED, processed_at=timezone.now())
        outcome = together(event)
        if outcome is not None:
            logger.info(
                "webhook.processed",
                extra={"provider": provider, "event_id": event_id, "webhook_pk": event.pk, "outcome": outcome},
            )
            return event, True
    event = new_event(status=WebhookEvent.Status.PROCESSED, processed_at=timezone.now())
    try:
        with transaction.atomic():
            if insert_row(event, ignore_conflicts=True).pk is None:
                return _replayed(provider, event_id), False
            result = handler(event) or {}
    except Exception as exc:
        # Same recording as `webhook_event_process`; nothing the handler wrote was kept.
        event = new_event(status=WebhookEvent.Status.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:2000])
        with transaction.atomic():
            if insert_row(event, ignore_conflicts=True).pk is None:
                return _replayed(provider, event_id), False  # a replay was stored meanwhile
        logger.warning("webhook.failed", extra={"webhook_pk": event.pk, "error_type": type(exc).__name__})
        return event, True
    logger.info(
        "webhook.processed",
        extra={"provider": provider, "event_id": event_id, "webhook_pk": event.pk, "outcome": result},
    )
    return event, True


def _enqueue_stored(event_pk: int) -> None:
    """Queue a stored event. The row is already committed, so a broker outage must not turn the
    sender's delivery into an error: the dispatcher's `webhook_sweep` re-queues it later."""
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


# Defined here, beside the service it runs, not in tasks.py: storing and replaying an event queue
# it, so the tasks module and this one would import each other. The name is the one queued
# messages already carry.
# acks_late: if a worker dies mid-task the event is redelivered; processing is idempotent
# (row lock + processed status in one transaction), so a redelivery never doubles an effect.
@shared_task(base=DjangoTask, name="clientsflow.tasks.process_webhook_event", bind=True, acks_late=True, max_retries=4)
def process_webhook_event(self: Any, event_id: int) -> None:
    try:
        webhook_event_process(event_id=event_id)
    except Exception as exc:
        if self.request.is_eager:
            return  # recorded on the event; the dispatcher's sweep tries again later
        raise self.retry(exc=exc, countdown=min(600, 15 * 2**self.request.retries)) from exc


def webhook_event_replay(*, event: WebhookEvent) -> None:
    """Queue a stored event for processing again (admin action). Processed events stay processed."""
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


def webhook_bodies_purge(*, older_than: timedelta, batch: int = 1000) -> int:
    """Empty the body and headers of processed events received before `now - older_than`.

    The event row stays: its `(provider, event_id)` keeps a late replay a no-op, and its status
    and times stay on record. Events not yet processed (received, processing, failed) keep their
    body, since processing or a person's replay still needs it. Idempotent; works in batches.
    """
    cutoff = timezone.now() - older_than
    purged = 0
    while True:
        with transaction.atomic():
            ids = list(
                WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED, received_at__lt=cutoff)
                .filter(~Q(body="") | ~Q(headers={}))
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            purged += WebhookEvent.objects.filter(pk__in=ids).update(body="", headers={})
    if purged:
        logger.info("webhook.bodies_purged", extra={"count": purged, "cutoff": cutoff.isoformat()})
    return purged
