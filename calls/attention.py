"""What calls put in front of the owner: needs-you counts and a card badge."""

from __future__ import annotations

from calls import selectors
from clientsflow.attention import Badge, register_card_badges, register_needs_you
from clientsflow.integrations import register_integration

# Fireflies failing for a while (5xx, 429, unreachable): the calls waiting for a transcript.
register_integration("fireflies", "Fireflies", url="/admin/calls/call/?status__exact=pending")
register_integration("notion", "Notion", url="/admin/calls/call/?notion_status__exact=retrying")

register_needs_you(
    "calls_unmatched",
    "Calls to match to a lead",
    url="/admin/calls/call/?match_method__exact=unmatched&status__exact=fetched",
    count=lambda: selectors.calls_unmatched().count(),
    order=40,
)
register_needs_you(
    "calls_notion_failed",
    "Calls not written to Notion",
    url="/admin/calls/call/?notion_status__exact=failed",
    count=lambda: selectors.calls_sync_failed().count(),
    order=41,
)


def _failed_sync_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    return {
        lead_id: [Badge("Call not in Notion", "danger", "The call row could not be written to Notion; see Calls.")]
        for lead_id in selectors.lead_ids_with_failed_call_sync(lead_ids)
    }


register_card_badges("calls_notion_failed", _failed_sync_badges)
