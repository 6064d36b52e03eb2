"""The board's cache versions: one for the whole board (`board_version_bump`), one per column
(`board_stages_bump`).

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


# --- Per-column versions -------------------------------------------------------------------------
# A change to leads in one stage (a card moved, a lead arrived, a lead seen or edited) bumps the
# versions of the columns it touched, so the board re-renders those columns and keeps the others.
# `board_version_bump` above still invalidates every column at once (what other apps' badges need).


def _stage_key(stage: str) -> str:
    return f"board:stage:{stage}:version"


def board_stage_versions(stages: list[str]) -> dict[str, int]:
    """The current version of each column, in one cache round trip (1 for a column never bumped)."""
    found = cache.get_many([_stage_key(stage) for stage in stages])
    return {stage: int(found.get(_stage_key(stage), 1)) for stage in stages}


def board_versions(stages: list[str]) -> tuple[int, dict[str, int]]:
    """The board's version and each of these columns' versions, in one cache round trip (what a
    board render reads first; each `cache.get` is a round trip to Redis)."""
    found = cache.get_many([BOARD_VERSION_KEY, *(_stage_key(stage) for stage in stages)])
    version = found.get(BOARD_VERSION_KEY)
    if version is None:
        version = board_version()  # first read on a fresh cache (or after an eviction): set it
    return int(version), {stage: int(found.get(_stage_key(stage), 1)) for stage in stages}


def _bump_stages(stages: frozenset[str]) -> None:
    for stage in stages:
        try:
            cache.incr(_stage_key(stage))
        except ValueError:
            # Missing (never bumped, evicted): start above the default of 1 that readers assumed.
            cache.add(_stage_key(stage), 2, timeout=None)


def board_stages_bump(*stages: str) -> None:
    """Invalidate these columns once the current transaction commits (at once outside one)."""
    touched = frozenset(stage for stage in stages if stage)
    if touched:
        transaction.on_commit(lambda: _bump_stages(touched))
