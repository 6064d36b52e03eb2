"""Indexed search on name, email, company and phone: prefix and one-typo matching, ranked, the
same leads on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm); run with DATABASE_URL for the latter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from leads import selectors
from leads.db_triggers import search_triggers_present
from leads.models import PIPELINE_ORDER, Lead
from leads.selectors import CARDS_PER_COLUMN, BoardFilters, board_column_leads, board_summary, lead_search
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

PEOPLE = [
    ("John Smith", "john.smith@acme.test", "Acme", "+447700900001"),
    ("Jane Smithers", "jane@smithers.test", "Smithers & Co", "+447700900002"),
    ("Johnny Walker", "jw@walker.test", "Walker Ltd", "+447700900003"),
    ("Mary Jones", "mary@jones.test", "Jones Bakery", "+15550001111"),
    ("Ann Blacksmith", "ann@forge.test", "Forge", ""),
    ("Peter Pan", "peter@neverland.test", "", "+15550002222"),
]


@pytest.fixture
def people():
    return {
        name: LeadFactory(name=name, email=email, email_normalized=email, company=company, phone_e164=phone)
        for name, email, company, phone in PEOPLE
    }


def _names(q: str) -> list[str]:
    return [lead.name for lead in lead_search(q)]


def test_the_search_index_is_kept_after_all_migrations():
    # SQLite drops the FTS triggers if a later migration rebuilds leads_lead: this catches it.
    assert search_triggers_present(connection)


def test_prefix_and_substring_find_every_field(people):
    assert _names("smit") == ["John Smith", "Jane Smithers", "Ann Blacksmith"]
    assert _names("SMITHERS") == ["Jane Smithers"]
    assert _names("forge.test") == ["Ann Blacksmith"]
    assert _names("bakery") == ["Mary Jones"]
    assert _names("7700900003") == ["Johnny Walker"]
    assert _names("john smith") == ["John Smith"]  # every word must match


def test_one_typo_still_finds_the_person_ranked_best_first(people):
    # "jon" (one letter dropped) is in Jones too; the closer spelling ranks first.
    assert _names("jonh") == ["John Smith", "Mary Jones", "Johnny Walker"]
    assert _names("smiht") == ["John Smith", "Jane Smithers", "Ann Blacksmith"]
    assert _names("walkker") == ["Johnny Walker"]
    assert _names("zzzzqqq") == []


def test_edits_and_deletes_reach_the_index(people):
    Lead.objects.filter(pk=people["Peter Pan"].pk).update(name="Peter Quill")
    assert _names("quill") == ["Peter Quill"] and _names("pan") == []
    Lead.objects.filter(pk=people["Mary Jones"].pk).delete()
    assert _names("bakery") == []


def test_the_board_search_uses_it_and_counts_the_matches(people):
    assert sum(board_summary(BoardFilters(q="smit")).counts.values()) == 3
    assert sum(board_summary(BoardFilters(q="jonh")).counts.values()) == 3
    assert sum(board_summary(BoardFilters(q="jo")).counts.values()) == 3  # short: a plain match


@pytest.mark.parametrize("windows", [(2, 3), (1, 1), (100, 1000)])
def test_the_newest_matches_are_found_window_by_window(monkeypatch, windows):
    # PostgreSQL reads the trigram matches of the newest ids first and stops once it has enough:
    # whatever the windows, the same leads as ranking every match (SQLite ignores the windows).
    monkeypatch.setattr(selectors, "SEARCH_WINDOWS_PG", windows)
    monkeypatch.setattr(selectors, "SEARCH_CANDIDATES", 3)
    leads = [
        LeadFactory(
            name=f"Ann Smith{n}" if n % 3 == 0 else f"Bob Jones{n}",
            email=f"p{n}@x.test",
            email_normalized="",
            company="Co",
            phone_e164="",
        )
        for n in range(14)
    ]
    smiths = sorted((lead.pk for lead in leads if lead.name.startswith("Ann")), reverse=True)
    assert selectors._newest_matches([["smith"]]) == smiths[:3]
    assert selectors._newest_matches([["smith"], ["ann"]]) == smiths[:3]
    assert selectors._newest_matches([selectors._typo_variants("smiht")]) == smiths[:3]
    assert selectors._newest_matches([["smith0"]]) == [leads[0].pk]  # only the oldest: every window
    assert selectors._newest_matches([["nobody"]]) == []
    assert sorted(lead.pk for lead in lead_search("smith", limit=3)) == sorted(smiths[:3])


def _all_variants(word: str) -> set[str]:
    """Every one-typo variant of the word, none left out (what `_typo_variants` narrows)."""
    variants = {word}
    if len(word) > selectors.SEARCH_MIN_WORD:
        variants.update(word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1))
        variants.update(word[:i] + word[i + 1 :] for i in range(len(word)))
    return {v for v in variants if len(v) >= selectors.SEARCH_MIN_WORD}


@pytest.mark.parametrize("word", ["jonh", "smiht", "smith", "aaaa", "abab", "mississippi", "jo.n@x"])
def test_typo_variants_left_out_match_nothing_more(word):
    # The variants kept match exactly the texts every variant would: a field holds some variant
    # if and only if it holds one of those kept.
    kept = selectors._typo_variants(word)
    everything = _all_variants(word)
    assert set(kept) <= everything
    texts = {text for variant in everything for text in (variant, f"x{variant}y", variant[:-1], variant[1:])}
    texts |= {"john smith", "jon", "smth", "simth ltd", "", "mississipi"}
    for text in texts:
        assert any(v in text for v in kept) == any(v in text for v in everything), text


_STAGES = ["new", "contacted", "lost"]


def _seed_searchable(now, count: int, stage_of) -> None:
    """`count` leads, most matching "smith" and some "source", in the stages `stage_of(n)` gives,
    created out of id order and with ties on created_at."""
    for n in range(count):
        lead = LeadFactory(
            name=f"Ann Smith{n}" if n % 4 else f"Bob Jones{n}",
            email=f"p{n}@x.test",
            email_normalized="",
            company="Source Ltd" if n % 3 else "Co",
            phone_e164="",
            stage=stage_of(n),
        )
        Lead.objects.filter(pk=lead.pk).update(created_at=now - timedelta(minutes=(n * 7) % 13))


@pytest.mark.parametrize("q", ["smith", "smiht", "smith source", "jo"])
def test_the_board_under_a_search_shows_the_same_columns_from_the_counts_read(q):
    # On PostgreSQL the counts' one read of the matches also ranks each stage's newest ids; the
    # columns built from them must be those the columns' own query finds (ties on created_at, and
    # created_at out of id order, included). SQLite has no such read: the same assertion holds.
    now = timezone.now()
    _seed_searchable(now, 2 * CARDS_PER_COLUMN + 9, lambda n: _STAGES[n % 3] if n % 5 else "new")
    filters = BoardFilters(q=q)
    summary = board_summary(filters, now=now)
    fast = board_column_leads(filters, stages=list(PIPELINE_ORDER), now=now, newest_ids=summary.newest_ids)
    slow = board_column_leads(filters, stages=list(PIPELINE_ORDER), now=now)
    assert {s: [lead.pk for lead in leads] for s, leads in fast.items()} == {
        s: [lead.pk for lead in leads] for s, leads in slow.items()
    }
    assert sum(len(leads) for leads in slow.values()) > 0
    assert {s: len(leads) for s, leads in slow.items()} == {
        s: min(summary.counts[s], CARDS_PER_COLUMN + 1) for s in PIPELINE_ORDER
    }
    if connection.vendor == "postgresql":
        assert summary.newest_ids is not None


def _expected_columns(filters: BoardFilters, now, cap: int | None) -> tuple[dict, set, dict]:
    """What the board under a search shows, from the plain ORM (every match read): each stage's
    count (up to `cap` when given), the stages with more, and each stage's newest 21 ids."""
    matching = selectors.board_leads(filters, now=now)
    counts, capped, newest = {}, set(), {}
    for stage in PIPELINE_ORDER:
        exact = matching.filter(stage=stage).count()
        counts[stage] = exact if cap is None else min(exact, cap)
        if cap is not None and exact > cap:
            capped.add(stage)
        newest[stage] = list(
            matching.filter(stage=stage)
            .order_by("-created_at", "-id")
            .values_list("id", flat=True)[: CARDS_PER_COLUMN + 1]
        )
    return counts, capped, newest


