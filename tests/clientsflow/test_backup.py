"""`manage.py backup` / `restore`: a seeded database survives the round trip table for table.

The commands run in subprocesses against database files (and PostgreSQL databases) of their own,
exactly as an operator runs them, so the restore really lands in a fresh, empty database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWN_SETTINGS = ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "CLIENTSFLOW_VAR_DIR", "DEBUG")


def manage(*args: str, database_url: str, var_dir: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    # No REDIS_URL: every task runs in-process, and nothing reaches a shared Redis.
    env = {k: v for k, v in os.environ.items() if k not in OWN_SETTINGS}
    # MEDIA_ROOT defaults to a folder under var/; empty means "this installation keeps no files".
    env.update(DATABASE_URL=database_url, CLIENTSFLOW_VAR_DIR=str(var_dir), MEDIA_ROOT="")
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_state(path: Path) -> tuple[dict[str, int], str]:
    """Every table's row count, and a SHA-256 of every leads row in id order."""
    db = sqlite3.connect(path)
    try:
        tables = [
            r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        ]
        counts = {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608
        leads = db.execute("SELECT * FROM leads_lead ORDER BY id").fetchall()
    finally:
        db.close()
    return counts, hashlib.sha256(repr(leads).encode()).hexdigest()


def read_manifest(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.loads(tar.extractfile("manifest.json").read())


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, Path]:
    """A migrated SQLite file with 50 demo leads and everything around them."""
    folder = tmp_path_factory.mktemp("backup-source")
    source = folder / "source.sqlite3"
    ok(manage("migrate", "--noinput", "-v", "0", database_url=sqlite_url(source), var_dir=folder / "var"))
    ok(manage("seed_demo", "--leads", "50", "--seed", "1", database_url=sqlite_url(source), var_dir=folder / "var"))
    return source, folder / "var"


@pytest.fixture(scope="module")
def archive(seeded, tmp_path_factory) -> Path:
    source, var_dir = seeded
    path = tmp_path_factory.mktemp("backup-archive") / "snapshot.tar"
    out = ok(manage("backup", "--to", str(path), database_url=sqlite_url(source), var_dir=var_dir))
    assert f"Backup written to {path}" in out
    return path


def test_sqlite_round_trip_restores_every_table_and_every_lead(seeded, archive, tmp_path):
    source, var_dir = seeded
    fresh = tmp_path / "fresh.sqlite3"

    out = ok(manage("restore", str(archive), database_url=sqlite_url(fresh), var_dir=var_dir))

    source_counts, source_leads = sqlite_state(source)
    restored_counts, restored_leads = sqlite_state(fresh)
    assert restored_counts == source_counts
    assert source_counts["leads_lead"] == 50
    assert restored_leads == source_leads
    assert "every table's row count matches the manifest" in out
    manifest = read_manifest(archive)
    assert manifest["row_counts"] == source_counts
    assert manifest["engine"] == "sqlite"
    assert "0001_initial" in manifest["migrations"]["leads"]
    assert manifest["media"] == {
        "included": False,
        "note": "MEDIA_ROOT is not set: this installation keeps no uploaded files.",
    }
    [database] = manifest["files"]
    with tarfile.open(archive) as tar:
        stored = tar.extractfile("database.sqlite3").read()
    assert database == {"path": "database.sqlite3", "size": len(stored), "sha256": hashlib.sha256(stored).hexdigest()}


def test_restore_refuses_a_database_with_data_unless_forced(seeded, archive, tmp_path):
    source, var_dir = seeded
    target = tmp_path / "in-use.sqlite3"
    shutil.copy(source, target)
    with sqlite3.connect(target) as db:
        db.execute("DELETE FROM leads_leadevent")
        db.execute("INSERT INTO auth_group (name) VALUES ('made after the backup')")
    groups_before = sqlite_state(target)[0]["auth_group"]

    refused = manage("restore", str(archive), database_url=sqlite_url(target), var_dir=var_dir)

    assert refused.returncode != 0
    assert "The database is not empty" in refused.stderr and "--force" in refused.stderr
    assert sqlite_state(target)[0]["auth_group"] == groups_before  # untouched

    ok(manage("restore", str(archive), "--force", database_url=sqlite_url(target), var_dir=var_dir))
    assert sqlite_state(target) == sqlite_state(source)


def test_a_damaged_archive_is_refused_by_its_checksum(archive, seeded, tmp_path):
    _, var_dir = seeded
    damaged = tmp_path / "damaged.tar"
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        offset = tar.getmember("database.sqlite3").offset_data + 4096
    data[offset] ^= 0xFF
    damaged.write_bytes(bytes(data))
    fresh = tmp_path / "fresh.sqlite3"

    result = manage("restore", str(damaged), database_url=sqlite_url(fresh), var_dir=var_dir)

    assert result.returncode != 0
    assert "the checksum of database.sqlite3 does not match the manifest" in result.stderr
    assert not fresh.exists() or sqlite_state_tables(fresh) == []


def sqlite_state_tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def test_uploaded_files_go_into_the_default_path_and_come_back(seeded, tmp_path):
    source, _ = seeded
    var_dir = tmp_path / "var"
    media = tmp_path / "media"
    (media / "proposals").mkdir(parents=True)
    (media / "proposals" / "acme.pdf").write_bytes(b"%PDF-1.7 acme")
    (media / "logo.png").write_bytes(b"\x89PNG logo")

    out = ok(manage("backup", database_url=sqlite_url(source), var_dir=var_dir, MEDIA_ROOT=str(media)))

    [path] = (var_dir / "backups").glob("clientsflow-*.tar")
    assert f"Backup written to {path}" in out
    assert path.name[len("clientsflow-") : -len(".tar")].replace("-", "").isdigit()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    manifest = read_manifest(path)
    assert manifest["media"]["included"] is True
    assert {f["path"]: f["sha256"] for f in manifest["files"] if f["path"].startswith("media/")} == {
        "media/logo.png": hashlib.sha256(b"\x89PNG logo").hexdigest(),
        "media/proposals/acme.pdf": hashlib.sha256(b"%PDF-1.7 acme").hexdigest(),
    }

    elsewhere = tmp_path / "restored-media"
    fresh = tmp_path / "fresh.sqlite3"
    without_media_root = manage("restore", str(path), database_url=sqlite_url(fresh), var_dir=var_dir)
    assert without_media_root.returncode != 0 and "MEDIA_ROOT is not set" in without_media_root.stderr
    ok(manage("restore", str(path), database_url=sqlite_url(fresh), var_dir=var_dir, MEDIA_ROOT=str(elsewhere)))
    assert (elsewhere / "proposals" / "acme.pdf").read_bytes() == b"%PDF-1.7 acme"
    assert (elsewhere / "logo.png").read_bytes() == b"\x89PNG logo"


# --- PostgreSQL -----------------------------------------------------------------------------------


def postgres_state(url: str) -> tuple[dict[str, int], str]:
    import psycopg

    with psycopg.connect(url) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        counts = {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608
        leads = db.execute("SELECT * FROM leads_lead ORDER BY id").fetchall()
    return counts, hashlib.sha256(repr(leads).encode()).hexdigest()


@pytest.mark.services
def test_postgres_round_trip_into_a_fresh_database(settings, archive, tmp_path):
    import psycopg

    server = settings.DATABASES["default"]
    base = f"postgres://{server['USER']}@{server['HOST']}:{server['PORT']}"
    names = [f"wt_backup_src_{os.getpid()}", f"wt_backup_restore_{os.getpid()}"]
    source_url, fresh_url = (f"{base}/{name}" for name in names)
    var_dir = tmp_path / "var"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        ok(manage("migrate", "--noinput", "-v", "0", database_url=source_url, var_dir=var_dir))
        ok(manage("seed_demo", "--leads", "50", "--seed", "1", database_url=source_url, var_dir=var_dir))
        pg_archive = tmp_path / "pg.tar"
        ok(manage("backup", "--to", str(pg_archive), database_url=source_url, var_dir=var_dir))
        assert read_manifest(pg_archive)["files"][0]["path"] == "database.pgdump"

        wrong_engine = manage("restore", str(archive), database_url=fresh_url, var_dir=var_dir)
        assert wrong_engine.returncode != 0 and "backup is of a sqlite database" in wrong_engine.stderr

        ok(manage("restore", str(pg_archive), database_url=fresh_url, var_dir=var_dir))
        source_counts, source_leads = postgres_state(source_url)
        assert source_counts["leads_lead"] == 50
        assert postgres_state(fresh_url) == (source_counts, source_leads)
        assert read_manifest(pg_archive)["row_counts"] == source_counts

        refused = manage("restore", str(pg_archive), database_url=fresh_url, var_dir=var_dir)
        assert refused.returncode != 0 and "--force" in refused.stderr
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
