"""`make bench` sections for leads: webhook intake throughput and CSV import speed.

Both run in the bench command's scratch database. Duplicates are mixed in on purpose (another
case of the email, another format of the phone number) so the figures include dedup.
"""

from __future__ import annotations

import csv
import http.client
import json
import logging
import random
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import current_app
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import WSGIRequestHandler
from django.db import connections
from django.http import HttpResponseBase
from django.test import Client, RequestFactory, override_settings

from clientsflow.models import WebhookEvent
from clientsflow.signatures import hmac_sha256_hex
from clientsflow.webserver import PooledWSGIServer
from leads.models import Lead
from leads.services.importer import lead_import_csv
from leads.webhooks import lead_webhook

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


_AREA = {"hook": 200, "csv": 300, "stack": 500, "wsgi": 600, "thread": 700, "together": 800, "http": 900}


def _identity(i: int, kind: str = "hook") -> dict[str, Any]:
    """Lead number `i` of one bench section; sections never share an email or a phone number."""
    area = _AREA[kind] + i // 10000
    return {"name": f"Bench Lead {i}", "email": f"{kind}.lead{i}@bench{i % 97}.example", "area": area}


def _duplicate_payload(rng: random.Random, i: int, kind: str) -> dict[str, str]:
    """A re-send of identity `i`: the same email in another case, or only the phone in another format."""
    ident = _identity(i, kind)
    if rng.random() < 0.5:
        return {"name": ident["name"], "email": ident["email"].upper(), "company": "Second Touch LLC"}
    return {"name": ident["name"], "phone": rng.choice(_phone_formats(ident["area"], i % 10000))}


def _max_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)  # bytes on macOS, KiB on Linux


def _deliveries(requests: int, kind: str, resends: list[bool] | None = None) -> tuple[list[tuple[bytes, str]], int]:
    """Signed bodies (body, X-Signature) for `requests` deliveries, ~20% re-sends; and how many
    distinct people they describe. `resends`, when given, is filled with whether each is a re-send."""
    rng = random.Random(7)
    uniques = 0
    signed = []
    for n in range(requests):
        resend = bool(uniques and rng.random() < DUPLICATE_SHARE)
        if resends is not None:
            resends.append(resend)
        if resend:
            payload = _duplicate_payload(rng, rng.randrange(uniques), kind)
        else:
            ident = _identity(uniques, kind)
            payload = {
                "name": ident["name"],
                "email": ident["email"],
                "phone": _phone_formats(ident["area"], uniques % 10000)[0],
                "company": f"Bench Co {uniques % 500}",
            }
            uniques += 1
        body = json.dumps({"id": f"bench-{kind}-{n}", **payload}).encode()
        signed.append((body, f"sha256={hmac_sha256_hex(BENCH_SECRET, body)}"))
    return signed, uniques


class _Answer:
    def __init__(self, status: str) -> None:
        self.status_code = int(status.split(" ", 1)[0])


def _wsgi_call(handler: WSGIHandler, environ: dict[str, Any]) -> _Answer:
    """One request as a WSGI server makes it: every middleware, and the request_started /
    request_finished signals that open and close (or keep, per CONN_MAX_AGE) the connection."""
    started: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        started.append(status)
        return lambda data: None

    response = handler(environ, start_response)
    try:
        b"".join(response)
    finally:
        response.close()  # closing the response sends request_finished
    return _Answer(started[0])


