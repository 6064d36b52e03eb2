"""`make bench` figures for the owner's board: server time of a full board render and of a
"load more", at 10,000 and 100,000 leads (1,000 with --quick), and their query counts.

Runs in the bench command's scratch database. Leads are made here with bulk_create (not through
the demo seeder), spread over the stages like a real pipeline.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django_htmx.middleware import HtmxDetails

from board import views
from board.selectors import board_columns
from clientsflow.cache import board_version_bump
from leads.models import Lead, Stage
from leads.selectors import BoardFilters

STAGE_WEIGHTS = [
    (Stage.NEW, 30),
    (Stage.CONTACTED, 20),
    (Stage.REPLIED, 10),
    (Stage.BOOKED, 8),
    (Stage.CALL_DONE, 5),
    (Stage.PROPOSAL_SENT, 5),
    (Stage.SIGNED, 3),
    (Stage.PAID, 4),
    (Stage.NURTURE, 7),
    (Stage.LOST, 8),
]
_STAGE_CYCLE = [stage for stage, weight in STAGE_WEIGHTS for _ in range(weight)]
SOURCES = ("website", "ghl", "referral", "import")


def _grow_to(total: int, log: Callable[[str], Any]) -> None:
    have = Lead.objects.filter(email_normalized__startswith="bench").count()
    batch = []
    for i in range(have, total):
        email = f"bench{i}@example.com"
        batch.append(
            Lead(
                name=f"Bench Lead {i}",
                email=email,
                email_normalized=email,
                company=f"Company {i % 997}",
                source=SOURCES[i % len(SOURCES)],
                stage=_STAGE_CYCLE[i % len(_STAGE_CYCLE)],
            )
        )
        if len(batch) == 5000:
            Lead.objects.bulk_create(batch)
            batch = []
    if batch:
        Lead.objects.bulk_create(batch)
    log(f"bench: board at {total} leads")


def _time_view(call: Callable[[], Any], *, repeats: int, uncached: bool) -> tuple[float, int]:
    """Median milliseconds of `call()` and its query count (of the last run)."""
    timings = []
    queries = 0
    call()  # warm up imports and template loading
    for _ in range(repeats):
        if uncached:
            board_version_bump()  # outside a transaction: every fragment is stale at once
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = call()
            timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"board bench: the view answered {response.status_code}")
        queries = len(ctx.captured_queries)
    return round(statistics.median(timings), 1), queries


def board_bench(quick: bool, log: Callable[[str], Any]) -> dict[str, Any]:
    user, _ = get_user_model().objects.get_or_create(username="bench-owner", defaults={"is_staff": True})
    factory = RequestFactory()

    def request(path: str, *, htmx: bool = False) -> Any:
        headers = {"HX-Request": "true", "HX-Target": "board-body"} if htmx else {}
        req = factory.get(path, headers=headers)
        req.user = user
        req.htmx = HtmxDetails(req)  # type: ignore[attr-defined]  # django-htmx's middleware sets it on real requests
        return req

    sizes = [1_000] if quick else [10_000, 100_000]
    repeats = 5 if quick else 7
    figures: dict[str, Any] = {"repeats": repeats, "unit": "ms (median, server time)"}
    for size in sizes:
        _grow_to(size, log)
        cursor = board_columns(BoardFilters(stage=Stage.NEW))[0].next_cursor
        load_more_path = f"/board/column/{Stage.NEW}/?after={cursor}"
        full_ms, full_queries = _time_view(lambda: views.board(request("/board/")), repeats=repeats, uncached=True)
        cached_ms, cached_queries = _time_view(lambda: views.board(request("/board/")), repeats=repeats, uncached=False)
        search_ms, _ = _time_view(
            lambda: views.board(request("/board/?q=lead+42", htmx=True)), repeats=repeats, uncached=True
        )

        def load_more(path: str = load_more_path) -> Any:
            return views.board_column(request(path, htmx=True), stage=Stage.NEW)

        more_ms, more_queries = _time_view(
            load_more,
            repeats=repeats,
            uncached=True,
        )
        figures[f"leads_{size}"] = {
            "full_board_ms": full_ms,
            "full_board_queries": full_queries,
            "full_board_cached_ms": cached_ms,
            "full_board_cached_queries": cached_queries,
            "search_partial_ms": search_ms,
            "load_more_ms": more_ms,
            "load_more_queries": more_queries,
        }
    return figures
