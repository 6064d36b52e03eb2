"""The Slack digest of calls that need a person: unmatched calls and failed Notion rows.

Each call is announced once per problem; the "needs you" panel and board badges show them
whatever Slack does (see calls/attention.py).
"""

from __future__ import annotations

import logging

from django.utils import timezone

from calls import selectors
from calls.models import Call
from clientsflow.clients import slack

logger = logging.getLogger(__name__)

DIGEST_LIMIT = 20


def _line(call: Call) -> str:
    when = call.started_at.strftime("%Y-%m-%d %H:%M UTC") if call.started_at else "date unknown"
    return f"• {call.title or call.fireflies_id} ({when})"


def calls_alert_digest(*, admin_base_url: str = "") -> dict[str, int]:
    """Post one Slack message listing what is new since the last digest. Raises SlackError on failure."""
    unmatched = list(selectors.calls_unmatched_unalerted()[:DIGEST_LIMIT])
    failed = list(selectors.calls_sync_failed_unalerted()[:DIGEST_LIMIT])
    if not unmatched and not failed:
        return {"unmatched": 0, "failed": 0}
    if not slack.enabled():
        return {"unmatched": len(unmatched), "failed": len(failed), "skipped": 1}
    lines = ["*ClientsFlow: sales calls need you*"]
    if unmatched:
        lines.append(f"{len(unmatched)} call(s) not matched to a lead. Confirm the lead in the admin:")
        lines += [_line(c) for c in unmatched]
        lines.append(f"{admin_base_url}/admin/calls/call/?match_method__exact=unmatched")
    if failed:
        lines.append(f"{len(failed)} call(s) could not be written to Notion. Check the error and sync again:")
        lines += [f"{_line(c)}: {c.notion_error[:120]}" for c in failed]
        lines.append(f"{admin_base_url}/admin/calls/call/?notion_status__exact=failed")
    slack.slack_post(text="\n".join(lines))
    now = timezone.now()
    Call.objects.filter(pk__in=[c.pk for c in unmatched]).update(unmatched_alerted_at=now)
    Call.objects.filter(pk__in=[c.pk for c in failed]).update(sync_failure_alerted_at=now)
    logger.info("calls.digest_sent", extra={"unmatched": len(unmatched), "failed": len(failed)})
    return {"unmatched": len(unmatched), "failed": len(failed)}