def _run_deliveries(kind: str, requests: int) -> dict[str, Any]:
    """Post the deliveries one after another and time them (wall clock and this process's CPU).

    `hook` calls the real view with a RequestFactory request: verify, store, process, answer.
    `stack` goes through Django's test client, so every middleware runs too (but the client keeps
    the connection open across requests). `wsgi` calls Django's WSGI handler as a WSGI server
    does (middleware, request signals, the connection kept per CONN_MAX_AGE); `thread` does the
    same and closes the connection after each request, as Django's own threaded server does when
    a request's thread ends (what the embedded default did before it served on a pool of threads;
    `_run_embedded_server` measures that server itself).
    """
    signed, uniques = _deliveries(requests, kind)
    client = Client()
    factory = RequestFactory()
    handler = WSGIHandler()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    leads_before = Lead.objects.count()
    path = "/webhooks/leads/website/"
    started, cpu_started = time.perf_counter(), time.process_time()
    for body, signature in signed:
        sent = time.perf_counter()
        response: HttpResponseBase | _Answer
        if kind == "stack":
            response = client.post(path, data=body, content_type="application/json", headers={"X-Signature": signature})
        elif kind in ("wsgi", "thread"):
            environ = factory.post(
                path, data=body, content_type="application/json", headers={"X-Signature": signature}
            ).environ
            response = _wsgi_call(handler, environ)
            if kind == "thread":
                connections.close_all()  # what Django's server does when a request's thread ends
        else:
            request = factory.post(path, data=body, content_type="application/json", headers={"X-Signature": signature})
            response = lead_webhook(request, source="website")
        latencies.append(time.perf_counter() - sent)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return _sequential_figures(elapsed, cpu, latencies, statuses, Lead.objects.count() - leads_before, uniques)


