"""Fireflies GraphQL API (httpx): transcripts and the add-to-live-meeting mutation.

The only module that talks to Fireflies. Local mode: no `FIREFLIES_API_KEY` -> `enabled()` is False
and callers skip fetching (webhooks are still stored, so nothing is lost once a key is set).

API reference: https://docs.fireflies.ai/graphql-api/query/transcript,
https://docs.fireflies.ai/schema/transcript (`date` is epoch milliseconds, UTC; `duration` minutes),
https://docs.fireflies.ai/graphql-api/mutation/add-to-live, https://docs.fireflies.ai/fundamentals/errors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

TRANSCRIPT_QUERY = """
query Transcript($transcriptId: String!) {
  transcript(id: $transcriptId) {
    id
    title
    date
    duration
    organizer_email
    participants
    meeting_attendees { displayName email name }
    transcript_url
    audio_url
    video_url
    meeting_link
    calendar_id
    cal_id
    summary { overview short_summary action_items keywords }
    sentences { index speaker_name text start_time end_time }
  }
}
"""

TRANSCRIPTS_QUERY = """
query Transcripts($fromDate: DateTime, $toDate: DateTime, $limit: Int, $skip: Int) {
  transcripts(fromDate: $fromDate, toDate: $toDate, limit: $limit, skip: $skip) {
    id
    title
    date
  }
}
"""

ADD_TO_LIVE_MUTATION = """
mutation AddToLiveMeeting($meetingLink: String!, $title: String) {
  addToLiveMeeting(meeting_link: $meetingLink, title: $title) { success }
}
"""

# Fireflies answers at most 50 transcripts per `transcripts` page.
PAGE_SIZE = 50


class FirefliesError(Exception):
    """Fireflies could not be reached or refused the request."""


class FirefliesNotConfigured(FirefliesError):
    pass


class FirefliesRateLimited(FirefliesError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TranscriptNotReady(FirefliesError):
    """The meeting exists (or will) but its transcript is still being processed."""


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str


@dataclass(frozen=True)
class Transcript:
    id: str
    title: str
    started_at: datetime | None
    duration_seconds: int | None
    organizer_email: str
    participants: list[str]
    attendees: list[Attendee]
    transcript_url: str
    audio_url: str
    video_url: str
    meeting_link: str
    calendar_event_ids: list[str]
    summary: str
    transcript_text: str
    action_items: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TranscriptListItem:
    id: str
    title: str
    started_at: datetime | None


def enabled() -> bool:
    return bool(settings.FIREFLIES_API_KEY)


def epoch_ms_to_datetime(value: Any) -> datetime | None:
    """Fireflies' `date` (milliseconds since the epoch, UTC) as an aware UTC datetime."""
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _split_emails(values: Any) -> list[str]:
    # `participants` is documented as [String], but entries sometimes hold "a@x.com,b@y.com".
    emails: list[str] = []
    for value in values or []:
        for part in str(value).split(","):
            part = part.strip()
            if part and "@" in part and part.lower() not in emails:
                emails.append(part.lower())
    return emails


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value if v)
    return str(value)


def parse_transcript(data: dict[str, Any]) -> Transcript:
    summary = data.get("summary") or {}
    sentences = data.get("sentences") or []
    lines = []
    for sentence in sentences:
        speaker = (sentence.get("speaker_name") or "").strip()
        text = (sentence.get("text") or "").strip()
        if text:
            lines.append(f"{speaker}: {text}" if speaker else text)
    attendees = [
        Attendee(
            name=str(a.get("displayName") or a.get("name") or "").strip(),
            email=str(a.get("email") or "").strip().lower(),
        )
        for a in (data.get("meeting_attendees") or [])
        if isinstance(a, dict)
    ]
    duration = data.get("duration")
    calendar_ids = [str(v) for v in (data.get("calendar_id"), data.get("cal_id")) if v]
    return Transcript(
        id=str(data["id"]),
        title=_text(data.get("title"))[:500],
        started_at=epoch_ms_to_datetime(data.get("date")),
        duration_seconds=round(float(duration) * 60) if isinstance(duration, int | float) else None,
        organizer_email=_text(data.get("organizer_email")).strip().lower(),
        participants=_split_emails(data.get("participants")),
        attendees=attendees,
        transcript_url=_text(data.get("transcript_url")),
        audio_url=_text(data.get("audio_url")),
        video_url=_text(data.get("video_url")),
        meeting_link=_text(data.get("meeting_link")),
        calendar_event_ids=list(dict.fromkeys(calendar_ids)),
        summary=_text(summary.get("overview") or summary.get("short_summary")),
        transcript_text="\n".join(lines),
        action_items=[str(v) for v in (summary.get("action_items") or [])]
        if isinstance(summary.get("action_items"), list)
        else [line for line in _text(summary.get("action_items")).splitlines() if line.strip()],
    )


