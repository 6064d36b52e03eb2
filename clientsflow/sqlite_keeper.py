"""One idle connection per SQLite database file, held for the life of the process.

SQLite checkpoints the write-ahead log into the database and deletes it when the *last*
connection to a file closes. Connections do close: a web thread's at `CONN_MAX_AGE`, the
dispatcher's after each tick, every one under Django's own thread-per-request server (which the
embedded default used before `clientsflow.webserver`), and without another connection open each
of those closes paid for a checkpoint, an fsync and re-creating the log on the next one (about
1.5 ms of CPU and tens of ms of disk wait on this machine). With this connection open, a close is
cheap; the log is still checkpointed as it grows (`wal_autocheckpoint`,
every 10,000 pages, by whichever connection commits) and when the process exits.

The keeper never starts a transaction, so it holds no read lock and never holds back a
checkpoint. Each process holds its own; nothing needs to agree between processes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

_lock = threading.Lock()
_kept: dict[str, tuple[int, sqlite3.Connection]] = {}


def keep_sqlite_file_open(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: make sure this process holds an idle connection to the file."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():  # type: ignore[attr-defined]
        return
    path = str(connection.settings_dict["NAME"])
    try:
        inode = os.stat(path).st_ino
    except OSError:
        return
    kept = _kept.get(path)
    if kept is not None and kept[0] == inode:
        return
    with _lock:
        kept = _kept.get(path)
        if kept is not None and kept[0] == inode:
            return
        if kept is not None:
            kept[1].close()  # the file was replaced (a scratch or test database made again)
        keeper = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Reading the schema opens the log and its shared memory, then releases every lock.
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()
        _kept[path] = (inode, keeper)


def sqlite_keeper_release(path: str) -> None:
    """Close this process's idle connection to `path`. Call it before deleting or replacing the
    file: SQLite removes a log by its path when the last connection to a file closes, so a keeper
    outliving its file would remove (or truncate under) the log of the file made in its place."""
    with _lock:
        kept = _kept.pop(str(path), None)
    if kept is not None:
        kept[1].close()
