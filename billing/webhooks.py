"""`POST /webhooks/stripe/`: verify (Stripe's helper + our future-timestamp check) -> store ->
process after commit, one handler per event type; unknown types are acknowledged and ignored."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.clients import stripe as stripe_client
from billing.services.payments import payment_apply_intent_failed, payment_apply_refund, payment_apply_session
from clientsflow.models import WebhookEvent
from clientsflow.payloads import decode_json_object
from clientsflow.webhooks import (
    json_error,
    kept_headers,
    register_webhook_handler,
    webhook_accepted,
    webhook_event_store,
    webhook_receive,
)

logger = logging.getLogger(__name__)

PROVIDER = "stripe"


def _verify(request: HttpRequest, body: bytes) -> JsonResponse | None:
    """Stripe's own check (signature, timestamp window) plus ours; a refusal is a 400, as Stripe expects."""
    try:
        stripe_client.webhook_event_verify(
            payload=body,
            signature_header=request.headers.get("Stripe-Signature"),
            secret=settings.STRIPE_WEBHOOK_SECRET,
        )
    except stripe_client.WebhookRejected as exc:
        logger.info("stripe.webhook_rejected", extra={"reason": str(exc)})
        return json_error(str(exc), 400)
    return None


def _stripe_event(body: bytes) -> dict[str, Any]:
    """The verified event; only Stripe's own events (`evt_...`) are stored."""
    event = decode_json_object(body)
    if not str(event.get("id") or "").startswith("evt_"):
        raise ValueError("The event has no Stripe event id.")
    return event


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    # Refused before the body is read: without the secret no delivery can be verified.
    if not settings.STRIPE_WEBHOOK_SECRET:
        return json_error("Stripe webhooks are not configured: set STRIPE_WEBHOOK_SECRET.", 503)
    received = webhook_receive(
        request,
        max_bytes=settings.STRIPE_WEBHOOK_MAX_BYTES,
        too_large="The body is larger than the limit for Stripe events.",
        verify=_verify,
        parse=_stripe_event,
    )
    if isinstance(received, JsonResponse):
        return received
    event_id = str(received.payload["id"])
    _stored, created = webhook_event_store(
        provider=PROVIDER,
        event_id=event_id,
        body=received.body,
        headers=kept_headers(request),
        event_type=str(received.payload.get("type") or ""),
    )
    return webhook_accepted(event_id=event_id, created=created)


def _current_session(session: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The session as Stripe has it now when we can ask; else the event's copy (not authoritative)."""
    if stripe_client.enabled():
        return stripe_client.checkout_session_retrieve(session["id"]), True
    return session, False


def _on_session(event: dict[str, Any], hint: str = "") -> dict[str, Any]:
    session, authoritative = _current_session(event["data"]["object"])
    payment, changed = payment_apply_session(
        session=session, authoritative=authoritative, source=event["id"], hint=hint
    )
    return {"payment_id": payment.pk if payment else None, "changed": changed, "status": getattr(payment, "status", "")}


def _on_async_failed(event: dict[str, Any]) -> dict[str, Any]:
    return _on_session(event, hint="failed")


def _on_intent_failed(event: dict[str, Any]) -> dict[str, Any]:
    payment, changed = payment_apply_intent_failed(intent=event["data"]["object"], source=event["id"])
    return {"payment_id": payment.pk if payment else None, "changed": changed}


def _on_refund(event: dict[str, Any]) -> dict[str, Any]:
    charge = event["data"]["object"]
    payment, changed = payment_apply_refund(charge=charge, source=event["id"])
    if payment is None and charge.get("payment_intent"):
        # The refund may arrive before we learned of the payment: catch up from Stripe, or let the
        # webhook sweep try again once the checkout events are in.
        if not stripe_client.enabled():
            raise LookupError("No payment yet for this refund's payment intent; will retry.")
        session = stripe_client.checkout_session_for_payment_intent(str(charge["payment_intent"]))
        if session is None:
            return {"ignored": "payment intent is not from a ClientsFlow checkout"}
        payment_apply_session(session=session, authoritative=True, source=event["id"])
        payment, changed = payment_apply_refund(charge=charge, source=event["id"])
    return {"payment_id": payment.pk if payment else None, "changed": changed}


EVENT_HANDLERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "checkout.session.completed": _on_session,
    "checkout.session.async_payment_succeeded": _on_session,
    "checkout.session.async_payment_failed": _on_async_failed,
    "checkout.session.expired": _on_session,
    "payment_intent.payment_failed": _on_intent_failed,
    "charge.refunded": _on_refund,
}


@register_webhook_handler(PROVIDER)
def process_stripe_event(event: WebhookEvent) -> dict[str, Any]:
    payload = json.loads(event.body)
    handler = EVENT_HANDLERS.get(str(payload.get("type")))
    if handler is None:
        logger.info("stripe.event_ignored", extra={"event_id": event.event_id, "event_type": event.event_type})
        return {"ignored": payload.get("type")}
    return {"event_type": payload.get("type"), **handler(payload)}
