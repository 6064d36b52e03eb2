"""Stripe, behind one module: the only place `import stripe` appears.

Enabled when `STRIPE_API_KEY` is set. Local mode (no key): no Checkout Session can be created and
the public page says online payment is not set up; webhooks still verify with
`STRIPE_WEBHOOK_SECRET` and fall back to the state carried in the event itself.

Everything returned is a plain dict (the API object's JSON), so no Stripe type leaks out.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import stripe
from django.conf import settings
from stripe.params.checkout import SessionCreateParams, SessionListParams

from clientsflow.integrations import integration_failed, integration_ok
from clientsflow.payloads import too_deep_message

logger = logging.getLogger(__name__)

VENDOR = "stripe"
P = ParamSpec("P")
R = TypeVar("R")


class StripeClientError(Exception):
    """Stripe could not be reached or refused the call. `str()` is safe to show to staff."""


class StripeDisabled(StripeClientError):
    pass


class StripeUnavailable(StripeClientError):
    """Network trouble or a 5xx/429: worth retrying later."""


class StripeRejected(StripeClientError):
    """Stripe refused the request (bad parameters, auth, idempotency conflict)."""


class WebhookRejected(Exception):
    """The delivery is not an authentic, fresh Stripe event. `str()` is the reason for the sender."""


def enabled() -> bool:
    return bool(settings.STRIPE_API_KEY)


def _client() -> stripe.StripeClient:
    if not enabled():
        raise StripeDisabled("Stripe is not configured: set STRIPE_API_KEY.")
    return stripe.StripeClient(
        settings.STRIPE_API_KEY,
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.HTTPXClient(timeout=settings.STRIPE_TIMEOUT_SECONDS, allow_sync_methods=True),
    )


def _translate(exc: Exception, operation: str) -> StripeClientError:
    logger.warning("stripe.error", extra={"operation": operation, "error_type": type(exc).__name__})
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return StripeUnavailable(f"Stripe could not be reached ({operation}); try again in a minute.")
    if isinstance(exc, stripe.StripeError):
        status = getattr(exc, "http_status", None) or 0
        if status >= 500:
            return StripeUnavailable(f"Stripe had a problem ({operation}, HTTP {status}); try again in a minute.")
        message = getattr(exc, "user_message", None) or "the request was refused"
        return StripeRejected(f"Stripe refused {operation}: {message}")
    return StripeUnavailable(f"Stripe call failed ({operation}): {type(exc).__name__}")


def _reports_health(func: Callable[P, R]) -> Callable[P, R]:
    """Tell the owner's integration status whether Stripe answered (see clientsflow/integrations.py).
    Only an outage counts as a failure; a refused request is about that request."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = func(*args, **kwargs)
        except StripeUnavailable as exc:
            integration_failed(VENDOR, error=exc)
            raise
        integration_ok(VENDOR)
        return result

    return wrapper


@dataclass(frozen=True)
class CheckoutRequest:
    proposal_id: int
    proposal_version: int
    lead_public_id: str
    amount_minor: int
    currency: str
    description: str
    customer_email: str
    success_url: str
    cancel_url: str
    idempotency_key: str


@_reports_health
def checkout_session_create(request: CheckoutRequest) -> dict[str, Any]:
    metadata = {"proposal_id": str(request.proposal_id), "proposal_version": str(request.proposal_version)}
    params: SessionCreateParams = {
        "mode": "payment",
        "client_reference_id": request.lead_public_id,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": request.description[:500]},
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": request.currency.lower(),
                    "unit_amount": request.amount_minor,
                    "product_data": {"name": request.description[:250]},
                },
            }
        ],
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
    }
    if request.customer_email:
        params["customer_email"] = request.customer_email
    try:
        session = _client().v1.checkout.sessions.create(params, {"idempotency_key": request.idempotency_key})
    except Exception as exc:
        raise _translate(exc, "creating the checkout session") from exc
    logger.info("stripe.checkout_created", extra={"proposal_id": request.proposal_id, "session_id": session.id})
    return session.to_dict()


@_reports_health
def checkout_session_retrieve(session_id: str) -> dict[str, Any]:
    """The session as Stripe has it now, with its PaymentIntent expanded (its status tells a
    processing delayed payment from a failed one)."""
    try:
        session = _client().v1.checkout.sessions.retrieve(session_id, {"expand": ["payment_intent"]})
    except Exception as exc:
        raise _translate(exc, "fetching the checkout session") from exc
    return session.to_dict()


@_reports_health
def checkout_session_for_payment_intent(payment_intent_id: str) -> dict[str, Any] | None:
    try:
        page = _client().v1.checkout.sessions.list(
            {"payment_intent": payment_intent_id, "limit": 1, "expand": ["data.payment_intent"]}
        )
    except Exception as exc:
        raise _translate(exc, "finding the checkout session") from exc
    data = page.to_dict().get("data") or []
    return data[0] if data else None


@_reports_health
def checkout_sessions_recent(*, created_since: int, max_sessions: int) -> list[dict[str, Any]]:
    """Sessions created since a Unix time, newest first, at most `max_sessions` (bounded paging)."""
    sessions: list[dict[str, Any]] = []
    params: SessionListParams = {"created": {"gte": created_since}, "limit": 100, "expand": ["data.payment_intent"]}
    try:
        client = _client()
        while len(sessions) < max_sessions:
            page = client.v1.checkout.sessions.list(params).to_dict()
            data = page.get("data") or []
            sessions.extend(data)
            if not page.get("has_more") or not data:
                break
            params = {**params, "starting_after": data[-1]["id"]}
    except StripeClientError:
        raise
    except Exception as exc:
        raise _translate(exc, "listing checkout sessions") from exc
    return sessions[:max_sessions]


def webhook_event_verify(*, payload: bytes, signature_header: str | None, secret: str) -> dict[str, Any]:
    """The verified event as a dict, or WebhookRejected.

    Stripe's own check covers the HMAC over the raw body (any of several `v1` signatures, which
    is how secret rotation works) and timestamps older than the tolerance; we also refuse
    timestamps from the future beyond the same tolerance, which Stripe's helper lets through.
    """
    if not secret:
        raise WebhookRejected("Stripe webhooks are not configured: set STRIPE_WEBHOOK_SECRET.")
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    try:
        event = stripe.Webhook.construct_event(payload, signature_header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError:
        raise WebhookRejected("The Stripe-Signature header is missing, malformed or does not match the body.")
    except RecursionError:
        raise WebhookRejected(too_deep_message())
    except (ValueError, AttributeError, TypeError):
        # ValueError: not JSON. AttributeError/TypeError: signed JSON that is not an object (a list,
        # a number), which Stripe's helper trips over instead of refusing.
        raise WebhookRejected("The body is not a Stripe event (JSON object with object=event).")
    timestamps = [
        part.split("=", 1)[1] for part in (signature_header or "").split(",") if part.strip().startswith("t=")
    ]
    try:
        signed_at = int(timestamps[0])
    except (IndexError, ValueError):
        raise WebhookRejected("The Stripe-Signature header has no timestamp.")
    if signed_at > time.time() + tolerance:
        raise WebhookRejected("The Stripe-Signature timestamp is in the future; check the sender's clock.")
    return event.to_dict()
