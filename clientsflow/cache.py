"""The board's cache version: every mutating service bumps it through `board_version_bump`.

Fragments are cached under the current version, so a bump invalidates them all at once for every
web process sharing the cache; the fragments' own TTL (at most 60 s) heals a missed bump.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction

BOARD_VERSION_KEY = "board:version"
BOARD_FRAGMENT_TTL_SECONDS = 60


def board_version() -> int:
    version = cache.get(BOARD_VERSION_KEY)
    if version is None:
        cache.add(BOARD_VERSION_KEY, 1, timeout=None)
        version = cache.get(BOARD_VERSION_KEY, 1)
    return int(version)


def _bump() -> None:
    try:
        cache.incr(BOARD_VERSION_KEY)
    except ValueError:
        # Key missing (evicted, or a fresh cache): any new value differs from what was cached.
        cache.add(BOARD_VERSION_KEY, 2, timeout=None)


def board_version_bump() -> None:
    """Invalidate board fragments once the current transaction commits (at once outside one)."""
    transaction.on_commit(_bump)
