"""`POST /webhooks/replies/`: inbound replies from the mail provider, verify -> store -> process.

Parsing and the signature check are django-anymail's (Mailgun inbound "forward" route,
https://anymail.dev/en/stable/esps/mailgun/#mailgun-inbound): the HMAC of timestamp + token with
the webhook signing key. We add what anymail leaves to the app: fail closed without a key, a
timestamp window against replays of old deliveries, and the webhook inbox (the Mailgun token is
the delivery id, so a replay changes nothing). Processing happens in a task after commit.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.inbound import AnymailInboundMessage
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from clientsflow.models import WebhookEvent
from clientsflow.webhooks import json_error, kept_headers, register_webhook_handler, webhook_event_store
from outreach.models import InboundReply
from outreach.services.replies import incoming_from_message, reply_intake
from outreach.services.sender_auth import check_mailgun

logger = logging.getLogger(__name__)

PROVIDER = "replies:mailgun"
MAX_BYTES = 10 * 1024 * 1024
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@csrf_exempt
@require_POST
def replies_webhook(request: HttpRequest) -> JsonResponse:
    key = settings.MAILGUN_WEBHOOK_SIGNING_KEY
    if not key:
        return json_error("Inbound replies are not configured: set MAILGUN_WEBHOOK_SIGNING_KEY.", 503)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BYTES:
        return json_error("The body is larger than 10 MB.", 413)
    if request.content_type not in FORM_CONTENT_TYPES:
        # anymail would read a JSON body as a tracking webhook and trip over one that is not an object.
        return json_error("Inbound replies arrive as a form post (Mailgun's forward route); this body is not one.", 415)
    view = MailgunInboundWebhookView(webhook_signing_key=key)
    try:
        view.run_validators(request)
    except (AnymailWebhookValidationFailure, UnicodeEncodeError):  # a non-ASCII token or timestamp cannot match
        return json_error("The Mailgun signature is missing or does not match (check the webhook signing key).", 401)
    try:
        signed_at = int(request.POST["timestamp"])
    except (KeyError, ValueError):
        return json_error("The timestamp field is missing.", 400)
    if abs(time.time() - signed_at) > settings.REPLIES_WEBHOOK_MAX_AGE_SECONDS:
        return json_error("The delivery is too old (or its clock is off by more than 15 minutes).", 401)
    try:
        events = view.parse_events(request)
    except AnymailConfigurationError as exc:
        return json_error(str(exc), 400)
    stored = []
    for event in events:
        event_id = str(event.event_id or request.POST.get("token", ""))
        body = json.dumps(
            {
                "raw": event.message.as_string(),
                "received_at": datetime.fromtimestamp(signed_at, tz=UTC).isoformat(),
                "mailgun": _mailgun_verdicts(request),
            }
        ).encode()
        _event, created = webhook_event_store(
            provider=PROVIDER, event_id=event_id, body=body, headers=kept_headers(request), event_type="inbound"
        )
        stored.append({"event_id": event_id, "status": "accepted" if created else "duplicate"})
    return JsonResponse({"events": stored}, status=200)


def _mailgun_verdicts(request: HttpRequest) -> dict[str, Any]:
    """Mailgun's SPF and DKIM verdicts and the envelope sender, as posted beside the message.

    The form fields when Mailgun sends them, else the same names in `message-headers`. Every value
    is kept: a sender's own header of the same name shows up as a second, disagreeing value.
    """
    verdicts: dict[str, Any] = {
        "spf": request.POST.getlist("X-Mailgun-Spf"),
        "dkim": request.POST.getlist("X-Mailgun-Dkim-Check-Result"),
        "sender": request.POST.get("sender", ""),
    }
    try:
        headers = json.loads(request.POST.get("message-headers") or "[]")
    except ValueError:
        headers = []
    for pair in headers if isinstance(headers, list) else []:
        if not (isinstance(pair, list) and len(pair) == 2):
            continue
        name, value = str(pair[0]).lower(), str(pair[1])
        if name == "x-mailgun-spf" and not request.POST.getlist("X-Mailgun-Spf"):
            verdicts["spf"].append(value)
        elif name == "x-mailgun-dkim-check-result" and not request.POST.getlist("X-Mailgun-Dkim-Check-Result"):
            verdicts["dkim"].append(value)
    return verdicts


@register_webhook_handler("replies")
def process_reply_event(event: WebhookEvent) -> dict[str, Any]:
    data = json.loads(event.body)
    message = AnymailInboundMessage.parse_raw_mime(data["raw"])
    received_at = datetime.fromisoformat(data["received_at"]) if data.get("received_at") else None
    verdicts = data.get("mailgun") or {}
    check = check_mailgun(
        message,
        from_address=str(message.get("From", "")),
        spf=[str(v) for v in verdicts.get("spf") or []],
        dkim=[str(v) for v in verdicts.get("dkim") or []],
        envelope_sender=str(verdicts.get("sender") or ""),
    )
    reply, created = reply_intake(
        mail=incoming_from_message(message, received_at=received_at, sender_check=check),
        source=InboundReply.Source.WEBHOOK,
    )
    return {
        "reply_id": reply.pk,
        "created": created,
        "matched_by": reply.matched_by,
        "held_for_review": reply.held_for_review,
    }
