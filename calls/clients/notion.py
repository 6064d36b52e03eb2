"""Notion (notion-client): one row per call in the calls database.

The only module that imports notion_client. Local mode: no `NOTION_TOKEN` or no
`NOTION_CALLS_DATABASE_ID` -> `enabled()` is False and calls are marked "Notion not configured".

notion-client retries a 429 itself, waiting for `Retry-After` (capped by
NOTION_MAX_RETRY_WAIT_SECONDS, at most NOTION_MAX_RETRIES times); what is still refused comes back
as our own exceptions. Rich text is limited to 2,000 characters per text object and 100 objects
per property: https://developers.notion.com/reference/request-limits
A `database_id` parent works for single-source databases under API version 2025-09-03:
https://developers.notion.com/docs/upgrade-guide-2025-09-03
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.conf import settings
from notion_client import APIErrorCode, APIResponseError, Client
from notion_client.client import ClientOptions, RetryOptions
from notion_client.errors import HTTPResponseError, RequestTimeoutError

logger = logging.getLogger(__name__)

RICH_TEXT_LIMIT = 2000
RICH_TEXT_MAX_ITEMS = 100

# Property names the calls database must have (type in brackets).
PROP_TITLE = "Name"  # title
PROP_DATE = "Date"  # date
PROP_LEAD = "Lead"  # rich_text
PROP_EMAIL = "Email"  # email
PROP_RECORDING = "Recording"  # url
PROP_FIREFLIES = "Fireflies"  # url
PROP_SUMMARY = "Summary"  # rich_text
PROP_MATCH = "Matched by"  # rich_text


class NotionError(Exception):
    """Notion refused or could not be reached. `retryable` says whether trying later may work."""

    def __init__(self, message: str, *, retryable: bool, code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code
        self.status = status


def enabled() -> bool:
    return bool(settings.NOTION_TOKEN and settings.NOTION_CALLS_DATABASE_ID)


def _client() -> Client:
    return Client(
        options=ClientOptions(
            auth=settings.NOTION_TOKEN,
            timeout_ms=int(settings.NOTION_TIMEOUT_SECONDS * 1000),
            retry=RetryOptions(
                max_retries=settings.NOTION_MAX_RETRIES,
                initial_retry_delay_ms=min(1000, int(settings.NOTION_MAX_RETRY_WAIT_SECONDS * 1000)),
                max_retry_delay_ms=int(settings.NOTION_MAX_RETRY_WAIT_SECONDS * 1000),
            ),
        )
    )


def chunk_rich_text(text: str) -> list[dict[str, Any]]:
    """`text` as rich-text objects of at most 2,000 characters each (at most 100 of them)."""
    if not text:
        return []
    pieces = [text[i : i + RICH_TEXT_LIMIT] for i in range(0, len(text), RICH_TEXT_LIMIT)]
    if len(pieces) > RICH_TEXT_MAX_ITEMS:
        pieces = pieces[:RICH_TEXT_MAX_ITEMS]
        pieces[-1] = pieces[-1][: RICH_TEXT_LIMIT - 1] + "…"
    return [{"type": "text", "text": {"content": piece}} for piece in pieces]


def call_properties(
    *,
    title: str,
    start_iso: str | None,
    lead_name: str,
    lead_email: str,
    recording_url: str,
    fireflies_url: str,
    summary: str,
    matched_by: str,
) -> dict[str, Any]:
    return {
        PROP_TITLE: {"title": chunk_rich_text(title or "Untitled call")[:1]},
        PROP_DATE: {"date": {"start": start_iso} if start_iso else None},
        PROP_LEAD: {"rich_text": chunk_rich_text(lead_name)},
        PROP_EMAIL: {"email": lead_email or None},
        PROP_RECORDING: {"url": recording_url or None},
        PROP_FIREFLIES: {"url": fireflies_url or None},
        PROP_SUMMARY: {"rich_text": chunk_rich_text(summary)},
        PROP_MATCH: {"rich_text": chunk_rich_text(matched_by)},
    }


def _translate(exc: Exception) -> NotionError:
    if isinstance(exc, RequestTimeoutError):
        return NotionError("Notion did not answer in time.", retryable=True, code="timeout")
    if isinstance(exc, APIResponseError):
        code = exc.code.value if isinstance(exc.code, APIErrorCode) else str(exc.code)
        message = f"Notion refused the row ({exc.status} {code}): {exc}"[:1000]
        retryable = code in {
            APIErrorCode.RateLimited.value,
            APIErrorCode.ConflictError.value,
            APIErrorCode.InternalServerError.value,
            APIErrorCode.ServiceUnavailable.value,
            APIErrorCode.GatewayTimeout.value,
        }
        return NotionError(message, retryable=retryable, code=code, status=exc.status)
    if isinstance(exc, HTTPResponseError):
        return NotionError(
            f"Notion answered HTTP {exc.status}.", retryable=exc.status >= 500, code="http", status=exc.status
        )
    return NotionError(f"Could not reach Notion ({type(exc).__name__}).", retryable=True, code="network")


def page_upsert(*, page_id: str, properties: dict[str, Any]) -> str:
    """Create the row (no `page_id`) or update it in place. Returns the page id."""
    client = _client()
    try:
        if page_id:
            result = client.pages.update(page_id=page_id, properties=properties)
        else:
            result = client.pages.create(
                parent={"type": "database_id", "database_id": settings.NOTION_CALLS_DATABASE_ID},
                properties=properties,
            )
    except Exception as exc:
        error = _translate(exc)
        logger.warning("notion.page_failed", extra={"code": error.code, "status": error.status})
        raise error from exc
    finally:
        client.close()
    # The SDK types answers as sync-or-async; the sync Client always returns the decoded JSON.
    return str(cast(dict[str, Any], result)["id"])


def page_archive(*, page_id: str) -> None:
    """Move the page to Notion's trash (`in_trash`, API 2025-09-03). A page already gone is fine."""
    client = _client()
    try:
        client.pages.update(page_id=page_id, in_trash=True)
    except Exception as exc:
        error = _translate(exc)
        if error.status == 404:
            return
        logger.warning("notion.archive_failed", extra={"code": error.code, "status": error.status})
        raise error from exc
    finally:
        client.close()
