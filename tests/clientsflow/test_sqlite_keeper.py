"""The process keeps one idle connection to a SQLite file, so closing a request's connection does
not checkpoint and delete the write-ahead log each time (Django's server closes one per request)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper

from clientsflow.sqlite_keeper import sqlite_keeper_release

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")


@pytest.fixture(autouse=True)
def _own_files(django_db_blocker):  # connections to files of the test's own, not the test database
    with django_db_blocker.unblock():
        yield


def _wrapper(path: Path) -> DatabaseWrapper:
    settings = {**connection.settings_dict, "NAME": str(path), "TEST": {}}
    return DatabaseWrapper(settings, alias="keeper_test")


def _make_wal_database(path: Path) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE t (x integer)")
    raw.close()


def test_closing_a_connection_leaves_the_log_in_place(tmp_path: Path) -> None:
    path = tmp_path / "kept.sqlite3"
    _make_wal_database(path)
    for value in range(3):
        wrapper = _wrapper(path)
        with wrapper.cursor() as cursor:
            cursor.execute("INSERT INTO t (x) VALUES (%s)", [value])
        wrapper.close()
        # Without the keeper, this close was the last and SQLite checkpointed and deleted the log.
        assert Path(f"{path}-wal").exists()
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (3,)
    reader.close()


def test_a_replaced_file_gets_a_keeper_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "replaced.sqlite3"
    _make_wal_database(path)
    first = _wrapper(path)
    first.ensure_connection()
    first.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _make_wal_database(path)
    second = _wrapper(path)
    with second.cursor() as cursor:
        cursor.execute("INSERT INTO t (x) VALUES (1)")
    second.close()
    assert Path(f"{path}-wal").exists()


def test_a_released_file_can_be_deleted_and_made_again_without_losing_the_new_log(tmp_path: Path) -> None:
    path = tmp_path / "scratch.sqlite3"
    _make_wal_database(path)
    first = _wrapper(path)
    with first.cursor() as cursor:
        cursor.execute("INSERT INTO t (x) VALUES (1)")
    first.close()
    sqlite_keeper_release(str(path))
    # With no connection left, the log was checkpointed into the file and removed, as without a keeper.
    assert not Path(f"{path}-wal").exists()
    path.unlink()
    _make_wal_database(path)
    second = _wrapper(path)
    with second.cursor() as cursor:
        cursor.execute("INSERT INTO t (x) VALUES (2)")
    second.close()
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT x FROM t").fetchall() == [(2,)]
    reader.close()


def test_a_connection_checkpoints_the_log_every_ten_thousand_pages(tmp_path: Path) -> None:
    """Every connection Django opens checkpoints the log at 10,000 pages (SQLite's default is
    1,000: a checkpoint every ~30 lead deliveries)."""
    path = tmp_path / "settings.sqlite3"
    _make_wal_database(path)
    wrapper = _wrapper(path)
    with wrapper.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (10_000,)
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone() == (1,)  # NORMAL: a commit waits for no fsync, a checkpoint does
    wrapper.close()
