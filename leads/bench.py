"""`make bench` sections for leads: webhook intake throughput and CSV import speed.

Both run in the bench command's scratch database. Duplicates are mixed in on purpose (another
case of the email, another format of the phone number) so the figures include dedup.
"""

from __future__ import annotations

import csv
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import current_app
from django.test import Client, override_settings

from clientsflow.signatures import hmac_sha256_hex
from leads.models import Lead
from leads.services.importer import lead_import_csv

BENCH_SECRET = "bench-secret-not-used-anywhere-else"  # noqa: S105 (a throwaway for the scratch run)
DUPLICATE_SHARE = 0.2


def _phone_formats(area: int, line: int) -> list[str]:
    """One US number written four ways: the webhook and the import must treat them as one."""
    return [
        f"+1 ({area}) 555-{line:04d}",
        f"{area}.555.{line:04d}",
        f"({area}) 555 {line:04d}",
        f"+1{area}555{line:04d}",
    ]


def _identity(i: int, kind: str = "hook") -> dict[str, Any]:
    """Lead number `i` of one bench section; sections never share an email or a phone number."""
    area = (200 if kind == "hook" else 300) + i // 10000
    return {"name": f"Bench Lead {i}", "email": f"{kind}.lead{i}@bench{i % 97}.example", "area": area}


def _duplicate_payload(rng: random.Random, i: int) -> dict[str, str]:
    """A re-send of identity `i`: the same email in another case, or only the phone in another format."""
    ident = _identity(i)
    if rng.random() < 0.5:
        return {"name": ident["name"], "email": ident["email"].upper(), "company": "Second Touch LLC"}
    return {"name": ident["name"], "phone": rng.choice(_phone_formats(ident["area"], i % 10000))}


def _max_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)  # bytes on macOS, KiB on Linux


def intake_bench(quick: bool, log: Callable[[str], Any]) -> dict[str, Any]:
    """Leads per second through `POST /webhooks/leads/<source>/`, with the task run in-process."""
    requests = 300 if quick else 3000
    rng = random.Random(7)
    client = Client()
    uniques = 0
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    leads_before = Lead.objects.count()
    was_eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True  # the figure includes processing, as in the embedded default
    try:
        with override_settings(LEAD_WEBHOOK_SECRET=BENCH_SECRET, ALLOWED_HOSTS=["testserver"]):
            started = time.perf_counter()
            for n in range(requests):
                if uniques and rng.random() < DUPLICATE_SHARE:
                    payload = _duplicate_payload(rng, rng.randrange(uniques))
                else:
                    ident = _identity(uniques)
                    payload = {
                        "name": ident["name"],
                        "email": ident["email"],
                        "phone": _phone_formats(ident["area"], uniques % 10000)[0],
                        "company": f"Bench Co {uniques % 500}",
                    }
                    uniques += 1
                body = json.dumps({"id": f"bench-{n}", **payload}).encode()
                sent = time.perf_counter()
                response = client.post(
                    "/webhooks/leads/website/",
                    data=body,
                    content_type="application/json",
                    headers={"X-Signature": f"sha256={hmac_sha256_hex(BENCH_SECRET, body)}"},
                )
                latencies.append(time.perf_counter() - sent)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            elapsed = time.perf_counter() - started
    finally:
        current_app.conf.task_always_eager = was_eager
    created = Lead.objects.count() - leads_before
    latencies.sort()
    figures = {
        "requests": requests,
        "duplicate_share": DUPLICATE_SHARE,
        "seconds": round(elapsed, 2),
        "leads_per_s": round(requests / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
        "leads_created": created,
        "dedup_correct": created == uniques,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }
    log(f"intake: {figures['leads_per_s']} leads/s, {created} leads from {requests} deliveries")
    return figures


def write_bench_csv(path: Path, rows: int, *, seed: int = 11) -> None:
    """A CSV like a CRM export: ~5% duplicates in another format, ~1% rows that must be rejected."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        # Plain csv on purpose: this is the importer's own input, made up here, never opened by a
        # person, and defusing would turn its `+1 ...` phone numbers into other values.
        writer = csv.writer(handle)
        writer.writerow(["First Name", "Last Name", "Email Address", "Phone Number", "Company", "Contact ID", "Notes"])
        made = 0
        for n in range(rows):
            roll = rng.random()
            if roll < 0.01:
                writer.writerow(["No", "Contact", "", "", "Nowhere Inc", f"x{n}", ""])
                continue
            if made and roll < 0.06:
                i = rng.randrange(made)
                ident = _identity(i, "csv")
                phone = rng.choice(_phone_formats(ident["area"], i % 10000))
                writer.writerow(
                    ["Bench", f"Lead {i}", ident["email"].upper(), phone, f"Bench Co {i % 500}", "", "again"]
                )
                continue
            ident = _identity(made, "csv")
            phone = _phone_formats(ident["area"], made % 10000)[0]
            writer.writerow(["Bench", f"Lead {made}", ident["email"], phone, f"Bench Co {made % 500}", f"c{made}", ""])
            made += 1


def import_bench(quick: bool, log: Callable[[str], Any]) -> dict[str, Any]:
    """CSV import rows per second (100,000 rows; 2,000 with --quick), then the same file again."""
    rows = 2000 if quick else 100_000
    with tempfile.TemporaryDirectory(prefix="cf-bench-") as tmp:
        path = Path(tmp) / "leads.csv"
        write_bench_csv(path, rows)
        started = time.perf_counter()
        first = lead_import_csv(path=path)
        first_seconds = time.perf_counter() - started
        log(f"import: {rows} rows in {first_seconds:.1f}s ({first.line()})")
        started = time.perf_counter()
        again = lead_import_csv(path=path)
        again_seconds = time.perf_counter() - started
        log(f"import again: {again_seconds:.1f}s ({again.line()})")
    return {
        "rows": rows,
        "seconds": round(first_seconds, 2),
        "rows_per_s": round(rows / first_seconds, 1),
        "created": first.created,
        "enriched": first.enriched,
        "unchanged": first.unchanged,
        "rejected": first.rejected,
        "rerun_seconds": round(again_seconds, 2),
        "rerun_rows_per_s": round(rows / again_seconds, 1),
        "rerun_created": again.created,
        "rerun_enriched": again.enriched,
        "peak_rss_mb": _max_rss_mb(),
    }
