"""Faults against real processes on 127.0.0.1: a private redis-server (started and killed here, never
the shared one on 6379), real Celery workers and Beats against the test PostgreSQL database.

- a worker SIGKILLed mid-task: the event stays unprocessed (acks_late, nothing half-written), the
  dispatcher's sweep re-queues it, the effect happens once, and a late redelivery changes nothing;
- Redis stopped (10 s, and until 20 deliveries were answered) while signed lead webhooks keep
  arriving over HTTP on 127.0.0.1 from several clients at once: every delivery is stored and
  answered 200; when Redis is back a dispatcher tick runs `webhook_sweep` in the worker, which
  re-queues what was not queued, and each delivery is processed exactly once;
- two Beats at once: dispatch is sent by both, yet each job runs once per slot.

The PostgreSQL-restart scenario is not here: it needs a private PostgreSQL cluster (initdb as a
non-root user), which is left for later (see the report).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from celery import current_app
from django.db import connection
from django.test import Client
from django.utils import timezone

from clientsflow.models import JobRun, WebhookEvent
from clientsflow.signatures import hmac_sha256_hex
from clientsflow.webhooks import webhook_event_process
from leads.models import Lead

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
SECRET = "faults-lead-secret-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def psycopg_dsn() -> str:
    return database_url().replace("postgres://", "postgresql://", 1)


def wait_until(predicate, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class RedisServer:
    """A throwaway redis-server on a free loopback port; kill() and start() again on the same port."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self._answers, 10), "private redis-server did not start"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


def reset_producer() -> None:
    """Forget this process's pooled broker connections (they point at the previous broker URL)."""
    current_app._pool = None
    current_app.amqp._producer_pool = None


@pytest.fixture
def stack(settings, private_redis, tmp_path):
    """Point this process's Celery at the private Redis and a private queue; start workers/beats on demand."""
    queue = f"cf-faults-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    settings.LEAD_WEBHOOK_SECRET = SECRET
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": private_redis.url,
        "CELERY_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LEAD_WEBHOOK_SECRET": SECRET,
        "CACHE_KEY_PREFIX": queue,
        "LOG_LEVEL": "WARNING",
        # The sweep run by a worker treats anything not yet processed as stale (the outage test).
        "DISPATCHER_STALE_WEBHOOK_MINUTES": "0",
    }
    conf = current_app.conf
    previous = (conf.broker_url, conf.task_default_queue, conf.task_always_eager)
    conf.broker_url, conf.task_default_queue, conf.task_always_eager = private_redis.url, queue, False
    current_app.amqp.__dict__.pop("queues", None)
    reset_producer()
    procs: list[subprocess.Popen] = []

    def spawn(*args: str, name: str) -> subprocess.Popen:
        log = (tmp_path / f"{name}-{len(procs)}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "clientsflow", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    def worker() -> subprocess.Popen:
        return spawn(
            "worker", "--pool=solo", "-Q", queue, "--loglevel=WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat", name="worker",
        )  # fmt: skip

    def beat() -> subprocess.Popen:
        pidfile = tmp_path / f"beat-{len(procs)}.pid"
        return spawn(
            "beat", "--loglevel=WARNING", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile", str(pidfile), name="beat",
        )  # fmt: skip

    try:
        yield type("Stack", (), {"worker": staticmethod(worker), "beat": staticmethod(beat), "queue": queue})
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        conf.broker_url, conf.task_default_queue, conf.task_always_eager = previous
        current_app.amqp.__dict__.pop("queues", None)
        reset_producer()


def post_lead(email: str):
    body = json.dumps({"name": "Fault Lead", "email": email}).encode()
    return Client().post(
        "/webhooks/leads/website/",
        data=body,
        content_type="application/json",
        headers={"X-Signature": hmac_sha256_hex(SECRET, body)},
    )


def sweep_now(settings) -> int:
    from clientsflow.jobs import webhook_sweep

    settings.DISPATCHER_STALE_WEBHOOK_MINUTES = 0
    return webhook_sweep()["requeued"]


def all_processed() -> bool:
    return not WebhookEvent.objects.exclude(status=WebhookEvent.Status.PROCESSED).exists()


def test_worker_killed_mid_task_leaves_nothing_half_done_and_the_effect_happens_once(stack, settings):
    # The task is queued before any worker runs, and its row is locked here, so the worker that takes
    # it blocks inside the task: that is where it gets SIGKILL.
    response = post_lead("killed@example.com")
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    with psycopg.connect(psycopg_dsn()) as locker, psycopg.connect(psycopg_dsn(), autocommit=True) as watcher:
        locker.execute("SELECT id FROM clientsflow_webhookevent WHERE id = %s FOR UPDATE", [event.pk])
        first = stack.worker()
        waiting = wait_until(
            lambda: (
                watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()[0]
                > 0
            ),
            timeout=30,
        )
        assert waiting, "the worker never reached the task"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        locker.rollback()
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.RECEIVED  # nothing half-written, nothing marked done
    assert not Lead.objects.exists()

    stack.worker()
    assert sweep_now(settings) == 1
    assert wait_until(all_processed, timeout=60), "the re-queued event was not processed"
    assert Lead.objects.filter(email="killed@example.com").count() == 1

    # The killed delivery comes back later (acks_late redelivery): it changes nothing.
    again = webhook_event_process(event_id=event.pk)
    assert again is not None and again.status == WebhookEvent.Status.PROCESSED
    assert Lead.objects.filter(email="killed@example.com").count() == 1
    event.refresh_from_db()
    assert event.attempts == 1


# Redis stays stopped this long, and until OUTAGE_MIN_DELIVERIES were answered, while webhooks keep
# arriving from OUTAGE_SENDERS clients at once. A delivery without a broker takes under a second
# (Celery's publish retries, then the sweep's turn), so 10 s spans a dozen of them back to back per
# client: the same proof as the 30 s this used to wait, in a third of the time.
REDIS_OUTAGE_SECONDS = 10
OUTAGE_SENDERS = 4
OUTAGE_MIN_DELIVERIES = 20
OUTAGE_MAX_REQUESTS = 400  # the load's bound (whichever comes first)
OUTAGE_HARD_STOP_SECONDS = 90  # a machine too loaded to answer 20 deliveries by then fails below


def signed_lead(email: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"name": "Fault Lead", "email": email}).encode()
    return body, {"Content-Type": "application/json", "X-Signature": hmac_sha256_hex(SECRET, body)}


