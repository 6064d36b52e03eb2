"""Slack incoming webhook (httpx): the owner's alerts, shared by every app that alerts.

The only module that posts to Slack. Local mode: no `SLACK_WEBHOOK_URL` -> `enabled()` is False
and callers keep their alerts for the "needs you" panel only.
Incoming webhooks: https://api.slack.com/messaging/webhooks (a 429 carries `Retry-After`).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class SlackError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def enabled() -> bool:
    return bool(settings.SLACK_WEBHOOK_URL)


def slack_post(*, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    """Post one message. `text` is the notification fallback when `blocks` are given."""
    if not enabled():
        raise SlackError("Slack is not configured: set SLACK_WEBHOOK_URL.")
    payload: dict[str, Any] = {"text": text}
    if blocks:
        payload["blocks"] = blocks
    try:
        response = httpx.post(settings.SLACK_WEBHOOK_URL, json=payload, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise SlackError(f"Could not reach Slack ({type(exc).__name__}).") from exc
    if response.status_code == 429:
        try:
            retry_after = float(response.headers.get("Retry-After", ""))
        except ValueError:
            retry_after = None
        raise SlackError("Slack rate limit reached; the alert is sent on a later run.", retry_after=retry_after)
    if response.status_code >= 400:
        # The body is a short reason such as `invalid_payload` or `no_service`; never the URL.
        raise SlackError(f"Slack answered HTTP {response.status_code} ({response.text[:100]}).")
    logger.info("slack.posted", extra={"chars": len(text)})