def _sequential_figures(
    elapsed: float,
    cpu: float,
    latencies: list[float],
    statuses: dict[int, int],
    created: int,
    uniques: int,
    cpu_key: str = "leads_per_cpu_s",
) -> dict[str, Any]:
    """One sender's figures: rates, latency percentiles, and whether dedup made one lead per person."""
    requests = len(latencies)
    latencies = sorted(latencies)
    return {
        "requests": requests,
        "seconds": round(elapsed, 2),
        "leads_per_s": round(requests / elapsed, 1),
        # The machine may be shared: CPU time is what this process itself spent.
        cpu_key: round(requests / cpu, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
        "leads_created": created,
        "dedup_correct": created == uniques,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def _run_embedded_server(requests: int) -> dict[str, Any]:
    """The deliveries over loopback HTTP to the embedded default's own server (`PooledWSGIServer`,
    as `make run` serves), one after another, a new TCP connection each (the server closes it).
    Client and server share this process, so its CPU time counts both."""
    signed, uniques = _deliveries(requests, "http")
    server = PooledWSGIServer(("127.0.0.1", 0), _QuietHandler)
    server.set_app(WSGIHandler())
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    leads_before = Lead.objects.count()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        for body, signature in signed:
            sent = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
            conn.request(
                "POST",
                "/webhooks/leads/website/",
                body=body,
                headers={"Content-Type": "application/json", "X-Signature": signature},
            )
            answer = conn.getresponse()
            answer.read()
            conn.close()
            latencies.append(time.perf_counter() - sent)
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        server.shutdown()
        server.server_close()
    created = Lead.objects.count() - leads_before
    return _sequential_figures(elapsed, cpu, latencies, statuses, created, uniques, "leads_per_cpu_s_with_client")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass  # a line per request would measure the terminal


CONCURRENT_THREADS = 8


def _run_concurrent(requests: int, threads: int = CONCURRENT_THREADS) -> dict[str, Any]:
    """The `wsgi` deliveries from `threads` client threads at once, in this one process, each
    thread with its own database connection (as a threaded WSGI server's workers have).

    Every commit is still durable before its 200 (PostgreSQL's `synchronous_commit` stays on):
    concurrent commits share the WAL flush (group commit), which one sequential client cannot.
    First the new people, then (after all threads finished those) the re-sends, so a re-send
    never races the delivery it repeats and the dedup count stays exact.
    """
    resends: list[bool] = []
    signed, uniques = _deliveries(requests, "together", resends)
    factory = RequestFactory()
    handler = WSGIHandler()
    path = "/webhooks/leads/website/"
    environs = [
        factory.post(path, data=body, content_type="application/json", headers={"X-Signature": signature}).environ
        for body, signature in signed
    ]
    phases = [
        [environ for environ, resend in zip(environs, resends, strict=True) if not resend],
        [environ for environ, resend in zip(environs, resends, strict=True) if resend],
    ]
    barrier = threading.Barrier(threads)
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    failures: list[BaseException] = []

    def client(index: int) -> None:
        try:
            for phase in phases:
                for environ in phase[index::threads]:
                    status = _wsgi_call(handler, environ).status_code
                    with lock:
                        statuses[status] = statuses.get(status, 0) + 1
                barrier.wait()
        except BaseException as exc:  # reported below; a broken barrier releases the others
            failures.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    leads_before = Lead.objects.count()
    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if failures:
        raise failures[0]
    created = Lead.objects.count() - leads_before
    return {
        "threads": threads,
        "requests": requests,
        "seconds": round(elapsed, 2),
        "leads_per_s": round(requests / elapsed, 1),
        "leads_per_cpu_s": round(requests / cpu, 1),
        "leads_created": created,
        "dedup_correct": created == uniques,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def intake_bench(quick: bool, log: Callable[[str], Any]) -> dict[str, Any]:
    """Signed lead webhooks per second, processed in-process as in the embedded default.

    `view`: the real view (HMAC verified over the raw body, stored in the inbox, processed, 200),
    called with RequestFactory requests. `full_stack`: the same through the test client and every
    middleware. Each delivery is one of ~80% new people and ~20% re-sends of an earlier one (email
    in capitals, or the phone written another way), so dedup is in the figure.

    Those are one client sending one delivery after another, each acknowledged only once its
    commit is durable: on PostgreSQL every delivery waits for one WAL flush (fsync), which caps
    that figure at the disk's flushes per second. `concurrent` is an additional figure, not a
    replacement: the same WSGI calls from several client threads of this one process at once.
    """
    requests = 300 if quick else 3000
    was_eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True  # the figure includes processing, as in the embedded default
    logging.disable(logging.INFO)  # a JSON line per delivery would measure the log handler
    try:
        with override_settings(LEAD_WEBHOOK_SECRET=BENCH_SECRET, ALLOWED_HOSTS=["testserver", "127.0.0.1"]):
            _run_deliveries("hook", 20)  # warm up: imports, URL resolver, compiled statements
            _run_deliveries("wsgi", 20)  # ... and the URL configuration and middleware
            Lead.objects.all().delete()
            WebhookEvent.objects.all().delete()
            view = _run_deliveries("hook", requests)
            stack = _run_deliveries("stack", requests)
            wsgi = _run_deliveries("wsgi", requests)
            thread = _run_deliveries("thread", requests)
            embedded = _run_embedded_server(requests)
            together = _run_concurrent(requests)
    finally:
        logging.disable(logging.NOTSET)
        current_app.conf.task_always_eager = was_eager
    figures = {
        "duplicate_share": DUPLICATE_SHARE,
        **view,
        "full_stack": stack,
        "wsgi": wsgi,
        "wsgi_connection_per_request": thread,
        "embedded_server": embedded,
        "concurrent": together,
    }
    log(
        f"intake: {view['leads_per_s']} leads/s through the view ({view['leads_per_cpu_s']}/CPU-s), "
        f"{stack['leads_per_s']} through the test client ({stack['leads_per_cpu_s']}/CPU-s), "
        f"{wsgi['leads_per_s']} as a WSGI call ({wsgi['leads_per_cpu_s']}/CPU-s), "
        f"{thread['leads_per_s']} with a new connection each ({thread['leads_per_cpu_s']}/CPU-s), "
        f"{embedded['leads_per_s']} over HTTP to the embedded server; "
        f"{together['leads_per_s']} from {together['threads']} client threads at once "
        f"({together['leads_per_cpu_s']}/CPU-s); "
        f"{view['leads_created']} leads from {requests} deliveries"
    )
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
        logging.disable(logging.INFO)  # the summary line only; measured without log output
        started, cpu_started = time.perf_counter(), time.process_time()
        first = lead_import_csv(path=path)
        first_seconds, first_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        logging.disable(logging.NOTSET)
        log(f"import: {rows} rows in {first_seconds:.1f}s ({first.line()})")
        started = time.perf_counter()
        again = lead_import_csv(path=path)
        again_seconds = time.perf_counter() - started
        log(f"import again: {again_seconds:.1f}s ({again.line()})")
    return {
        "rows": rows,
        "seconds": round(first_seconds, 2),
        "rows_per_s": round(rows / first_seconds, 1),
        # The machine may be shared: CPU time is what this process itself spent.
        "rows_per_cpu_s": round(rows / first_cpu, 1),
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