def test_redis_stopped_under_webhook_load_everything_stored_answered_and_caught_up_once(
    stack, private_redis, live_server
):
    import httpx

    from clientsflow.dispatcher import dispatch_tick, registry

    stack.worker()
    web = httpx.Client(base_url=live_server.url, timeout=30)  # real HTTP on 127.0.0.1
    before = [
        web.post("/webhooks/leads/website/", content=b, headers=h)
        for b, h in map(signed_lead, [f"before-{i}@example.com" for i in range(5)])
    ]
    assert [r.status_code for r in before] == [200] * 5
    assert wait_until(all_processed, timeout=30)

    private_redis.kill()
    down_at = time.monotonic()
    lock = threading.Lock()
    during: list[str] = []
    answers: list[tuple[str, int, str, float]] = []  # (email, status, body's status, seconds)

    def outage_over() -> bool:
        held = time.monotonic() - down_at
        return (
            (held >= REDIS_OUTAGE_SECONDS and len(during) >= OUTAGE_MIN_DELIVERIES)
            or len(during) >= OUTAGE_MAX_REQUESTS
            or held >= OUTAGE_HARD_STOP_SECONDS
        )

    errors: list[str] = []

    def sender(number: int) -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as own:
            for n in range(OUTAGE_MAX_REQUESTS):
                with lock:
                    if outage_over():
                        return
                email = f"during-{number}-{n}@example.com"
                body, headers = signed_lead(email)
                sent_at = time.monotonic()
                try:
                    response = own.post("/webhooks/leads/website/", content=body, headers=headers)
                    said = response.json().get("status", "") if response.status_code == 200 else response.text
                except Exception as exc:  # reported by the test, not lost in a thread
                    with lock:
                        errors.append(f"{email}: {exc!r}")
                    return
                with lock:
                    answers.append((email, response.status_code, said, time.monotonic() - sent_at))
                    during.append(email)
                time.sleep(0.05)

    senders = [threading.Thread(target=sender, args=(number,)) for number in range(OUTAGE_SENDERS)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=OUTAGE_HARD_STOP_SECONDS + 60)
    assert not any(thread.is_alive() for thread in senders), "a sender hung"
    assert errors == [], errors
    refused = [(email, status, said) for email, status, said, _ in answers if (status, said) != (200, "accepted")]
    assert refused == [], refused
    slowest = max(seconds for *_, seconds in answers)
    held = time.monotonic() - down_at
    assert held >= REDIS_OUTAGE_SECONDS or len(during) >= OUTAGE_MAX_REQUESTS
    assert len(during) >= OUTAGE_MIN_DELIVERIES, f"only {len(during)} deliveries in {held:.0f} s of outage"
    assert slowest < 10, f"a delivery took {slowest:.1f} s to answer without a broker"
    # Everything that arrived during the outage is stored and waiting (nothing could be queued).
    assert WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).count() == len(during)
    assert not Lead.objects.filter(email__startswith="during-").exists()

    private_redis.start()  # empty: whatever was queued before the outage is gone too
    # Recovery goes through the dispatcher: a tick claims the sweep's slot, the worker runs the job,
    # and the job re-queues every event left unprocessed.
    sweep = {"webhook_sweep": registry()["webhook_sweep"]}
    assert dispatch_tick(jobs=sweep) == ["webhook_sweep"]
    assert dispatch_tick(jobs=sweep) == []  # the same slot is never claimed twice
    assert wait_until(all_processed, timeout=90), "the worker did not catch up after Redis returned"
    run = JobRun.objects.get(job="webhook_sweep")
    assert run.status == JobRun.Status.SUCCEEDED and run.result == {"requeued": len(during)}, (
        run.status,
        run.result,
        run.error,
    )

    emails = sorted(Lead.objects.values_list("email", flat=True))
    assert emails == sorted([f"before-{i}@example.com" for i in range(5)] + during)  # one lead per delivery
    assert WebhookEvent.objects.count() == 5 + len(during)
    assert not WebhookEvent.objects.exclude(attempts=1).exists()  # each processed exactly once
    web.close()


