"""Scratch databases for `make bench`: each section (and each size of the board's) gets its own,
created from the migrations and dropped afterwards, so a figure is taken on exactly the rows its
section made and the real data is never touched."""

from __future__ import annotations

import os
import resource
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from clientsflow.sqlite_keeper import sqlite_keeper_release


@contextmanager
def scratch_database() -> Iterator[None]:
    if connection.vendor == "sqlite":
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(
            # A new name each time: a file is never made again where a connection may still be open.
            settings.VAR_DIR / f"bench-{os.getpid()}-{uuid.uuid4().hex[:8]}.sqlite3"
        )
    configured_name = settings.DATABASES["default"]["NAME"]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            # Threads of a live server (the browser figure) keep connections open (CONN_MAX_AGE).
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        scratch_file = connection.settings_dict["NAME"] if connection.vendor == "sqlite" else ""
        if scratch_file:
            sqlite_keeper_release(scratch_file)
        connection.creation.destroy_test_db(old_name, verbosity=0)
        for leftover in (f"{scratch_file}-wal", f"{scratch_file}-shm") if scratch_file else ():
            # Django removes the database file only; its write-ahead log and shared-memory index stay.
            Path(leftover).unlink(missing_ok=True)
        # destroy_test_db restores the connection's name only; the next scratch database is
        # named after this one.
        settings.DATABASES["default"]["NAME"] = configured_name


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)  # bytes on macOS, KiB on Linux
