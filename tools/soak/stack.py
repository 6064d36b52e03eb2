"""The private environment and the processes: database, Redis, SMTP sink, gunicorn, worker, Beat."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tools.soak.plan import DEFAULT_REDIS_URL, PY, ROOT


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


def create_database(database_url: str, name: str, *, template: str = "") -> bool:
    """Create the soak's database: empty, or a copy of `template` (an already migrated database
    nobody else is connected to). False when the copy could not be made (an empty one is then)."""
    import psycopg

    with psycopg.connect(admin_dsn(database_url), autocommit=True, connect_timeout=5) as conn:
        for _ in range(10 if template else 0):
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return True
            except psycopg.errors.ObjectInUse:  # a connection to the template is still closing
                time.sleep(0.3)
        conn.execute(f'CREATE DATABASE "{name}"')
    return False


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
            async def handle_DATA(self, server, session, envelope):
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


def wait_healthy(base: str, stack: Stack, timeout: float = 120) -> None:
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
