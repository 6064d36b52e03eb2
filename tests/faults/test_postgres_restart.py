"""PostgreSQL restarted under a running web app: requests during the outage get a 503 with a retry
hint and write nothing; the app answers again once PostgreSQL is back, without being restarted.

A PRIVATE PostgreSQL cluster is created here (initdb into a temp dir, its own loopback port and
socket directory) and stopped and started; the machine's shared PostgreSQL is never touched.
PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user (runuser).
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]
SECRET = "pg-restart-secret-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PrivatePostgres:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cf-pg-"))
        self.data, self.sockets = self.dir / "data", self.dir / "sock"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            self.sockets.mkdir()
            for path in (self.dir, self.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        else:
            self.sockets.mkdir()

    def run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self.run(pg_bin("initdb") or "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(
            pg_bin("pg_ctl") or "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self.run(pg_bin("pg_ctl") or "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.url("cf").replace("postgres://", "postgresql://"), connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def private_postgres():
    if not pg_bin("initdb") or not pg_bin("pg_ctl"):
        pytest.skip("initdb/pg_ctl are not installed: cannot start a private PostgreSQL cluster")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root with no `postgres` user: PostgreSQL refuses to run as root")
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: PostgreSQL refuses to run as root")
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        with psycopg.connect(server.url("postgres").replace("postgres://", "postgresql://"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE cf")
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(server.dir, ignore_errors=True)


def copy_test_database(private_postgres: PrivatePostgres, test_database_url: str) -> bool:
    """The suite's migrated test database, dumped into the private cluster's `cf` (as every test
    leaves it: the migrations' rows only). False if that could not be done."""
    pg_dump, psql = pg_bin("pg_dump"), pg_bin("psql")
    if not pg_dump or not psql:
        return False
    dump = subprocess.run(
        [pg_dump, "--no-owner", "--no-privileges", "-d", test_database_url], capture_output=True, timeout=120
    )
    if dump.returncode != 0:
        return False
    restore = subprocess.run(
        [psql, "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", private_postgres.url("cf")],
        input=dump.stdout,
        capture_output=True,
        timeout=120,
    )
    if restore.returncode == 0:
        return True
    with psycopg.connect(
        private_postgres.url("postgres").replace("postgres://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute("DROP DATABASE cf")  # half restored: the migrations start from an empty one
        conn.execute("CREATE DATABASE cf")
    return False


@pytest.fixture
def web(private_postgres, tmp_path, django_db_setup, django_db_blocker):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SECURE_HTTPS")},
        "DATABASE_URL": private_postgres.url("cf"),
        "REDIS_URL": "",  # tasks run in the web process after commit: this scenario is about PostgreSQL
        "DEBUG": "0",
        "SECRET_KEY": "pg-restart-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LEAD_WEBHOOK_SECRET": SECRET,
        "CLIENTSFLOW_VAR_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "WARNING",
    }
    # A copy of the suite's test database instead of every migration run again (~20 s less);
    # the migrations run if it cannot be made.
    with django_db_blocker.unblock():
        db = connection.settings_dict
        test_database_url = f"postgresql://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{connection.creation._get_test_db_name()}"
    if not copy_test_database(private_postgres, test_database_url):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300
        )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "clientsflow.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "web.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield base
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=15)


def post_lead(base: str, email: str) -> httpx.Response:
    body = json.dumps({"email": email}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(
        base + "/webhooks/leads/website/",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": signature},
        timeout=30,
    )


def test_postgres_restart_gives_503s_writes_nothing_and_the_app_recovers(private_postgres, web):
    assert post_lead(web, "before@example.com").status_code == 200

    private_postgres.stop()
    during = [post_lead(web, f"during-{i}@example.com") for i in range(4)]
    assert [r.status_code for r in during] == [503] * 4, [r.text for r in during]
    assert all(r.headers.get("Retry-After") for r in during)
    assert all("Try again shortly" in r.json()["error"] for r in during)
    assert httpx.get(web + "/healthz/", timeout=10).status_code == 503

    private_postgres.start()  # the web processes are not restarted
    after = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = post_lead(web, "after@example.com")
        if after.status_code == 200:
            break
        time.sleep(0.5)
    assert after is not None and after.status_code == 200, after and after.text
    assert httpx.get(web + "/healthz/", timeout=10).status_code == 200

    stored = sorted(row[0] for row in private_postgres.query("SELECT body FROM clientsflow_webhookevent"))
    emails = sorted(json.loads(body)["email"] for body in stored)
    assert emails == ["after@example.com", "before@example.com"]  # nothing from the outage, nothing half-written
    leads = sorted(row[0] for row in private_postgres.query("SELECT email FROM leads_lead"))
    assert leads == ["after@example.com", "before@example.com"]