@pytest.mark.parametrize("walk", [4000, 3])
@pytest.mark.parametrize("q", ["smith", "smiht", "smith source", "ann", "jo", "nobody"])
def test_the_board_under_a_search_counts_up_to_the_cap_and_shows_the_same_newest(monkeypatch, q, walk):
    # PostgreSQL counts each column's matches only up to SEARCH_COUNT_CAP (here 7, so most
    # columns have more) and takes a capped column's newest from its newest leads (or, when they
    # are not among the `walk` newest, from the index again): the counts are those of reading
    # every match, capped, and the cards the same (ties on created_at and created_at out of id
    # order included). SQLite counts every match.
    monkeypatch.setattr(selectors, "SEARCH_COUNT_CAP", 7)
    monkeypatch.setattr(selectors, "SEARCH_WALK_ROWS", walk)
    now = timezone.now()
    # A few paid: a stage under the cap beside capped ones.
    _seed_searchable(
        now, 3 * CARDS_PER_COLUMN + 17, lambda n: "paid" if n % 13 == 0 else (_STAGES[n % 3] if n % 5 else "new")
    )
    filters = BoardFilters(q=q)
    summary = board_summary(filters, now=now)
    postgres = connection.vendor == "postgresql"
    counts, capped, newest = _expected_columns(filters, now, 7 if postgres else None)
    assert summary.counts == counts
    assert set(summary.capped) == capped
    if postgres and q == "smith":
        assert {"new", "contacted"} <= capped and 0 < counts["paid"] < 7  # both kinds exercised
    shown = board_column_leads(filters, stages=list(PIPELINE_ORDER), now=now, newest_ids=summary.newest_ids)
    assert {s: [lead.pk for lead in leads] for s, leads in shown.items()} == newest
    own = board_column_leads(filters, stages=list(PIPELINE_ORDER), now=now)
    assert {s: [lead.pk for lead in leads] for s, leads in own.items()} == newest
