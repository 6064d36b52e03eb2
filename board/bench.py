"""`make bench` figures for the owner's board and its search, each size on its own fresh database
of exactly that many leads: 10,000 and 100,000 (1,000,000 too with BENCH_FULL=1; 1,000 with
--quick).

Figures, each the median of several renders, server time through the view:
- `cold_ms`: the board right after a write (a card moved between two columns through the stage
  service, as happens all day): the counts, the recency bar and the two touched columns are fresh
  (the moved card re-rendered, the other cards from their cache), the other columns cached;
- `cold_new_ms`: right after a new lead arrived through `lead_intake` (its column and card fresh);
- `cold_badge_ms`: right after another app's change on one card (a task added to a lead on the
  board): that card re-rendered, the column shells around the other cards, still cached;
- `cold_all_ms`: after a change that invalidates every column and card (`board_version_bump`);
- `warm_ms`: nothing changed since the last render;
- `search_ms`: `lead_search("smith")` (ranked), `search_typo_ms` for "jonh", and
  `search_board_ms` for the board filtered by "smith".

Leads are made with one INSERT ... SELECT per chunk (the database triggers keep the counts and
the search index as they would for any insert), arriving one a minute back from now, so a million
leads span two years and the last week always holds 10,080 of them.
"""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_htmx.middleware import HtmxDetails

from board import views
from clientsflow.benchdb import peak_rss_mb, scratch_database
from clientsflow.cache import board_version_bump
from leads.models import Lead, Stage
from leads.selectors import lead_search
from leads.services.counters import lead_counts_rebuild
from leads.services.intake import LeadData, lead_intake
from leads.services.stages import lead_move_stage
from leads.services.tasks import task_add

# Stage shares (out of 100) of a pipeline, and the leads' names, cycled by row number.
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
SOURCES = ("website", "ghl", "referral", "import")
FIRST_NAMES = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Chris",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Donald",
    "Kimberly",
    "Steven",
    "Emily",
    "Paul",
    "Donna",
    "Andrew",
    "Michelle",
    "Joshua",
    "Carol",
    "Kenneth",
    "Amanda",
    "Kevin",
    "Melissa",
    "Brian",
    "Deborah",
    "George",
    "Stephanie",
    "Timothy",
    "Rebecca",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
]
CHUNK = 50_000


def _values(name: str, rows: list[tuple[int, str]]) -> str:
    """A CTE of constant rows (our own constants, never input), the same SQL on both databases."""
    return f"{name} AS (VALUES {', '.join(f'({k}, {text!r})' for k, text in rows)})"


# On an empty PostgreSQL table (a bench's fresh database), the secondary indexes are dropped, the
# rows inserted and the indexes built once over them: building a B-tree or a trigram GIN index
# from sorted rows is several times faster than growing it a row at a time (a million leads:
# minutes instead of a quarter of an hour). The constraints' own indexes (primary key, public_id)
# stay. The indexes come back from their own definitions (`pg_indexes.indexdef`), as the
# migrations made them.
PG_CHUNK = 250_000