def _post(query: str, variables: dict[str, Any]) -> dict[str, Any]:
    if not enabled():
        raise FirefliesNotConfigured("Fireflies is not configured: set FIREFLIES_API_KEY.")
    try:
        response = httpx.post(
            settings.FIREFLIES_API_URL,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {settings.FIREFLIES_API_KEY}"},
            timeout=httpx.Timeout(settings.FIREFLIES_TIMEOUT_SECONDS, connect=5.0),
        )
    except httpx.HTTPError as exc:
        raise FirefliesError(f"Could not reach Fireflies ({type(exc).__name__}).") from exc
    if response.status_code == 429:
        raise FirefliesRateLimited("Fireflies rate limit reached.", _retry_after(response))
    try:
        payload = response.json()
    except ValueError:
        raise FirefliesError(f"Fireflies answered HTTP {response.status_code} without JSON.") from None
    errors = payload.get("errors") or []
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = first.get("code") or (first.get("extensions") or {}).get("code") or ""
        message = str(first.get("message") or "unknown error")[:300]
        if code == "too_many_requests":
            raise FirefliesRateLimited(f"Fireflies rate limit reached: {message}", _retry_after(response))
        if code == "object_not_found":
            # A transcript still being processed is not found yet.
            raise TranscriptNotReady(f"Fireflies has no transcript for this meeting yet ({message}).")
        raise FirefliesError(f"Fireflies refused the request: {message} ({code or response.status_code}).")
    if response.status_code >= 400:
        raise FirefliesError(f"Fireflies answered HTTP {response.status_code}.")
    return payload.get("data") or {}


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def fetch_transcript(meeting_id: str) -> Transcript:
    """The full transcript. Raises TranscriptNotReady while Fireflies is still processing it."""
    data = _post(TRANSCRIPT_QUERY, {"transcriptId": meeting_id})
    transcript = data.get("transcript")
    if not transcript:
        raise TranscriptNotReady("Fireflies has no transcript for this meeting yet.")
    if not transcript.get("sentences"):
        raise TranscriptNotReady("Fireflies has not finished transcribing this meeting yet.")
    logger.info("fireflies.transcript_fetched", extra={"fireflies_id": meeting_id})
    return parse_transcript(transcript)


def list_transcripts(*, since: datetime, until: datetime | None = None, skip: int = 0) -> list[TranscriptListItem]:
    """One page (newest first) of transcripts dated after `since`."""
    variables: dict[str, Any] = {"fromDate": since.astimezone(UTC).isoformat(), "limit": PAGE_SIZE, "skip": skip}
    if until is not None:
        variables["toDate"] = until.astimezone(UTC).isoformat()
    data = _post(TRANSCRIPTS_QUERY, variables)
    return [
        TranscriptListItem(
            id=str(item["id"]), title=_text(item.get("title")), started_at=epoch_ms_to_datetime(item.get("date"))
        )
        for item in (data.get("transcripts") or [])
        if isinstance(item, dict) and item.get("id")
    ]


def add_to_live_meeting(*, meeting_link: str, title: str = "") -> bool:
    variables: dict[str, Any] = {"meetingLink": meeting_link, "title": title[:256] or None}
    data = _post(ADD_TO_LIVE_MUTATION, variables)
    return bool((data.get("addToLiveMeeting") or {}).get("success"))
