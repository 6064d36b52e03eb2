"""The load: signed webhooks with replays and bad signatures, racing bookings, board renders."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tools.soak.plan import OWNER, SLUG


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
    # The load stops at `stop`, or later if fewer than `min_requests` were answered by then (a
    # loaded machine), but never after `hard_stop`.
    stop: float = 0.0
    min_requests: int = 0
    hard_stop: float = 0.0
    answered: int = 0

    def record(self, endpoint: str, status: int, seconds: float) -> None:
        with self.lock:
            self.samples[endpoint].append(seconds)
            self.statuses[endpoint][status] += 1
            self.answered += 1

    def over(self) -> bool:
        now = time.monotonic()
        return now > self.stop and (self.answered >= self.min_requests or now > self.hard_stop)


def timed(books: Books, endpoint: str, send) -> Any:
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


def lead_webhooks(client, books: Books, env: dict[str, str], stop: float, limit: int, rng: random.Random) -> None:
    secret = env["LEAD_WEBHOOK_SECRET"]
    sent: list[tuple[bytes, str]] = []
    for index in range(limit):
        if books.over():
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
) -> None:
    import stripe

    secret = env["STRIPE_WEBHOOK_SECRET"]
    sent: list[str] = []
    first_round = len(seed["proposals"])  # every proposal's checkout goes out, however short the run
    for index in range(max(limit, first_round)):
        if books.over() and index >= first_round:
            return
        if index >= first_round and sent and rng.random() < 0.2:
            body = rng.choice(sent)
        elif index >= first_round and rng.random() < 0.2:
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


def fireflies_webhooks(client, books: Books, env: dict[str, str], stop: float, limit: int, rng: random.Random) -> None:
    secret = env["FIREFLIES_WEBHOOK_SECRET"]
    sent: list[bytes] = []
    for _ in range(limit):
        if books.over():
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


def bookings(client, books: Books, stop: float, limit: int, rng: random.Random, seed: dict) -> None:
    client.get(f"/book/{SLUG}/")
    token = client.cookies.get("csrftoken", "")
    for _ in range(limit):
        if books.over():
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


def board(client, books: Books, stop: float, limit: int) -> None:
    client.get("/admin/login/")
    client.post(
        "/admin/login/?next=/board/",
        data={"username": OWNER[0], "password": OWNER[1], "csrfmiddlewaretoken": client.cookies.get("csrftoken", "")},
    )
    for index in range(limit):
        if books.over():
            return
        path = "/board/" if index % 3 else "/board/needs-you/"
        timed(books, f"GET {path}", lambda p=path: client.get(p))  # a redirect to the login page shows as 302


def drive(
    base: str, env: dict[str, str], seed: dict, seconds: float, max_requests: int, min_requests: int = 0
) -> tuple[Books, float]:
    import httpx

    stop = time.monotonic() + seconds
    books = Books(stop=stop, min_requests=min_requests, hard_stop=stop + 120)
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
        thread.join(timeout=seconds + 180)
    return books, time.monotonic() - started
