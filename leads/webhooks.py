"""`POST /webhooks/leads/<source>/`: verify -> store -> enqueue; processing in a task.

Without a broker (the embedded default) the delivery is stored and processed in one transaction
(`webhook_event_store(inline_when_embedded=True)`): a lead is what this endpoint is for, and one
commit instead of two is most of what makes intake fast on SQLite.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from clientsflow.models import WebhookEvent
from clientsflow.payloads import decode_json_object
from clientsflow.signatures import verify_ed25519
from clientsflow.webhooks import (
    check_hmac_signature,
    delivery_id,
    json_error,
    kept_headers,
    register_webhook_handler,
    request_header,
    webhook_accepted,
    webhook_event_store,
    webhook_receive,
)
from leads.models import SOURCE_RE
from leads.services.intake import LeadData, lead_intake, lead_intake_with_row, parse_lead_payload

logger = logging.getLogger(__name__)

GHL_SOURCE = "ghl"


def _verify(source: str, request: HttpRequest, body: bytes) -> JsonResponse | None:
    """None when the delivery is authentic; otherwise the response to send."""
    if source == GHL_SOURCE:
        if not settings.GHL_PUBLIC_KEY:
            return json_error("GoHighLevel intake is not configured: set GHL_PUBLIC_KEY.", 503)
        if not verify_ed25519(settings.GHL_PUBLIC_KEY, body, request_header(request, "X-GHL-Signature")):
            return json_error("The X-GHL-Signature header is missing or does not match the body.", 401)
        return None
    return check_hmac_signature(
        request,
        body,
        secret=settings.LEAD_WEBHOOK_SECRET,
        not_configured="Lead intake is not configured: set LEAD_WEBHOOK_SECRET.",
        header="X-Signature",
    )


# The details parsed at the door, for the in-process handler of this same request to reuse
# (keyed by the body, so any other event is parsed from its own body as before).
_parsed_at_door: ContextVar[tuple[str, LeadData] | None] = ContextVar("lead_parsed_at_door", default=None)


def _lead_payload(body: bytes) -> dict[str, Any]:
    """The JSON object, refused now if processing would refuse it later."""
    payload = decode_json_object(body)
    _parsed_at_door.set((body.decode("utf-8"), parse_lead_payload(payload)))
    return payload


@csrf_exempt
@require_POST
def lead_webhook(request: HttpRequest, source: str) -> JsonResponse:
    if not SOURCE_RE.match(source):
        return json_error("Unknown source: use lower-case letters, digits, '-' or '_'.", 404)
    received = webhook_receive(
        request,
        max_bytes=settings.LEAD_WEBHOOK_MAX_BYTES,
        too_large="The body is larger than 1 MB.",
        verify=partial(_verify, source),
        parse=_lead_payload,
    )
    if isinstance(received, JsonResponse):
        return received
    payload = received.payload
    event_id = delivery_id(request_header(request, "X-Event-Id"), payload, received.body)
    parsed = _parsed_at_door.get()
    try:
        _event, created = webhook_event_store(
            provider=f"leads:{source}",
            event_id=event_id,
            body=received.body,
            headers=kept_headers(request, ("X-GHL-Signature",) if source == GHL_SOURCE else ()),
            event_type=str(payload.get("type") or "lead")[:100],
            inline_when_embedded=True,
            together=partial(_new_lead_with_event, source, parsed[1]) if parsed is not None else None,
        )
    finally:
        _parsed_at_door.set(None)
    return webhook_accepted(event_id=event_id, created=created)


def _new_lead_with_event(source: str, data: LeadData, event: WebhookEvent) -> dict[str, Any] | None:
    """`process_lead_event`'s work for a new person, written with the event in one statement
    (PostgreSQL); None, with nothing written, for anything else (see `lead_intake_with_row`)."""
    result = lead_intake_with_row(
        event, data=data, source=source, actor_label=f"webhook:{source}", via=f"webhook {event.event_id}"
    )
    return None if result is None else {"lead_id": result.lead.pk, "created": result.created}


@register_webhook_handler("leads")
def process_lead_event(event: WebhookEvent) -> dict[str, Any]:
    source = event.provider.split(":", 1)[1]
    parsed = _parsed_at_door.get()
    data = parsed[1] if parsed is not None and parsed[0] == event.body else parse_lead_payload(json.loads(event.body))
    # The inbox rolls its whole transaction back if this raises: no savepoint of lead_intake's own.
    result = lead_intake(
        data=data, source=source, actor_label=f"webhook:{source}", via=f"webhook {event.event_id}", savepoint=False
    )
    return {"lead_id": result.lead.pk, "created": result.created}
