"""What a board card can carry besides the lead: badges and actions.

Plain values, so each app's batch selector (`outreach.selectors.outbound_badges(lead_ids)`,
`bookings.selectors.booking_card_actions(lead_ids)`, ...) can build them without knowing the
board; the board (`board/selectors.py`) calls those selectors by name and renders the result.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str = "info"  # info | warn | danger | good
    title: str = ""


@dataclass(frozen=True)
class CardConfirm:
    """Ask before acting, with a required reason, and update the card at once (static/board/board.js).

    With JavaScript the board opens a dialog (`prompt`, a `reason_label` field, `confirm_label` and
    `keep_label` buttons), then POSTs `reason` (and `next`) to the action's URL with
    `Accept: application/json`; while it saves, the card's badge labelled `badge` (if any) reads
    `busy_label`. The URL answers `{"ok": true, "message": ...}` or a 4xx `{"ok": false, "error": ...}`,
    which rolls the card back; on success the board fetches the card afresh from its own URL.
    Without JavaScript the action stays a plain "get" link, so its URL must also serve a
    confirmation page on GET.
    """

    prompt: str
    reason_label: str = "Reason"
    confirm_label: str = "Confirm"
    keep_label: str = "Keep it"
    busy_label: str = "Saving…"
    badge: str = ""
    detail: str = ""


@dataclass
class CardAction:
    """A per-card action another app offers (e.g. "Cancel call" on booked cards).

    `method="post"` renders a small form (CSRF included) posting to `url`; "get" renders a link.
    A "get" action with `confirm` is done in place on the board (see CardConfirm).
    """

    label: str
    url: str
    method: str = "post"
    tone: str = "info"
    title: str = ""
    confirm: CardConfirm | None = None
    permission: str = ""  # shown only to users with it, e.g. "bookings.change_booking"
