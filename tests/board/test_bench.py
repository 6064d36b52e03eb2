"""`manage.py bench`: the board section runs on a fresh database of exactly the stated size and
ends with one JSON object on the last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from board.bench import seed_leads
from leads.models import Lead
from leads.selectors import lead_counts

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_seeding_makes_exactly_the_stated_number_of_leads_with_counts_and_search():
    seed_leads(1234)
    assert Lead.objects.count() == 1234
    assert sum(lead_counts().values()) == 1234
    assert Lead.objects.filter(name__endswith=" Smith").count() == 50  # rows 0-49; the next Smiths from 5000


def test_bench_quick_prints_one_json_object_on_its_last_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCH_FULL")}
    env["CLIENTSFLOW_VAR_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "bench", "--only", "board", "--quick", "--sizes", "300,600"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["quick"] is True
    board = figures["board"]
    assert board["repeats"] == 5  # --quick: fewer repeats, the same figures
    assert board["leads_300"]["leads"] == 300 and board["leads_600"]["leads"] == 600
    for size in ("leads_300", "leads_600"):
        assert board[size]["cold_ms"] > 0 and board[size]["warm_ms"] > 0
        assert board[size]["search_ms"] > 0 and board[size]["peak_rss_mb"] > 0
    # The same number of queries whatever the size.
    assert board["leads_300"]["cold_queries"] == board["leads_600"]["cold_queries"]
    assert "cold_growth" in board and figures["peak_rss_mb"] > 0
    # Each size's scratch database is gone afterwards, its -wal and -shm files with it.
    assert sorted(path.name for path in tmp_path.glob("bench-*")) == []
