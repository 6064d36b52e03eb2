"""`POST /webhooks/fireflies/` and `POST /webhooks/meet/participant-joined/`: verify -> store -> enqueue.

Fireflies signs the raw body with HMAC-SHA256 in `x-hub-signature` (`sha256=<hex>`; bare hex is
accepted too) and sends two payload shapes:
- v1: {"meetingId", "eventType": "Transcription completed", "clientReferenceId"}
  https://docs.fireflies.ai/graphql-api/webhooks
- v2: {"event": "meeting.transcribed", "timestamp": <ms>, "meeting_id", "client_reference_id"}
  https://docs.fireflies.ai/graphql-api/webhooks-v2
An event is stored once per meeting id + event type. Fireflies never gets a 500 from us: a body
we cannot store gets a 503 with Retry-After so it tries again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calls.services.ingest import call_register_meeting
from calls.services.routing import meeting_route, parse_participant_joined
from calls.tasks import fetch_call_transcript
from clientsflow.models import WebhookEvent
from clientsflow.payloads import decode_json_object
from clientsflow.webhooks import (
    check_hmac_signature,
    delivery_id,
    json_error,
    kept_headers,
    register_webhook_handler,
    webhook_accepted,
    webhook_event_store,
    webhook_receive,
)

logger = logging.getLogger(__name__)

# Events after which the transcript can be fetched (v1 has one event type).
TRANSCRIPT_EVENTS = frozenset({"transcription completed", "meeting.transcribed", "meeting.summarized"})


@dataclass(frozen=True)
class FirefliesEvent:
    meeting_id: str
    event_type: str
    client_reference_id: str


def parse_fireflies_payload(payload: dict[str, Any]) -> FirefliesEvent:
    """Either payload version; raises ValueError with what is missing."""
    meeting_id = payload.get("meeting_id") or payload.get("meetingId")
    event_type = payload.get("event") or payload.get("eventType")
    reference = payload.get("client_reference_id") or payload.get("clientReferenceId") or ""
    if not isinstance(meeting_id, str | int) or not str(meeting_id).strip():
        raise ValueError("The payload has no meeting id ('meeting_id' or 'meetingId').")
    if not isinstance(event_type, str) or not event_type.strip():
        raise ValueError("The payload has no event type ('event' or 'eventType').")
    if not isinstance(reference, str | int):
        raise ValueError("'client_reference_id' must be text.")
    return FirefliesEvent(
        meeting_id=str(meeting_id).strip()[:100],
        event_type=event_type.strip()[:100],
        client_reference_id=str(reference).strip()[:255],
    )


def _fireflies_event(body: bytes) -> FirefliesEvent:
    return parse_fireflies_payload(decode_json_object(body))


@csrf_exempt
@require_POST
def fireflies_webhook(request: HttpRequest) -> JsonResponse:
    received = webhook_receive(
        request,
        max_bytes=settings.FIREFLIES_WEBHOOK_MAX_BYTES,
        too_large="The body is larger than 256 KB.",
        verify=partial(
            check_hmac_signature,
            secret=settings.FIREFLIES_WEBHOOK_SECRET,
            not_configured="Fireflies webhooks are not configured: set FIREFLIES_WEBHOOK_SECRET.",
            header="x-hub-signature",  # as Fireflies names it
        ),
        parse=_fireflies_event,
    )
    if isinstance(received, JsonResponse):
        return received
    event = received.payload
    event_id = f"{event.meeting_id}:{event.event_type}"[:255]
    try:
        _stored, created = webhook_event_store(
            provider="fireflies",
            event_id=event_id,
            body=received.body,
            headers=kept_headers(request),
            event_type=event.event_type,
        )
    except Exception:
        logger.exception("fireflies.store_failed", extra={"event_id": event_id})
        response = json_error("We could not store this delivery; nothing was lost on your side. Retry shortly.", 503)
        response["Retry-After"] = "60"
        return response
    return webhook_accepted(event_id=event_id, created=created)


@register_webhook_handler("fireflies")
def process_fireflies_event(event: WebhookEvent) -> dict[str, Any]:
    parsed = parse_fireflies_payload(json.loads(event.body))
    if parsed.event_type.lower() not in TRANSCRIPT_EVENTS:
        logger.info("fireflies.event_ignored", extra={"event_type": parsed.event_type})
        return {"ignored": parsed.event_type}
    call = call_register_meeting(fireflies_id=parsed.meeting_id, client_reference_id=parsed.client_reference_id)
    fetch_call_transcript.delay_on_commit(call.pk)
    return {"call_id": call.pk}


def _participant_joined_payload(body: bytes) -> dict[str, Any]:
    """The JSON object, refused now if routing would refuse it later."""
    payload = decode_json_object(body)
    parse_participant_joined(payload)
    return payload


@csrf_exempt
@require_POST
def meet_participant_joined(request: HttpRequest) -> JsonResponse:
    """Signed like the lead webhooks: `X-Signature` = HMAC-SHA256 of the body with LEAD_WEBHOOK_SECRET."""
    received = webhook_receive(
        request,
        max_bytes=settings.LEAD_WEBHOOK_MAX_BYTES,
        too_large="The body is larger than 1 MB.",
        verify=partial(
            check_hmac_signature,
            secret=settings.LEAD_WEBHOOK_SECRET,
            not_configured="Meeting routing is not configured: set LEAD_WEBHOOK_SECRET.",
            header="X-Signature",
        ),
        parse=_participant_joined_payload,
    )
    if isinstance(received, JsonResponse):
        return received
    event_id = delivery_id(request.headers.get("X-Event-Id"), received.payload, received.body)
    _stored, created = webhook_event_store(
        provider="meet",
        event_id=event_id,
        body=received.body,
        headers=kept_headers(request),
        event_type="participant_joined",
    )
    return webhook_accepted(event_id=event_id, created=created)


@register_webhook_handler("meet")
def process_meet_event(event: WebhookEvent) -> dict[str, Any]:
    decision = meeting_route(joined=parse_participant_joined(json.loads(event.body)), webhook_event=event)
    return {"routing_id": decision.pk, "decision": decision.decision}
