"""Helpers for the end-to-end journey test: a loopback SMTP server, signed webhook bodies, fixed-name
screenshots and a small poll for rows written by the live server's thread."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import secrets
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from aiosmtpd.controller import Controller

from tests.browser.conftest import SCREENSHOT_DIR

CALLS_FIXTURES = Path(__file__).resolve().parents[1] / "calls" / "fixtures"


class SmtpCapture:
    """aiosmtpd on 127.0.0.1 keeping every message it accepts (parsed)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        # The owner's notifications are kept apart, so the lead's emails keep their numbering.
        self.owner_address = ""
        self.owner_messages: list[EmailMessage] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        if self.owner_address and list(envelope.rcpt_tos) == [self.owner_address]:
            self.owner_messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
            return "250 Message accepted for delivery"
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"

    def point_settings_here(self, settings: Any) -> None:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = self.port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 5

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        wait_for(lambda: len(self.messages) >= count, timeout=timeout, what=f"{count} email(s) at the SMTP server")
        return self.messages


def text_of(message: EmailMessage) -> str:
    """The plain-text part of a parsed email, with CRLFs normalised."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the email has no text/plain part"
    return part.get_content().replace("\r\n", "\n")


def attachment_types(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk() if not part.is_multipart()]


def screenshot(page: Any, number: int, step: str, *, full_page: bool = False) -> Path:
    """artifacts/screenshots/journey-NN-<step>.png (ignored by git), overwritten on each run."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"journey-{number:02d}-{step}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def wait_for(find: Callable[[], Any], *, timeout: float = 10.0, what: str = "the expected row") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def mailgun_inbound_form(
    *, key: str, sender: str, sender_name: str, to: str, subject: str, text: str, in_reply_to: str
) -> dict[str, str]:
    """A Mailgun inbound "forward" POST (body-mime), signed as Mailgun signs it."""
    mime = (
        f"From: {sender_name} <{sender}>\r\n"
        f"To: {to}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: <reply-{secrets.token_hex(6)}@{sender.split('@')[1]}>\r\n"
        f"In-Reply-To: {in_reply_to}\r\n"
        f"References: {in_reply_to}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{text}\r\n"
    )
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    return {
        "recipient": to,
        "sender": sender,
        "from": f"{sender_name} <{sender}>",
        "subject": subject,
        "body-mime": mime,
        "timestamp": timestamp,
        "token": token,
        "signature": hmac_hex(key, f"{timestamp}{token}".encode()),
    }


def fireflies_transcript(
    *, meeting_id: str, lead_email: str, lead_name: str, company: str, started_ms: int
) -> dict[str, Any]:
    """The calls app's recorded Fireflies answer, re-pointed at this journey's lead and meeting."""
    data = json.loads((CALLS_FIXTURES / "fireflies_transcript.json").read_text())
    raw = json.dumps(data)
    raw = raw.replace("01KAB3XQ7TZ9N4D2W8R6M5C1PV", meeting_id)
    raw = raw.replace("dana.whitfield@northwind.example", lead_email).replace("Dana Whitfield", lead_name)
    raw = raw.replace("Northwind Studio", company).replace("northwind.example", lead_email.split("@")[1])
    data = json.loads(raw)
    data["data"]["transcript"]["date"] = started_ms
    return data


class StripeFake:
    """Stripe's API for one Checkout Session, answered at the HTTP transport (respx): created from
    exactly what our client sent, then fetched back in whatever state the payer left it."""

    API = "https://api.stripe.com/v1/checkout/sessions"

    def __init__(self, session_id: str = "cs_test_journey") -> None:
        self.session_id = session_id
        self.session: dict[str, Any] | None = None
        self.created_with: dict[str, str] = {}
        self.idempotency_keys: list[str] = []

    def mount(self, router: Any) -> None:
        router.post(self.API).mock(side_effect=self.create)
        router.get(f"{self.API}/{self.session_id}").mock(side_effect=self.retrieve)

    def create(self, request: httpx.Request) -> httpx.Response:
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        self.created_with = form
        self.idempotency_keys.append(request.headers.get("Idempotency-Key", ""))
        self.session = {
            "id": self.session_id,
            "object": "checkout.session",
            "mode": form["mode"],
            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form["client_reference_id"],
            "customer_email": form.get("customer_email"),
            "metadata": {
                "proposal_id": form["metadata[proposal_id]"],
                "proposal_version": form["metadata[proposal_version]"],
            },
            "success_url": form["success_url"],
            "cancel_url": form["cancel_url"],
            "payment_intent": None,
            "payment_status": "unpaid",
            "status": "open",
            "created": int(time.time()),
            "expires_at": int(time.time()) + 86400,
            "url": f"https://checkout.stripe.com/c/pay/{self.session_id}",
        }
        return httpx.Response(200, json=self.session)

    def retrieve(self, request: httpx.Request) -> httpx.Response:
        assert self.session is not None, "retrieved before it was created"
        return httpx.Response(200, json=self.session)

    def pay(self, payment_intent: str = "pi_journey") -> None:
        """The payer finished on Stripe's page: the session is complete and paid."""
        assert self.session is not None
        self.session.update(
            status="complete",
            payment_status="paid",
            payment_intent={"id": payment_intent, "object": "payment_intent", "status": "succeeded"},
        )

    def completed_event(self) -> str:
        """`checkout.session.completed` as Stripe sends it (the PaymentIntent as an id)."""
        assert self.session is not None
        session = {**self.session, "payment_intent": self.session["payment_intent"]["id"]}
        event = {
            "id": "evt_journey_completed",
            "object": "event",
            "api_version": "2025-10-29.clover",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": session},
        }
        return json.dumps(event)


def success_url_for(session: dict[str, Any]) -> str:
    """Where Stripe sends the payer afterwards (it fills in the session id)."""
    return session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
