"""Google Calendar v3 through google-api-python-client: the only module importing Google's SDK.

A service account with domain-wide delegation acts as the host (`GOOGLE_DELEGATED_USER`), so the
event sits in the host's calendar and Google mails the invite (`sendUpdates="all"`). Idempotency:
the event id and the Meet `createRequest.requestId` are both derived from the booking, so a retry
after a lost response finds the first event (409 -> get) instead of making a second one.
Docs: https://developers.google.com/calendar/api/v3/reference/events/insert and
https://developers.google.com/calendar/api/guides/create-events#conferencing

Errors become ours: `CalendarRefused` (the account or request is not allowed: unauthorized_client,
forbiddenForServiceAccounts, quota, other 4xx) and `CalendarUnavailable` (5xx / rate limits /
network, still failing after the retries). Local mode (no service account configured): `enabled()`
is False and nobody calls this module; invites go out as ICS email only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import google_auth_httplib2
import httplib2
from django.conf import settings
from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account
from googleapiclient import discovery, discovery_cache
from googleapiclient.errors import HttpError

logger = logging.getLogger(__name__)

SCOPES = ["https://www.googleapis.com/auth/calendar"]
RETRYABLE_STATUS = {500, 502, 503, 504}
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "usageLimits", "calendarUsageLimitsExceeded"}


class CalendarError(Exception):
    """A Calendar call failed; `str()` is a short reason fit for the admin and the board."""

    def __init__(self, reason: str, *, code: str = "", status: int | None = None):
        super().__init__(reason)
        self.code = code
        self.status = status
        self.retry_after: float | None = None  # seconds Google asked us to wait, when it said


class CalendarRefused(CalendarError):
    """Google will not do this until someone changes a setting (or waits for quota)."""


class CalendarUnavailable(CalendarError):
    """Google kept failing (5xx, rate limits, network) after our retries."""


@dataclass(frozen=True)
class CalendarEvent:
    event_id: str
    meet_url: str
    html_link: str
    created: bool


def enabled() -> bool:
    return bool(settings.GOOGLE_SERVICE_ACCOUNT_FILE and settings.GOOGLE_DELEGATED_USER)


def _reason_of(error: HttpError) -> str:
    try:
        payload = json.loads(error.content.decode("utf-8", "replace"))
        errors = payload.get("error", {}).get("errors") or []
        if errors:
            return str(errors[0].get("reason", ""))
        return str(payload.get("error", {}).get("status", ""))
    except (ValueError, AttributeError):
        return ""


def _http_error_message(error: HttpError) -> str:
    try:
        payload = json.loads(error.content.decode("utf-8", "replace"))
        return str(payload.get("error", {}).get("message", ""))[:300]
    except (ValueError, AttributeError):
        return ""


def _meet_url(event: dict[str, Any]) -> str:
    if event.get("hangoutLink"):
        return str(event["hangoutLink"])
    for entry in (event.get("conferenceData") or {}).get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return ""


def _to_event(event: dict[str, Any], *, created: bool) -> CalendarEvent:
    return CalendarEvent(
        event_id=str(event.get("id", "")),
        meet_url=_meet_url(event),
        html_link=str(event.get("htmlLink", "")),
        created=created,
    )


class GoogleCalendarClient:
    def __init__(
        self,
        credentials: service_account.Credentials,
        *,
        http: Any = None,
        retries: int | None = None,
        backoff_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        timeout = settings.BOOKING_GOOGLE_TIMEOUT_SECONDS
        authed = google_auth_httplib2.AuthorizedHttp(credentials, http=http or httplib2.Http(timeout=timeout))
        # The discovery document bundled with the library: no network fetch at start-up.
        document = discovery_cache.get_static_doc("calendar", "v3")
        self.service = discovery.build_from_document(document, http=authed)
        self.retries = settings.BOOKING_GOOGLE_RETRIES if retries is None else retries
        self.backoff_seconds = settings.BOOKING_GOOGLE_BACKOFF_SECONDS if backoff_seconds is None else backoff_seconds
        self.sleep = sleep

    @classmethod
    def from_service_account_info(cls, info: dict[str, Any], *, subject: str, **kwargs: Any) -> GoogleCalendarClient:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES, subject=subject)
        return cls(credentials, **kwargs)

    @classmethod
    def from_settings(cls) -> GoogleCalendarClient:
        credentials = service_account.Credentials.from_service_account_file(
            settings.GOOGLE_SERVICE_ACCOUNT_FILE, scopes=SCOPES, subject=settings.GOOGLE_DELEGATED_USER
        )
        return cls(credentials)

    # --- the calls ---------------------------------------------------------------------------

    def event_create(
        self, *, calendar_id: str, event_id: str, request_id: str, body: dict[str, Any], send_updates: str = "all"
    ) -> CalendarEvent:
        payload = {
            **body,
            "id": event_id,
            "conferenceData": {
                "createRequest": {"requestId": request_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}
            },
        }
        try:
            event = self._execute(
                lambda: self.service.events().insert(
                    calendarId=calendar_id, body=payload, conferenceDataVersion=1, sendUpdates=send_updates
                ),
                what="insert",
            )
            return _to_event(event, created=True)
        except CalendarRefused as exc:
            if exc.status != 409:
                raise
        # 409: an earlier attempt did create it (its response was lost); use that one.
        event = self._execute(
            lambda: self.service.events().get(calendarId=calendar_id, eventId=event_id), what="get_after_conflict"
        )
        return _to_event(event, created=False)

    def event_update(
        self, *, calendar_id: str, event_id: str, body: dict[str, Any], send_updates: str = "all"
    ) -> CalendarEvent:
        event = self._execute(
            lambda: self.service.events().patch(
                calendarId=calendar_id,
                eventId=event_id,
                body=body,
                conferenceDataVersion=1,
                sendUpdates=send_updates,
            ),
            what="patch",
        )
        return _to_event(event, created=False)

    def event_cancel(self, *, calendar_id: str, event_id: str, send_updates: str = "all") -> None:
        """Delete the event. `send_updates="none"` deletes it without Google mailing the guests."""
        try:
            self._execute(
                lambda: self.service.events().delete(
                    calendarId=calendar_id, eventId=event_id, sendUpdates=send_updates
                ),
                what="delete",
            )
        except CalendarRefused as exc:
            if exc.status not in (404, 410):  # already gone is what we wanted
                raise

    def busy_times(
        self, *, calendar_id: str, time_min: datetime, time_max: datetime
    ) -> list[tuple[datetime, datetime]]:
        result = self._execute(
            lambda: self.service.freebusy().query(
                body={
                    "timeMin": time_min.isoformat(),
                    "timeMax": time_max.isoformat(),
                    "items": [{"id": calendar_id}],
                }
            ),
            what="freebusy",
        )
        calendar = (result.get("calendars") or {}).get(calendar_id) or {}
        if calendar.get("errors"):
            raise CalendarRefused(f"Google could not read the calendar: {calendar['errors'][0].get('reason', '')}")
        return [
            (
                datetime.fromisoformat(b["start"].replace("Z", "+00:00")),
                datetime.fromisoformat(b["end"].replace("Z", "+00:00")),
            )
            for b in calendar.get("busy") or []
        ]

    # --- retries and error translation -------------------------------------------------------

    def _execute(self, make_request: Callable[[], Any], *, what: str) -> dict[str, Any]:
        attempt = 0
        while True:
            attempt += 1
            try:
                return make_request().execute() or {}
            except HttpError as exc:
                error = self._translate_http(exc)
            except auth_exceptions.RefreshError as exc:
                error = self._translate_refresh(exc)
            except auth_exceptions.TransportError as exc:
                error = CalendarUnavailable(f"Could not reach Google ({type(exc).__name__}).", code="transport")
            except (OSError, httplib2.HttpLib2Error) as exc:
                error = CalendarUnavailable(f"Could not reach Google ({type(exc).__name__}).", code="network")
            logger.warning(
                "google_calendar.error",
                extra={"call": what, "code": error.code, "status": error.status, "attempt": attempt},
            )
            if isinstance(error, CalendarRefused) or attempt > self.retries:
                raise error
            self.sleep(error.retry_after or self.backoff_seconds * 2 ** (attempt - 1))

    @staticmethod
    def _translate_http(exc: HttpError) -> CalendarError:
        status = int(exc.resp.status)
        reason = _reason_of(exc)
        message = _http_error_message(exc)
        if status in RETRYABLE_STATUS or status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
            error: CalendarError = CalendarUnavailable(
                f"Google Calendar is failing or rate-limiting (HTTP {status} {reason}).".replace(" )", ")"),
                code=reason or f"http_{status}",
                status=status,
            )
            retry_after = exc.resp.get("retry-after")
            if retry_after and str(retry_after).isdigit():
                error.retry_after = min(float(retry_after), 30.0)
            return error
        if reason == "forbiddenForServiceAccounts":
            text = (
                "Google refused: service accounts cannot invite attendees without domain-wide delegation. "
                "Grant the service account delegation in the Workspace admin console and set GOOGLE_DELEGATED_USER."
            )
        elif reason in QUOTA_REASONS:
            text = f"Google Calendar quota exhausted ({reason}); invites resume when the quota resets."
        else:
            text = f"Google refused the request (HTTP {status} {reason}): {message}".strip()
        return CalendarRefused(text, code=reason or f"http_{status}", status=status)

    @staticmethod
    def _translate_refresh(exc: auth_exceptions.RefreshError) -> CalendarError:
        details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        code = str(details.get("error", "")) or "token_refresh"
        if getattr(exc, "retryable", False):
            return CalendarUnavailable("Google's token service is failing; will retry.", code=code)
        if code == "unauthorized_client":
            text = (
                "Google refused the service account (unauthorized_client): domain-wide delegation is not granted "
                "for the Calendar scope. Add the client id with https://www.googleapis.com/auth/calendar in the "
                "Workspace admin console."
            )
        else:
            text = f"Google refused the service account's credentials ({code})."
        return CalendarRefused(text, code=code)
