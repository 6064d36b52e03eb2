"""Meeting routing: when someone joins a meeting, decide whether Fireflies should record it.

Rules (MEETING_ROUTING_RULE):
- `record_all` (default): ask Fireflies to join every meeting.
- `external_only`: ask only when a participant's domain is not in MEETING_INTERNAL_DOMAINS.
Fireflies is asked at most once per meeting link (its add-to-live mutation allows 3 requests per
20 minutes). Every delivery records a `MeetingRoutingDecision`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from calls.clients import fireflies
from calls.models import MeetingRoutingDecision
from calls.services.matching import normalize_meeting_link
from clientsflow.errors import InvalidInput

logger = logging.getLogger(__name__)

RULE_RECORD_ALL = "record_all"
RULE_EXTERNAL_ONLY = "external_only"
RULES = (RULE_RECORD_ALL, RULE_EXTERNAL_ONLY)


@dataclass(frozen=True)
class ParticipantJoined:
    meeting_link: str
    title: str
    participant_emails: list[str]


def parse_participant_joined(payload: dict[str, Any]) -> ParticipantJoined:
    """Validate the webhook body; raises InvalidInput with what to fix."""
    link = payload.get("meeting_link") or payload.get("meetingLink")
    if not isinstance(link, str) or urlsplit(link.strip()).scheme not in ("http", "https") or len(link) > 1000:
        raise InvalidInput("'meeting_link' must be the meeting's http(s) URL.")
    title = payload.get("title") or ""
    if not isinstance(title, str):
        raise InvalidInput("'title' must be text.")
    listed = payload.get("participants") or []
    if not isinstance(listed, list):
        raise InvalidInput("'participants' must be a list of emails or objects with an 'email'.")
    people = []
    for entry in [payload.get("participant"), *listed]:
        if entry is None:
            continue
        email = entry.get("email") if isinstance(entry, dict) else entry
        if not isinstance(email, str):
            raise InvalidInput("Each participant must be an email or an object with an 'email'.")
        email = email.strip().lower()
        if email and "@" in email and email not in people:
            people.append(email)
    return ParticipantJoined(meeting_link=link.strip(), title=title.strip()[:256], participant_emails=people)


def _decide(joined: ParticipantJoined, rule: str) -> tuple[bool, str]:
    if rule == RULE_EXTERNAL_ONLY:
        internal = set(settings.MEETING_INTERNAL_DOMAINS)
        external = [e for e in joined.participant_emails if e.rsplit("@", 1)[-1] not in internal]
        if not external:
            return False, "Only internal participants so far (rule: external participants only)."
        return True, f"External participant present: {external[0].rsplit('@', 1)[-1]} (rule: external only)."
    return True, "Rule: record every meeting."


def meeting_route(*, joined: ParticipantJoined, webhook_event: Any = None) -> MeetingRoutingDecision:
    rule = settings.MEETING_ROUTING_RULE if settings.MEETING_ROUTING_RULE in RULES else RULE_RECORD_ALL
    record, reason = _decide(joined, rule)
    decision = MeetingRoutingDecision.Decision.SKIPPED
    error = ""
    if record:
        link = normalize_meeting_link(joined.meeting_link)
        asked_before = any(
            normalize_meeting_link(previous) == link
            for previous in MeetingRoutingDecision.objects.filter(
                decision__in=[
                    MeetingRoutingDecision.Decision.REQUESTED,
                    MeetingRoutingDecision.Decision.ALREADY_REQUESTED,
                ],
                meeting_link__icontains=link.rsplit("/", 1)[-1],
            ).values_list("meeting_link", flat=True)
        )
        if asked_before:
            decision = MeetingRoutingDecision.Decision.ALREADY_REQUESTED
        elif not fireflies.enabled():
            decision = MeetingRoutingDecision.Decision.LOCAL
            reason += " Fireflies is not configured (set FIREFLIES_API_KEY), so it was not asked."
        else:
            try:
                ok = fireflies.add_to_live_meeting(meeting_link=joined.meeting_link, title=joined.title)
            except fireflies.FirefliesError as exc:
                decision, error = MeetingRoutingDecision.Decision.FAILED, str(exc)[:2000]
            else:
                if ok:
                    decision = MeetingRoutingDecision.Decision.REQUESTED
                else:
                    decision, error = MeetingRoutingDecision.Decision.FAILED, "Fireflies answered success: false."
    row = MeetingRoutingDecision.objects.create(
        webhook_event=webhook_event,
        meeting_link=joined.meeting_link,
        title=joined.title,
        participant_emails=joined.participant_emails,
        rule=rule,
        decision=decision,
        reason=reason[:500],
        error=error,
    )
    logger.info("meeting.routed", extra={"decision": decision, "rule": rule, "routing_id": row.pk})
    return row
