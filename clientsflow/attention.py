"""What waits for a human: the "needs you" panel and the badges on board cards.

Each app registers its own items from its `attention.py` (imported by autodiscovery), so the
board never imports other apps' models:

    register_needs_you("drafts", "Drafts awaiting approval", url="/admin/outreach/outboundmessage/?status__exact=draft",
                       count=lambda: OutboundMessage.objects.filter(status="draft").count())

    register_card_badges("drafts", lambda lead_ids: {lead_id: [Badge("Awaiting approval", "warn")], ...})

A badge provider receives the ids of every card on the page and must answer with one query, so
a board render costs the same number of queries whatever the number of leads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.module_loading import autodiscover_modules


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str = "info"  # info | warn | danger | good
    title: str = ""


@dataclass(frozen=True)
class NeedsYouItem:
    key: str
    label: str
    url: str
    count: Callable[[], int]
    order: int = 100


@dataclass(frozen=True)
class NeedsYouCount:
    key: str
    label: str
    url: str
    count: int


BadgeProvider = Callable[[list[int]], dict[int, list[Badge]]]

_NEEDS_YOU: dict[str, NeedsYouItem] = {}
_BADGES: dict[str, BadgeProvider] = {}
_discovered = False


def _discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("attention")
        _discovered = True


def register_needs_you(key: str, label: str, *, url: str, count: Callable[[], int], order: int = 100) -> None:
    _NEEDS_YOU[key] = NeedsYouItem(key=key, label=label, url=url, count=count, order=order)


def register_card_badges(key: str, provider: BadgeProvider) -> None:
    _BADGES[key] = provider


def needs_you_counts() -> list[NeedsYouCount]:
    _discover()
    items = sorted(_NEEDS_YOU.values(), key=lambda item: (item.order, item.key))
    return [NeedsYouCount(key=i.key, label=i.label, url=i.url, count=i.count()) for i in items]


def badges_for(lead_ids: Iterable[int]) -> dict[int, list[Badge]]:
    _discover()
    ids = list(lead_ids)
    result: dict[int, list[Badge]] = {lead_id: [] for lead_id in ids}
    if not ids:
        return result
    for key in sorted(_BADGES):
        for lead_id, badges in _BADGES[key](ids).items():
            result.setdefault(lead_id, []).extend(badges)
    return result
