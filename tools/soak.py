"""`make soak`: the production shape under load on loopback, then a check of the books.

Starts gunicorn (2 workers) on a free 127.0.0.1 port, one Celery worker and one Beat against a
PRIVATE PostgreSQL database (`soak_<pid>`, created here and dropped afterwards) and Redis (a private
key prefix and Celery queue in the given Redis db; never db 0), then drives it for a fixed time:

- signed lead webhooks, 10% replays of an earlier delivery and 5% bad signatures;
- booking form POSTs racing for the same few slots;
- Stripe (`checkout.session.completed` for seeded signed proposals, unknown types) and Fireflies
  webhooks, each with replays;
- board renders by a logged-in owner;
- meanwhile the one Beat's dispatcher sends the outbound emails seeded as approved (approved by a
  staff user holding the approve permission, through leads.services.outbound) via the Celery
  worker to a loopback SMTP sink (aiosmtpd on 127.0.0.1), with AUTOSEND_ENABLED and a send window
  open around the clock. Drafts and rejected messages are seeded next to them.

Then it waits for the worker to drain and checks: every accepted webhook stored once and processed
once (and nothing stored for a bad signature); no slot double-booked; every approved message
received by the sink exactly once (by Message-ID) and marked sent, no draft or rejected message
received; no 5xx. It prints one JSON line and exits 1 if an invariant fails.

    python tools/soak.py --seconds 60            # defaults: local PostgreSQL and Redis db 11
    python tools/soak.py _seed|_check            # internal: run inside the soak's environment
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
SLUG = "soak-call"
OWNER = ("soak-owner", "soak-owner-password-" + "x" * 8)
RACE_SLOTS = 12  # booking threads pick among this many slots, so they collide
PROPOSALS = 6
OUTBOUND_APPROVED = 10  # approved through the service; the dispatcher must send each exactly once
OUTBOUND_DRAFTS = 4  # left as drafts: must never reach the sink
OUTBOUND_REJECTED = 2
APPROVER = ("soak-approver", "soak-approver-password-" + "x" * 8)
DISPATCH_EVERY_SECONDS = 10  # Beat's dispatch entry, so a 30-s run sees several ticks (production: 60)


# --- the private environment -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def admin_dsn(database_url: str) -> str:
    parts = urlsplit(database_url)
    scheme = "postgresql" if parts.scheme.startswith("postgres") else parts.scheme
    return urlunsplit((scheme, parts.netloc, "/postgres", "", ""))


def soak_dsn(env: dict[str, str]) -> str:
    return admin_dsn(env["DATABASE_URL"]).rsplit("/", 1)[0] + "/" + env["SOAK_DB_NAME"]


def create_database(database_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_dsn(database_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_dsn(database_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clear_redis(redis_url: str, prefix: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    for pattern in (f"{prefix}:*", f"{queue}*", f"*{queue}*"):
        for key in client.scan_iter(pattern, count=500):
            client.delete(key)


def private_redis_url() -> str:
    """REDIS_URL when it names a db of its own; else the same server's db 11 (never db 0)."""
    given = os.environ.get("REDIS_URL", "")
    if not given:
        return DEFAULT_REDIS_URL
    if urlsplit(given).path.strip("/") in ("", "0"):
        return with_path(given, "/11")
    return given