def _drop_secondary_indexes(cursor: Any) -> list[tuple[str, str]]:
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = current_schema() AND i.tablename = 'leads_lead'
          AND NOT EXISTS (
            SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass
          )
        ORDER BY i.indexname
        """
    )
    indexes = [(name, definition) for name, definition in cursor.fetchall()]
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return indexes


def seed_leads(total: int, *, log: Callable[[str], Any] = lambda _m: None) -> None:
    """Insert `total` leads (row numbers 0..total-1, newest first) in chunks of INSERT ... SELECT."""
    stages = [stage.value for stage, weight in STAGE_WEIGHTS for _ in range(weight)]
    postgres = connection.vendor == "postgresql"
    # On PostgreSQL outside a transaction, one recount at the end instead of a trigger call per
    # row (inside one, e.g. a test, the table cannot be altered with inserts pending).
    recount = postgres and not connection.in_atomic_block
    ctes = [
        _values("stages(k, stage)", list(enumerate(stages))),
        _values("firsts(k, first)", list(enumerate(FIRST_NAMES))),
        _values("lasts(k, last)", list(enumerate(LAST_NAMES))),
    ]
    if postgres:
        seq = "seq(i) AS (SELECT generate_series(%s, %s - 1))"
        uuid = "md5(i::text)::uuid"
        created = "now() - i * interval '1 minute'"
        digits = "lpad(i::text, 7, '0')"
    else:
        seq = "seq(i) AS (SELECT %s UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < %s)"
        uuid = "printf('%%032x', i)"
        created = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-' || i || ' minutes')"
        digits = "printf('%%07d', i)"
    sql = f"""
        WITH RECURSIVE {seq}, {", ".join(ctes)}
        INSERT INTO leads_lead (public_id, name, email, email_normalized, phone, phone_e164, company, source,
            external_ids, stage, lost_reason, owner_edited_fields, value_currency, seen_at, created_at, updated_at)
        SELECT {uuid}, first || ' ' || last, lower(first || '.' || last || i || '@example.com'),
            lower(first || '.' || last || i || '@example.com'), '', '+1555' || {digits}, last || ' Ltd',
            CASE i %% 4 WHEN 0 THEN 'website' WHEN 1 THEN 'ghl' WHEN 2 THEN 'referral' ELSE 'import' END,
            '{{}}', stage, '', '[]', '', CASE WHEN i %% 3 = 0 THEN NULL ELSE {created} END, {created}, {created}
        FROM seq
        JOIN stages ON stages.k = i %% {len(stages)}
        JOIN firsts ON firsts.k = i %% {len(FIRST_NAMES)}
        JOIN lasts ON lasts.k = (i / {len(FIRST_NAMES)}) %% {len(LAST_NAMES)}
    """
    if postgres:
        sql = sql.replace("WITH RECURSIVE", "WITH")
    with connection.cursor() as cursor:
        rebuilt: list[tuple[str, str]] = []
        if recount:
            cursor.execute("ALTER TABLE leads_lead DISABLE TRIGGER leads_lead_count")
            cursor.execute("SELECT 1 FROM leads_lead LIMIT 1")
            if cursor.fetchone() is None:
                rebuilt = _drop_secondary_indexes(cursor)
        chunk = PG_CHUNK if rebuilt else CHUNK
        for start in range(0, total, chunk):
            cursor.execute(sql, [start, min(start + chunk, total)])
            log(f"bench: seeded {min(start + chunk, total)} of {total} leads")
        if rebuilt:
            log(f"bench: building {len(rebuilt)} indexes on leads_lead")
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _name, definition in rebuilt:
                cursor.execute(definition)
            cursor.execute("RESET maintenance_work_mem")
        if recount:
            cursor.execute("ALTER TABLE leads_lead ENABLE TRIGGER leads_lead_count")
    if recount:
        lead_counts_rebuild()
    with connection.cursor() as cursor:
        # VACUUM too on PostgreSQL: it merges the trigram indexes' pending lists (GIN fastupdate),
        # which every search would otherwise read through, as autovacuum does on a live database.
        cursor.execute(("VACUUM ANALYZE leads_lead" if recount else "ANALYZE leads_lead") if postgres else "ANALYZE")


# The CPU time (this process: Python and SQLite) of the last `_median_ms` of each call: on a
# shared machine, wall time also counts the waits for other processes' turns on the cores.
_CPU_MS: dict[Any, float] = {}


def _median_ms(call: Callable[[], Any], *, repeats: int, before: Callable[[], Any] | None = None) -> tuple[float, int]:
    """Median milliseconds of `call()` (after `before()` each time, untimed) and its query count."""
    timings: list[float] = []
    cpu_timings: list[float] = []
    queries = 0
    call()  # warm up imports and template loading
    for _ in range(repeats):
        if before is not None:
            before()
        with CaptureQueriesContext(connection) as ctx:
            started, cpu_started = time.perf_counter(), time.process_time()
            response = call()
            timings.append((time.perf_counter() - started) * 1000)
            cpu_timings.append((time.process_time() - cpu_started) * 1000)
        if getattr(response, "status_code", 200) != 200:
            raise RuntimeError(f"board bench: the view answered {response.status_code}")
        queries = len(ctx.captured_queries)
    _CPU_MS[call] = round(statistics.median(cpu_timings), 1)
    return round(statistics.median(timings), 1), queries


def _measure(size: int, repeats: int, log: Callable[[str], Any], *, browser: bool = False) -> dict[str, Any]:
    seeded_at = time.perf_counter()
    seed_leads(size, log=log)
    seed_seconds = round(time.perf_counter() - seeded_at, 1)
    assert Lead.objects.count() == size, "the board bench must run on exactly the stated number of leads"
    user, _ = get_user_model().objects.get_or_create(
        username="bench-owner", defaults={"is_staff": True, "is_superuser": True}
    )
    factory = RequestFactory()

    def board(path: str = "/board/", htmx: bool = False) -> Any:
        headers = {"HX-Request": "true", "HX-Target": "board-body"} if htmx else {}
        request = factory.get(path, headers=headers)
        request.user = user
        request.htmx = HtmxDetails(request)  # type: ignore[attr-defined]  # django-htmx's middleware sets it
        return views.board(request)

    mover = Lead.objects.filter(stage=Stage.NEW).order_by("-created_at").first()
    assert mover is not None

    def move_a_card() -> None:
        # new <-> nurture: a real write through the stage service (history, audit, counters),
        # committed (autocommit), so exactly two columns' versions are bumped.
        lead_move_stage(lead=mover, to_stage=Stage.NURTURE if mover.stage == Stage.NEW else Stage.NEW)

    arrivals = itertools.count()

    def a_lead_arrives() -> None:
        n = next(arrivals)
        lead_intake(data=LeadData.build(name=f"Nora Arrival{n}", email=f"arrival{n}@example.net"), source="website")

    cold_ms, cold_queries = _median_ms(board, repeats=repeats, before=move_a_card)
    cpu = {"cold_cpu_ms": _CPU_MS[board]}
    cold_new_ms, cold_new_queries = _median_ms(board, repeats=repeats, before=a_lead_arrives)
    cpu["cold_new_cpu_ms"] = _CPU_MS[board]
    badged = Lead.objects.filter(stage=Stage.CONTACTED).order_by("-created_at").first()
    assert badged is not None

    def a_badge_changes() -> None:
        task_add(lead=badged, title="Send the quote", due_at=timezone.now() + timedelta(days=1))

    cold_badge_ms, cold_badge_queries = _median_ms(board, repeats=repeats, before=a_badge_changes)
    cpu["cold_badge_cpu_ms"] = _CPU_MS[board]
    cold_all_ms, cold_all_queries = _median_ms(board, repeats=repeats, before=board_version_bump)
    cpu["cold_all_cpu_ms"] = _CPU_MS[board]
    warm_ms, warm_queries = _median_ms(board, repeats=repeats)
    cpu["warm_cpu_ms"] = _CPU_MS[board]
    search_ms, _ = _median_ms(lambda: lead_search("smith"), repeats=repeats)
    typo_ms, _ = _median_ms(lambda: lead_search("jonh"), repeats=repeats)
    search_board_ms, _ = _median_ms(
        lambda: board("/board/?q=smith", htmx=True), repeats=repeats, before=board_version_bump
    )
    return {
        "leads": size,
        "seed_seconds": seed_seconds,
        "cold_ms": cold_ms,
        "cold_queries": cold_queries,
        "cold_new_ms": cold_new_ms,
        "cold_new_queries": cold_new_queries,
        "cold_badge_ms": cold_badge_ms,
        "cold_badge_queries": cold_badge_queries,
        "cold_all_ms": cold_all_ms,
        "cold_all_queries": cold_all_queries,
        "warm_ms": warm_ms,
        "warm_queries": warm_queries,
        "search_ms": search_ms,
        "search_typo_ms": typo_ms,
        "search_board_ms": search_board_ms,
        "smith_matches": len(lead_search("smith", limit=1000)),
        **cpu,
        **({"browser": browser_load_ms(user, repeats=repeats, move=move_a_card)} if browser else {}),
        "peak_rss_mb": peak_rss_mb(),
    }


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BROWSER_SIZE = 100_000  # the size at which the board's `load` event is measured (the largest with --quick)


def browser_load_ms(user: Any, *, repeats: int, move: Callable[[], Any]) -> dict[str, Any]:
    """The board's `load` event in headless Chromium (navigation start to loadEventEnd, median),
    cold (a card moved before each load), cold_all (every column invalidated) and warm, from a
    live server on this database; skipped when chromium is not installed."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return {"skipped": "chromium is not installed (apt-get install -y chromium)"}
    from django.test import Client
    from django.test.testcases import LiveServerThread, _StaticFilesHandler
    from playwright.sync_api import sync_playwright

    server = LiveServerThread("127.0.0.1", _StaticFilesHandler, connections_override={}, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API keeps an event loop here
    figures: dict[str, Any] = {"unit": "ms, navigation start to the load event (median)"}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_cookies([{"name": "sessionid", "value": session, "url": f"http://127.0.0.1:{server.port}"}])
            page = context.new_page()
            url = f"http://127.0.0.1:{server.port}/board/"
            first = page.goto(url, wait_until="load")  # static files cached, as for a returning owner
            if (
                first is None
                or first.status != 200
                or not page.url.startswith(url)
                or not page.query_selector("#columns")
            ):
                raise RuntimeError(f"board bench: the browser did not get the board ({page.url})")
            figures["html_bytes"] = len(first.body())
            figures["html_encoding"] = first.headers.get("content-encoding", "identity")
            for name, before in (
                ("cold_load_ms", move),
                ("cold_all_load_ms", board_version_bump),
                ("warm_load_ms", None),
            ):
                timings = []
                for _ in range(repeats):
                    if before is not None:
                        before()
                    page.goto(url, wait_until="load")
                    timings.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
                figures[name] = round(statistics.median(timings), 1)
            figures["html_bytes_on_wire"] = page.evaluate("performance.getEntriesByType('navigation')[0].transferSize")
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
        server.terminate()
    return figures


def board_sizes(quick: bool) -> list[int]:
    if quick:
        return [1_000]
    return [10_000, 100_000, *([1_000_000] if os.environ.get("BENCH_FULL") == "1" else [])]


def board_bench(quick: bool, log: Callable[[str], Any], sizes: list[int] | None = None) -> dict[str, Any]:
    """Each size on its own fresh database (the bench command leaves this section's to it)."""
    repeats = 5 if quick else 9
    figures: dict[str, Any] = {"repeats": repeats, "unit": "ms (median, server time through the view)"}
    chosen = sizes or board_sizes(quick)
    in_browser = BROWSER_SIZE if BROWSER_SIZE in chosen else max(chosen)
    for size in chosen:
        with scratch_database():
            figures[f"leads_{size}"] = _measure(size, repeats, log, browser=size == in_browser)
        log(f"bench: board at {size} leads: {figures[f'leads_{size}']}")
    sized = [figures[f"leads_{size}"] for size in sizes or board_sizes(quick)]
    if len(sized) > 1:
        figures["cold_growth"] = round(sized[-1]["cold_ms"] / max(sized[0]["cold_ms"], 0.1), 2)
    return figures
