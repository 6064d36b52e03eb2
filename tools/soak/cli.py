"""The run: start the stack, seed, drive the load, check the books; and the command line."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tools.soak.books import (
    check_books,
    count_sent,
    ledger,
    mail_books,
    percentile,
    wait_for_drain,
    wait_for_sends,
)
from tools.soak.load import drive
from tools.soak.plan import DEFAULT_DATABASE_URL
from tools.soak.seed import django_setup, seed
from tools.soak.stack import (
    SmtpSink,
    Stack,
    clear_redis,
    create_database,
    drop_database,
    free_port,
    private_redis_url,
    run_inside,
    soak_environment,
    start_stack,
    wait_healthy,
)

DESCRIPTION = "make soak: the production shape under load on loopback, then a check of the books."


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def soak(
    *,
    seconds: float,
    max_requests: int,
    database_url: str,
    redis_url: str,
    keep_logs: bool = False,
    min_requests: int = 0,
    template_database: str = "",
) -> dict[str, Any]:
    """`seconds` of load; longer (up to two minutes more) until `min_requests` were answered.

    `template_database`, on the same server, already migrated and with nobody connected, is
    copied instead of migrating an empty database (the suite's own test database)."""
    tmp = Path(tempfile.mkdtemp(prefix="cf-soak-"))
    sink = SmtpSink()
    env = soak_environment(database_url=database_url, redis_url=redis_url, tmp=tmp, email_url=sink.url)
    stack = Stack()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with ExitStack() as cleanup:
        copied = create_database(database_url, env["SOAK_DB_NAME"], template=template_database)
        cleanup.callback(drop_database, database_url, env["SOAK_DB_NAME"])
        cleanup.callback(clear_redis, redis_url, env["CACHE_KEY_PREFIX"], env["CELERY_QUEUE"])
        if not keep_logs:
            cleanup.callback(shutil.rmtree, tmp, True)
        sink.start()
        cleanup.callback(sink.stop)
        cleanup.callback(stack.stop_all)
        if not copied:
            run_inside(env, "manage.py", "migrate", "--noinput", "-v", "0")
        seeded = json.loads(run_inside(env, "-m", "tools.soak", "_seed").strip().splitlines()[-1])
        start_stack(stack, env, tmp, port)
        wait_healthy(base, stack)
        books, elapsed = drive(base, env, seeded, seconds, max_requests, min_requests)
        sent_during_load = count_sent(env)
        left = wait_for_drain(env, timeout=90)
        sends_waiting = wait_for_sends(env, timeout=90)
        time.sleep(1)  # let the sink finish the last DATA it acknowledged
        db = json.loads(run_inside(env, "-m", "tools.soak", "_check").strip().splitlines()[-1])
        crashed = [name for name, proc in stack.procs.items() if proc.poll() is not None]
        mail = mail_books(seeded, sink.received(), db)
        mail["sent_during_load"] = sent_during_load
        mail["waiting_after_drain"] = sends_waiting
        invariants = check_books(books, db, left, mail)
        invariants["processes_stayed_up"] = not crashed
        endpoints = {
            endpoint: {
                "requests": len(samples),
                "rps": round(len(samples) / elapsed, 1),
                "p50_ms": percentile(samples, 0.50),
                "p95_ms": percentile(samples, 0.95),
                "p99_ms": percentile(samples, 0.99),
                "status": {str(k): v for k, v in sorted(books.statuses[endpoint].items())},
            }
            for endpoint, samples in sorted(books.samples.items())
        }
        return {
            "soak": "ok" if all(invariants.values()) else "FAILED",
            "seconds": round(elapsed, 1),
            "requests": sum(len(s) for s in books.samples.values()),
            "endpoints": endpoints,
            "errors_by_status": dict(
                sorted(Counter({str(s): n for c in books.statuses.values() for s, n in c.items() if s >= 400}).items())
            ),
            "transport_errors": dict(books.transport_errors),
            "accepted": {k: len(v) for k, v in books.accepted.items()},
            "replays_answered_duplicate": dict(books.replayed),
            "bad_signatures_sent": sum(len(v) for v in books.unsigned.values()),
            "bookings": {"succeeded": sum(books.booked_slots.values()), "race_slots": len(seeded["slots"])},
            "payments_paid": db["payments_paid"],
            "messages_sent": db["messages_sent"],
            "outbound": mail,
            "unprocessed_after_drain": left,
            "invariants": invariants,
            "machine": machine(),
            "logs": str(tmp) if keep_logs else "",
        }
    raise AssertionError("unreachable")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in ("_seed", "_check"):
        django_setup()
        print(json.dumps(seed() if sys.argv[1] == "_seed" else ledger()))
        return 0
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=DESCRIPTION)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 60)))
    parser.add_argument("--max-requests", type=int, default=int(os.environ.get("SOAK_MAX_REQUESTS", 50000)))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=os.environ.get("SOAK_REDIS_URL") or private_redis_url())
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs in a temp directory")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("soak: needs PostgreSQL (DATABASE_URL=postgres://...)")
    result = soak(
        seconds=args.seconds,
        max_requests=args.max_requests,
        database_url=args.database_url,
        redis_url=args.redis_url,
        keep_logs=args.keep_logs,
    )
    print(json.dumps(result, separators=(",", ":")))
    return 0 if result["soak"] == "ok" else 1