class SmtpSink:
    """A loopback SMTP server (aiosmtpd) that keeps the Message-ID of everything it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.lock = threading.Lock()
        self.message_ids: list[str] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                from email import message_from_bytes

                message = message_from_bytes(envelope.original_content or envelope.content)
                with sink.lock:
                    sink.message_ids.append((message.get("Message-ID") or "").strip())
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def received(self) -> Counter:
        with self.lock:
            return Counter(self.message_ids)


def soak_environment(
    *, database_url: str, redis_url: str, tmp: Path, email_url: str = "memorymail://"
) -> dict[str, str]:
    if urlsplit(redis_url).path.strip("/") in ("", "0"):
        raise SystemExit(
            "soak: refusing Redis db 0; give REDIS_URL a private db number (e.g. redis://127.0.0.1:6379/11)"
        )
    tag = f"soak{os.getpid()}"
    name = f"soak_{os.getpid()}"
    keep = {k: v for k, v in os.environ.items() if k not in ("SECURE_HTTPS", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")}
    return {
        **keep,
        "DATABASE_URL": with_path(database_url, "/" + name),
        "SOAK_DB_NAME": name,
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": tag,
        "CELERY_QUEUE": tag,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CLIENTSFLOW_VAR_DIR": str(tmp / "var"),
        "LEAD_WEBHOOK_SECRET": "soak-lead-" + secrets.token_hex(8),
        "STRIPE_WEBHOOK_SECRET": "whsec_soak" + secrets.token_hex(8),
        "FIREFLIES_WEBHOOK_SECRET": "soak-ff-" + secrets.token_hex(8),
        "BOOKING_RATE_LIMIT": "1000000/m",  # one client IP does all the booking; the limit has its own test
        "PROPOSAL_SIGN_RATE_LIMIT": "1000000/m",
        "EMAIL_URL": email_url,  # the loopback SMTP sink (booking invites land there too)
        "DEFAULT_FROM_EMAIL": "Soak Agency <owner@agency.example>",
        # The dispatcher sends approved emails at any hour of any day, well under the cap.
        "AUTOSEND_ENABLED": "1",
        "SEND_ALLOWLIST": "",
        "OUTBOUND_SEND_DAYS": "mon,tue,wed,thu,fri,sat,sun",
        "OUTBOUND_SEND_HOURS": "0-24",
        "OUTBOUND_DAILY_CAP": "100000",
        "OUTBOUND_AUTOSEND_BATCH": "100",
        "SEQUENCE_AUTO_ENROLL_SOURCE": "",
        "LOG_LEVEL": "WARNING",
        "DISPATCHER_STALE_WEBHOOK_MINUTES": "1",
        # Every vendor in its local mode: nothing leaves the machine.
        **dict.fromkeys(
            (
                "STRIPE_API_KEY",
                "FIREFLIES_API_KEY",
                "ANTHROPIC_API_KEY",
                "NOTION_TOKEN",
                "SLACK_WEBHOOK_URL",
                "GOOGLE_SERVICE_ACCOUNT_FILE",
                "MAILGUN_WEBHOOK_SIGNING_KEY",
                "IMAP_URL",
                "GHL_PUBLIC_KEY",
            ),
            "",
        ),
    }


def run_inside(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    result = subprocess.run(  # noqa: S603  (our own interpreter and script)
        [PY, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-3000:]}")
    return result.stdout


@dataclass
class Stack:
    """The processes this run started, each stopped by its own pid."""

    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        handle = log.open("w")
        proc = subprocess.Popen(  # noqa: S603  (our own interpreter and fixed arguments)
            args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: int = signal.SIGTERM, wait: float = 15) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)  # its own session: the worker's and gunicorn's children go too
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def start_stack(stack: Stack, env: dict[str, str], tmp: Path, port: int) -> None:
    stack.start(
        "web",
        [PY, "-m", "gunicorn", "clientsflow.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "30"],
        env,
        tmp / "web.log",
    )
    stack.start(
        "worker",
        [
            PY,
            "-m",
            "celery",
            "-A",
            "clientsflow",
            "worker",
            "--concurrency",
            "2",
            "-Q",
            env["CELERY_QUEUE"],
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
        tmp / "worker.log",
    )
    stack.start(
        "beat",
        [
            PY,
            "-m",
            "celery",
            "-A",
            "clientsflow",
            "beat",
            "--loglevel",
            "WARNING",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile",
            str(tmp / "beat.pid"),
        ],
        env,
        tmp / "beat.log",
    )


def wait_healthy(base: str, stack: Stack, timeout: float = 45) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.procs["web"].poll() is not None:
            raise RuntimeError("gunicorn exited during startup")
        try:
            if httpx.get(base + "/healthz/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the web app did not become healthy in time")


# --- load ------------------------------------------------------------------------------------


@dataclass
class Books:
    """What the load generator saw, shared by its threads (one lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    accepted: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    replayed: Counter = field(default_factory=Counter)
    unsigned: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    booked_slots: Counter = field(default_factory=Counter)
    lead_emails: set[str] = field(default_factory=set)
    transport_errors: Counter = field(default_factory=Counter)

    def record(self, endpoint: str, status: int, seconds: float) -> None:
        with self.lock:
            self.samples[endpoint].append(seconds)
            self.statuses[endpoint][status] += 1


def timed(books: Books, endpoint: str, send) -> Any:  # type: ignore[no-untyped-def]
    import httpx

    started = time.perf_counter()
    try:
        response = send()
    except httpx.HTTPError as exc:
        with books.lock:
            books.transport_errors[f"{endpoint}:{type(exc).__name__}"] += 1
        return None
    books.record(endpoint, response.status_code, time.perf_counter() - started)
    return response


def lead_webhooks(client, books: Books, env: dict[str, str], stop: float, limit: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    secret = env["LEAD_WEBHOOK_SECRET"]
    sent: list[tuple[bytes, str]] = []
    for index in range(limit):
        if time.monotonic() > stop:
            return
        slot = index % 20  # exactly 10% replays (2 in 20) and 5% bad signatures (1 in 20)
        if sent and slot in (5, 15):
            body, event_id = rng.choice(sent)
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            kind = "replay"
        else:
            event_id = str(uuid.uuid4())
            email = f"soak-{event_id[:12]}@example.com"
            body = json.dumps({"name": "Soak Lead", "email": email, "company": "Load Ltd"}).encode()
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            kind = "new"
            if slot == 10:
                signature = "0" * 64
                kind = "bad"
        response = timed(
            books,
            "POST /webhooks/leads/<source>/",
            lambda b=body, s=signature, e=event_id: client.post(
                "/webhooks/leads/website/",
                content=b,
                headers={"Content-Type": "application/json", "X-Signature": s, "X-Event-Id": e},
            ),
        )
        if response is None:
            continue
        with books.lock:
            if kind == "bad":
                books.unsigned["leads:website"].add(event_id)
            elif response.status_code == 200:
                status = response.json()["status"]
                if status == "accepted":
                    books.accepted["leads:website"].add(event_id)
                    books.lead_emails.add(json.loads(body)["email"])
                    sent.append((body, event_id))
                else:
                    books.replayed["leads:website"] += 1


def stripe_webhooks(
    client, books: Books, env: dict[str, str], stop: float, limit: int, rng: random.Random, seed: dict
) -> None:  # type: ignore[no-untyped-def]
    import stripe

    secret = env["STRIPE_WEBHOOK_SECRET"]
    sent: list[str] = []
    for index in range(limit):
        if time.monotonic() > stop:
            return
        if sent and rng.random() < 0.2:
            body = rng.choice(sent)
        elif rng.random() < 0.2:
            body = json.dumps(
                {
                    "id": f"evt_soak_{uuid.uuid4().hex}",
                    "object": "event",
                    "type": "customer.created",
                    "data": {"object": {"id": "cus_soak"}},
                }
            )
        else:
            proposal = seed["proposals"][index % len(seed["proposals"])]
            session = {
                "id": f"cs_soak_{proposal['id']}",
                "object": "checkout.session",
                "amount_total": proposal["due_now_minor"],
                "currency": proposal["currency"].lower(),
                "client_reference_id": proposal["lead_public_id"],
                "metadata": {"proposal_id": str(proposal["id"]), "proposal_version": "1"},
                "mode": "payment",
                "payment_intent": f"pi_soak_{proposal['id']}",
                "payment_status": "paid",
                "status": "complete",
            }
            body = json.dumps(
                {
                    "id": f"evt_soak_{uuid.uuid4().hex}",
                    "object": "event",
                    "type": "checkout.session.completed",
                    "data": {"object": session},
                }
            )
        header = stripe.WebhookSignature.generate_signature_header(body, secret)
        response = timed(
            books,
            "POST /webhooks/stripe/",
            lambda b=body, h=header: client.post(
                "/webhooks/stripe/",
                content=b.encode(),
                headers={"Content-Type": "application/json", "Stripe-Signature": h},
            ),
        )
        if response is not None and response.status_code == 200:
            with books.lock:
                if response.json()["status"] == "accepted":
                    books.accepted["stripe"].add(json.loads(body)["id"])
                    sent.append(body)
                else:
                    books.replayed["stripe"] += 1


def fireflies_webhooks(client, books: Books, env: dict[str, str], stop: float, limit: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    secret = env["FIREFLIES_WEBHOOK_SECRET"]
    sent: list[bytes] = []
    for _ in range(limit):
        if time.monotonic() > stop:
            return
        if sent and rng.random() < 0.2:
            body = rng.choice(sent)
        else:
            meeting = f"soak-{uuid.uuid4().hex[:16]}"
            body = json.dumps(
                {"meeting_id": meeting, "event": "meeting.transcribed", "timestamp": int(time.time() * 1000)}
            ).encode()
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        response = timed(
            books,
            "POST /webhooks/fireflies/",
            lambda b=body, s=signature: client.post(
                "/webhooks/fireflies/", content=b, headers={"Content-Type": "application/json", "X-Hub-Signature": s}
            ),
        )
        if response is not None and response.status_code == 200:
            with books.lock:
                if response.json()["status"] == "accepted":
                    books.accepted["fireflies"].add(response.json()["event_id"])
                    sent.append(body)
                else:
                    books.replayed["fireflies"] += 1


def bookings(client, books: Books, stop: float, limit: int, rng: random.Random, seed: dict) -> None:  # type: ignore[no-untyped-def]
    client.get(f"/book/{SLUG}/")
    token = client.cookies.get("csrftoken", "")
    for _ in range(limit):
        if time.monotonic() > stop:
            return
        start = rng.choice(seed["slots"])
        data = {
            "csrfmiddlewaretoken": token,
            "start": start,
            "timezone": "UTC",
            "name": "Racing Visitor",
            "email": f"racer-{uuid.uuid4().hex[:10]}@example.com",
        }
        response = timed(books, "POST /book/<slug>/", lambda d=data: client.post(f"/book/{SLUG}/", data=d))
        if response is not None and response.status_code == 302:
            with books.lock:
                books.booked_slots[start] += 1


def board(client, books: Books, stop: float, limit: int) -> None:  # type: ignore[no-untyped-def]
    client.get("/admin/login/")
    client.post(
        "/admin/login/?next=/board/",
        data={"username": OWNER[0], "password": OWNER[1], "csrfmiddlewaretoken": client.cookies.get("csrftoken", "")},
    )
    for index in range(limit):
        if time.monotonic() > stop:
            return
        path = "/board/" if index % 3 else "/board/needs-you/"
        timed(books, f"GET {path}", lambda p=path: client.get(p))  # a redirect to the login page shows as 302


def drive(base: str, env: dict[str, str], seed: dict, seconds: float, max_requests: int) -> tuple[Books, float]:
    import httpx

    books = Books()
    stop = time.monotonic() + seconds
    per_thread = max(1, max_requests // 10)
    threads: list[threading.Thread] = []

    def client() -> httpx.Client:
        return httpx.Client(base_url=base, timeout=30, follow_redirects=False)

    plan = (
        [lambda i=i: lead_webhooks(client(), books, env, stop, per_thread, random.Random(i)) for i in range(3)]
        + [lambda i=i: bookings(client(), books, stop, per_thread, random.Random(100 + i), seed) for i in range(3)]
        + [lambda: stripe_webhooks(client(), books, env, stop, per_thread, random.Random(7), seed)]
        + [lambda: fireflies_webhooks(client(), books, env, stop, per_thread, random.Random(8))]
        + [lambda: board(client(), books, stop, per_thread)]
    )
    started = time.monotonic()
    for target in plan:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return books, time.monotonic() - started


# --- inside the soak's environment (Django set up against the private database) ---------------


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientsflow.settings")
    import django

    django.setup()


def seed() -> dict[str, Any]:
    """The owner, a booking page open around the clock, and signed proposals to be paid."""
    from datetime import time as dtime
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from billing.services.documents import content_sha256, proposal_document_html
    from billing.services.proposals import LineData, proposal_create, proposal_mark_sent, proposal_sign
    from bookings.models import EventType, Host, WeeklyHours
    from bookings.selectors import slots_for
    from leads.services.intake import LeadData, lead_intake
    from leads.services.stages import lead_move_stage

    get_user_model().objects.create_superuser(OWNER[0], "owner@agency.example", OWNER[1])
    host = Host.objects.create(name="Soak Host", email="owner@agency.example", timezone="UTC")
    event_type = EventType.objects.create(
        host=host, slug=SLUG, title="Soak call", duration_minutes=30, slot_interval_minutes=30, min_notice_minutes=60
    )
    for weekday in range(7):
        WeeklyHours.objects.create(event_type=event_type, weekday=weekday, start_time=dtime(0), end_time=dtime(23, 30))
    slots = [slot.start.isoformat() for slot in slots_for(event_type=event_type)][:RACE_SLOTS]
    proposals = []
    for index in range(PROPOSALS):
        lead = lead_intake(
            data=LeadData.build(name=f"Paying Client {index}", email=f"client{index}@soak.example"), source="soak"
        ).lead
        for stage in ("booked", "call_done"):
            lead_move_stage(lead=lead, to_stage=stage, actor_label="soak")
        proposal = proposal_create(
            lead=lead,
            title=f"Soak proposal {index}",
            currency="USD",
            valid_until=timezone.now().date() + timedelta(days=30),
            lines=[LineData.build(description="Work", quantity="1", unit_price_minor=100000)],
        )
        proposal_mark_sent(proposal=proposal, via="soak")
        proposal.refresh_from_db()
        proposal_sign(
            proposal=proposal,
            signer_name=f"Paying Client {index}",
            signer_email=f"client{index}@soak.example",
            consent=True,
            shown_sha256=content_sha256(proposal_document_html(proposal=proposal)),
            ip_address="127.0.0.1",
            user_agent="soak",
        )
        proposal.refresh_from_db()
        proposals.append(
            {
                "id": proposal.pk,
                "lead_public_id": str(lead.public_id),
                "due_now_minor": proposal.due_now_minor,
                "currency": proposal.currency,
            }
        )
    return {"slots": slots, "proposals": proposals, "outbound": seed_outbound()}


def seed_outbound() -> dict[str, list[str]]:
    """Outbound drafts; some approved (through the service, by a staff user with the approve
    permission), some rejected, the rest left as drafts. Returns their Message-IDs by fate."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from leads.models import OutboundMessage
    from leads.services.intake import LeadData, lead_intake
    from leads.services.outbound import outbound_approve, outbound_draft_create, outbound_reject

    approver = get_user_model().objects.create_user(APPROVER[0], "approver@agency.example", APPROVER[1], is_staff=True)
    approver.user_permissions.add(
        Permission.objects.get(codename="approve_outboundmessage", content_type__app_label="leads")
    )
    approver = get_user_model().objects.get(pk=approver.pk)  # fresh permission cache
    fates = {"approved": [], "draft": [], "rejected": []}
    plan = ["approved"] * OUTBOUND_APPROVED + ["draft"] * OUTBOUND_DRAFTS + ["rejected"] * OUTBOUND_REJECTED
    for index, fate in enumerate(plan):
        lead = lead_intake(
            data=LeadData.build(name=f"Mailed Lead {index}", email=f"mailed{index}@prospect.example"), source="soak"
        ).lead
        message = outbound_draft_create(
            lead=lead,
            subject=f"Following up ({index})",
            body=f"Hello Mailed Lead {index},\n\nA short note from the soak.",
            origin="soak",
            kind=OutboundMessage.Kind.ONE_OFF,
        )
        if fate == "approved":
            outbound_approve(message=message, actor=approver, expected_hash=message.content_hash())
        elif fate == "rejected":
            outbound_reject(message=message, actor=approver, reason="Not this one (soak).")
        fates[fate].append(message.message_id)
    # Beat's one dispatch entry ticks more often here, so even the 30-s CI run sends during the load.
    every, _ = IntervalSchedule.objects.get_or_create(every=DISPATCH_EVERY_SECONDS, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task="clientsflow.tasks.dispatch").update(
        interval=every, last_run_at=None, date_changed=timezone.now()
    )
    return fates


def ledger() -> dict[str, Any]:
    """What the database says, for the checks (read inside the soak's environment)."""
    from django.db import connection
    from django.db.models import Count, Q

    from billing.models import Payment
    from bookings.models import Booking
    from calls.models import Call
    from clientsflow.models import AuditEvent, WebhookEvent
    from leads.models import Lead, OutboundMessage

    events = WebhookEvent.objects.filter(provider__in=["leads:website", "stripe", "fireflies"])
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM bookings_booking a JOIN bookings_booking b
              ON a.host_id = b.host_id AND a.id < b.id
             AND a.status IN ('confirmed', 'rescheduled') AND b.status IN ('confirmed', 'rescheduled')
             AND a.start_at < b.end_at AND b.start_at < a.end_at
            """
        )
        overlapping = cursor.fetchone()[0]
    sent = OutboundMessage.objects.filter(status=OutboundMessage.Status.SENT)
    return {
        "events": {
            provider: sorted(events.filter(provider=provider).values_list("event_id", flat=True))
            for provider in ("leads:website", "stripe", "fireflies")
        },
        "event_status": dict(Counter(events.values_list("status", flat=True))),
        "events_attempted_more_than_once": events.filter(attempts__gt=1).count(),
        "deliveries": sum(events.values_list("deliveries", flat=True)),
        "soak_leads": sorted(Lead.objects.filter(email__startswith="soak-").values_list("email", flat=True)),
        "calls": Call.objects.count(),
        "bookings_active": Booking.objects.filter(status__in=Booking.ACTIVE_STATUSES).count(),
        "bookings_overlapping": overlapping,
        "payments": Payment.objects.count(),
        "payments_per_session_max": max(
            Payment.objects.values("checkout_session_id").annotate(n=Count("id")).values_list("n", flat=True),
            default=0,
        ),
        "payments_paid": Payment.objects.filter(status=Payment.Status.PAID).count(),
        "messages_sent": sent.count(),
        "outbound_status": dict(OutboundMessage.objects.values_list("message_id", "status")),
        "messages_sent_unapproved": sent.filter(Q(approved_by__isnull=True) | Q(approved_hash="")).count(),
        "messages_sent_twice": AuditEvent.objects.filter(verb="outbound.sent")
        .values("object_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count(),
    }


# --- the run ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 1)


def wait_for_drain(env: dict[str, str], timeout: float) -> int:
    import psycopg

    deadline = time.monotonic() + timeout
    left = -1
    with psycopg.connect(soak_dsn(env), autocommit=True, connect_timeout=5) as conn:
        while time.monotonic() < deadline:
            left = conn.execute("SELECT count(*) FROM clientsflow_webhookevent WHERE status <> 'processed'").fetchone()[
                0
            ]
            if left == 0:
                return 0
            time.sleep(0.5)
    return left


def count_sent(env: dict[str, str]) -> int:
    import psycopg

    with psycopg.connect(soak_dsn(env), autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM leads_outboundmessage WHERE status = 'sent'").fetchone()[0]


def wait_for_sends(env: dict[str, str], timeout: float) -> int:
    """Wait until no seeded approval is still waiting to go out (approved or sending)."""
    import psycopg

    deadline = time.monotonic() + timeout
    left = -1
    with psycopg.connect(soak_dsn(env), autocommit=True, connect_timeout=5) as conn:
        while time.monotonic() < deadline:
            left = conn.execute(
                "SELECT count(*) FROM leads_outboundmessage WHERE status IN ('approved', 'sending')"
            ).fetchone()[0]
            if left == 0:
                return 0
            time.sleep(0.5)
    return left


def mail_books(seeded: dict[str, Any], received: Counter, db: dict[str, Any]) -> dict[str, Any]:
    """What the SMTP sink received against what was approved, and what the database says."""
    approved = seeded["outbound"]["approved"]
    unapproved = seeded["outbound"]["draft"] + seeded["outbound"]["rejected"]
    status = db["outbound_status"]
    return {
        "approved": len(approved),
        "drafts": len(seeded["outbound"]["draft"]),
        "rejected": len(seeded["outbound"]["rejected"]),
        "received_once": sum(1 for mid in approved if received[mid] == 1),
        "received_twice_or_more": sum(1 for mid in approved if received[mid] > 1),
        "approved_not_received": sum(1 for mid in approved if received[mid] == 0),
        "unapproved_received": sum(received[mid] for mid in unapproved),
        "approved_marked_sent": sum(1 for mid in approved if status.get(mid) == "sent"),
        "unapproved_status_kept": sum(
            1 for fate in ("draft", "rejected") for mid in seeded["outbound"][fate] if status.get(mid) == fate
        ),
        "other_emails_received": sum(n for mid, n in received.items() if mid not in set(approved) | set(unapproved)),
    }


def check_books(books: Books, db: dict[str, Any], left: int, mail: dict[str, Any]) -> dict[str, bool]:
    stored_once = all(
        len(set(db["events"][provider])) == len(db["events"][provider]) for provider in db["events"]
    ) and all(
        set(db["events"][provider]) == books.accepted[provider] for provider in ("leads:website", "stripe", "fireflies")
    )
    nothing_unsigned = not any(set(db["events"]["leads:website"]) & ids for ids in books.unsigned.values())
    five_xx = sum(n for counter in books.statuses.values() for status, n in counter.items() if status >= 500)
    return {
        "webhooks_stored_once": stored_once,
        "bad_signatures_stored_nothing": nothing_unsigned,
        "webhooks_processed_once": left == 0
        and db["events_attempted_more_than_once"] == 0
        and set(db["event_status"]) <= {"processed"},
        "one_lead_per_accepted_lead_event": sorted(books.lead_emails) == db["soak_leads"],
        "one_call_per_fireflies_meeting": db["calls"] == len(books.accepted["fireflies"]),
        "one_payment_per_checkout_session": db["payments_per_session_max"] <= 1,
        "no_slot_double_booked": db["bookings_overlapping"] == 0 and max(books.booked_slots.values(), default=0) <= 1,
        "bookings_match_successes": db["bookings_active"] == sum(books.booked_slots.values()),
        "no_message_sent_twice_or_unapproved": db["messages_sent_twice"] == 0
        and db["messages_sent_unapproved"] == 0
        and mail["received_twice_or_more"] == 0
        and mail["unapproved_received"] == 0,
        "every_approved_message_received_once_and_marked_sent": mail["approved"] > 0
        and mail["received_once"] == mail["approved"]
        and mail["approved_marked_sent"] == mail["approved"]
        and db["messages_sent"] == mail["approved"],
        "drafts_and_rejected_left_alone": mail["unapproved_status_kept"] == mail["drafts"] + mail["rejected"],
        "board_rendered_for_owner": all(
            set(books.statuses[name]) == {200} for name in ("GET /board/", "GET /board/needs-you/")
        ),
        "no_5xx": five_xx == 0,
        "no_transport_errors": not books.transport_errors,
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def soak(
    *, seconds: float, max_requests: int, database_url: str, redis_url: str, keep_logs: bool = False
) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="cf-soak-"))
    sink = SmtpSink()
    env = soak_environment(database_url=database_url, redis_url=redis_url, tmp=tmp, email_url=sink.url)
    stack = Stack()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with ExitStack() as cleanup:
        create_database(database_url, env["SOAK_DB_NAME"])
        cleanup.callback(drop_database, database_url, env["SOAK_DB_NAME"])
        cleanup.callback(clear_redis, redis_url, env["CACHE_KEY_PREFIX"], env["CELERY_QUEUE"])
        if not keep_logs:
            cleanup.callback(shutil.rmtree, tmp, True)
        sink.start()
        cleanup.callback(sink.stop)
        cleanup.callback(stack.stop_all)
        run_inside(env, "manage.py", "migrate", "--noinput", "-v", "0")
        seeded = json.loads(run_inside(env, str(Path(__file__)), "_seed").strip().splitlines()[-1])
        start_stack(stack, env, tmp, port)
        wait_healthy(base, stack)
        books, elapsed = drive(base, env, seeded, seconds, max_requests)
        sent_during_load = count_sent(env)
        left = wait_for_drain(env, timeout=90)
        sends_waiting = wait_for_sends(env, timeout=90)
        time.sleep(1)  # let the sink finish the last DATA it acknowledged
        db = json.loads(run_inside(env, str(Path(__file__)), "_check").strip().splitlines()[-1])
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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


if __name__ == "__main__":
    sys.exit(main())
