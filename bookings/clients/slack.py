"""Slack incoming webhook (httpx): the owner's alert when a booking's invite is blocked.

Local mode: no `SLACK_WEBHOOK_URL` -> `enabled()` is False and nothing is posted.
"""

from __future__ import annotations

import logging

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class SlackError(Exception):
    pass


def enabled() -> bool:
    return bool(settings.SLACK_WEBHOOK_URL)


def slack_post(*, text: str) -> None:
    try:
        response = httpx.post(settings.SLACK_WEBHOOK_URL, json={"text": text}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise SlackError(f"Could not reach Slack ({type(exc).__name__}).") from exc
    if response.status_code >= 400:
        raise SlackError(f"Slack answered HTTP {response.status_code}.")