def test_two_beats_at_once_run_each_job_once_per_slot(stack):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from clientsflow.dispatcher import registry

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name="dispatch", defaults={"task": "clientsflow.tasks.dispatch", "interval": every_second, "enabled": True}
    )
    stack.worker()
    window_start = timezone.now()
    beats = [stack.beat(), stack.beat()]
    assert wait_until(JobRun.objects.exists, timeout=45), "the Beats did not get dispatch to run"
    # Both Beats are ticking once dispatch has run; give each several more ticks from there
    # (on a loaded machine a Beat can take most of the old fixed window just to start).
    time.sleep(6)
    assert all(beat.poll() is None for beat in beats), "a Beat exited"
    for beat in beats:
        os.killpg(beat.pid, signal.SIGTERM)  # a Beat writes its run counts to the database as it stops
        assert beat.wait(timeout=15) == 0
    window_end = timezone.now()
    # DatabaseScheduler saves counts lazily; at shutdown the last Beat's count is there.
    assert PeriodicTask.objects.get(name="dispatch").total_run_count >= 3, "dispatch was not sent every second"
    assert wait_until(lambda: not JobRun.objects.filter(status=JobRun.Status.QUEUED).exists(), timeout=30)

    jobs = registry()
    runs = list(JobRun.objects.values_list("job", "slot"))
    assert runs, "no job ran"
    assert len(runs) == len(set(runs)), "a job ran twice for one slot"
    for name, slot in runs:
        probe = window_start
        possible = set()
        while probe <= window_end + timedelta(seconds=2):
            possible.add(jobs[name].schedule.slot(probe))
            probe += timedelta(seconds=1)
        assert slot in possible, (name, slot)
    assert JobRun.objects.filter(job="webhook_sweep").count() <= 2  # one per 5-minute slot in the window
