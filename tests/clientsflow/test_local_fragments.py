"""`clientsflow.cache.LocalFragments`: a process's own copies of version-keyed board fragments,
which never outlive the shared entry's time to live and never come back under a reused version."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from clientsflow import cache as board_cache
from clientsflow.cache import LOCAL_READ_TTL_SECONDS, LocalFragments, board_version


@pytest.fixture
def shared_cache_elsewhere(monkeypatch):
    """As with Redis: the shared cache is not this process's memory, so copies are kept here.
    Counts the reads that reach the shared cache."""
    monkeypatch.setattr(board_cache, "_in_process", lambda: False)
    reads: list[list[str]] = []
    real_get_many = cache.get_many

    def counting_get_many(keys, *args, **kwargs):
        reads.append(list(keys))
        return real_get_many(keys, *args, **kwargs)

    monkeypatch.setattr(cache, "get_many", counting_get_many)
    return reads


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(board_cache.time, "monotonic", lambda: now[0])
    return now


def test_what_this_process_wrote_is_read_back_without_the_shared_cache(shared_cache_elsewhere, clock):
    local = LocalFragments()
    local.set_many({"board:v1:col-new": ("<li>a</li>", [])}, 60)

    assert local.get_many(["board:v1:col-new"]) == {"board:v1:col-new": ("<li>a</li>", [])}
    assert shared_cache_elsewhere == []
    assert cache.get("board:v1:col-new") == ("<li>a</li>", [])  # and other processes find it too


def test_only_the_keys_missing_here_are_read_from_the_shared_cache(shared_cache_elsewhere, clock):
    local = LocalFragments()
    local.set_many({"a": 1}, 60)
    cache.set("b", 2, 60)  # written by another process

    assert local.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    assert shared_cache_elsewhere == [["b", "c"]]


def test_a_copy_lives_no_longer_than_the_time_to_live_it_was_written_with(shared_cache_elsewhere, clock):
    local = LocalFragments()
    local.set_many({"a": 1}, 60)
    cache.delete("a")  # the shared entry gone (expired, evicted)

    clock[0] += 59
    assert local.get_many(["a"]) == {"a": 1}
    clock[0] += 2
    assert local.get_many(["a"]) == {}


def test_a_copy_of_another_process_entry_is_kept_briefly(shared_cache_elsewhere, clock):
    local = LocalFragments()
    cache.set("b", 2, 60)
    assert local.get_many(["b"]) == {"b": 2}
    cache.delete("b")

    clock[0] += LOCAL_READ_TTL_SECONDS - 1
    assert local.get_many(["b"]) == {"b": 2}
    clock[0] += 2
    assert local.get_many(["b"]) == {}


def test_copies_are_bounded(shared_cache_elsewhere, clock):
    local = LocalFragments(max_entries=3)
    local.set_many({f"k{n}": n for n in range(5)}, 60)
    cache.delete_many([f"k{n}" for n in range(5)])  # only this process's copies can answer

    assert local.get_many([f"k{n}" for n in range(5)]) == {"k2": 2, "k3": 3, "k4": 4}


def test_an_emptied_cache_never_brings_an_earlier_board_version_back():
    """Copies are keyed by the board's version: after the shared cache is emptied (or Redis
    restarts) the version must not count up from where an earlier one did."""
    before = board_version()
    cache.clear()
    assert board_version() != before
