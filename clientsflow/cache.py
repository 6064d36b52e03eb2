"""The board's cache versions: one for the whole board (`board_version_bump`), one per column
(`board_stages_bump`), and one per lead for what other apps show on its card (`board_cards_bump`).

Fragments are cached under the current version, so a bump invalidates them all at once for every
web process sharing the cache; the fragments' own TTL (at most 60 s) heals a missed bump.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction

BOARD_VERSION_KEY = "board:version"
BOARD_FRAGMENT_TTL_SECONDS = 60


def _fresh_version() -> int:
    """A board version no earlier cache held: the microseconds since the epoch. A version counted
    up from 1 again after the cache was emptied (or Redis restarted) would name fragments built
    before, which a process's own copies (`LocalFragments`) may still hold."""
    return time.time_ns() // 1000


def board_version() -> int:
    version = cache.get(BOARD_VERSION_KEY)
    if version is None:
        cache.add(BOARD_VERSION_KEY, _fresh_version(), timeout=None)
        version = cache.get(BOARD_VERSION_KEY, 1)
    return int(version)


def _bump() -> None:
    try:
        cache.incr(BOARD_VERSION_KEY)
    except ValueError:
        # Key missing (evicted, or a fresh cache): any new value differs from what was cached.
        cache.add(BOARD_VERSION_KEY, _fresh_version(), timeout=None)


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


@dataclass(frozen=True)
class BoardVersions:
    board: int  # everything on the board (`board_version_bump`)
    stages: dict[str, int]  # each column (`board_stages_bump`, `board_cards_bump`)


def board_versions(stages: list[str]) -> BoardVersions:
    """The board's and each of these columns' versions, in one cache round trip (what a board
    render reads first; each `cache.get` is a round trip to Redis)."""
    found = cache.get_many([BOARD_VERSION_KEY, *(_stage_key(stage) for stage in stages)])
    version = found.get(BOARD_VERSION_KEY)
    if version is None:
        version = board_version()  # first read on a fresh cache (or after an eviction): set it
    return BoardVersions(
        board=int(version),
        stages={stage: int(found.get(_stage_key(stage), 1)) for stage in stages},
    )


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


# --- Per-lead versions ----------------------------------------------------------------------------
# Another app's change that shows on one lead's card only (a task added, a draft approved, a call
# booked) bumps that lead's version and its column's (`leads.services.board_cache` reads which column
# after the commit): the board re-renders that card and that column's shell around its other cards,
# still cached, instead of every card on the board. A lead's version only has to outlive the
# entries made under it (at most 60 s), so it expires.
LEAD_VERSION_TTL_SECONDS = 24 * 3600


def _lead_key(lead_id: int) -> str:
    return f"board:lead:{lead_id}:version"


def board_lead_versions(lead_ids: list[int]) -> dict[int, int]:
    """Each lead's version, in one cache round trip (1 for a lead never bumped)."""
    found = cache.get_many([_lead_key(lead_id) for lead_id in lead_ids])
    return {lead_id: int(found.get(_lead_key(lead_id), 1)) for lead_id in lead_ids}


def board_cards_bump(lead_ids: frozenset[int], stages: frozenset[str]) -> None:
    """Invalidate these leads' cards and these columns NOW: call it once the change committed
    (`leads.services.board_cache.board_cards_changed` does)."""
    for lead_id in lead_ids:
        try:
            cache.incr(_lead_key(lead_id))
        except ValueError:
            cache.add(_lead_key(lead_id), 2, timeout=LEAD_VERSION_TTL_SECONDS)
    _bump_stages(stages)


# --- This process's copy of the board's fragments ------------------------------------------------
# Every key a board fragment is cached under carries the versions it was built under (or, for a
# card's HTML, the address of its content), and the versions are read from the shared cache at the
# start of each render: so an entry under such a key is the same in every process, and a process
# may keep its own copy and skip reading it back from Redis (the columns a render did not touch are
# most of the board's bytes). A copy lives no longer than the shared entry would: until the time
# to live it was written with, from when this process built it; a copy of another process's entry,
# whose remaining time is unknown here, for LOCAL_READ_TTL_SECONDS more. The board's version starts
# from a number never used before (`_fresh_version`), so an emptied or restarted cache never brings
# old keys back while copies made under them are alive.
LOCAL_READ_TTL_SECONDS = 10
LOCAL_MAX_ENTRIES = 2048


class LocalFragments:
    """A bounded, expiring in-process layer over the shared cache, for version-keyed fragments."""

    def __init__(self, max_entries: int = LOCAL_MAX_ENTRIES) -> None:
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The entries under these keys: this process's copies, then one read of the shared cache
        for the rest (none when every key is here)."""
        if _in_process():
            return cache.get_many(keys)
        now = time.monotonic()
        found: dict[str, Any] = {}
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is None:
                    continue
                if entry[0] <= now:
                    del self._entries[key]
                    continue
                self._entries.move_to_end(key)
                found[key] = entry[1]
        missing = [key for key in keys if key not in found]
        if missing:
            shared = cache.get_many(missing)
            self._keep(shared, LOCAL_READ_TTL_SECONDS, now)
            found.update(shared)
        return found

    def set_many(self, values: dict[str, Any], timeout: int) -> None:
        """Write to the shared cache (one round trip) and keep a copy here."""
        if values:
            cache.set_many(values, timeout)
            if not _in_process():
                self._keep(values, timeout, time.monotonic())

    def _keep(self, values: dict[str, Any], ttl: float, now: float) -> None:
        with self._lock:
            for key, value in values.items():
                self._entries[key] = (now + ttl, value)
                self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _in_process() -> bool:
    """The cache is this process's memory already (the embedded default): no copy to keep."""
    return isinstance(caches["default"], LocMemCache)


board_fragments = LocalFragments()
