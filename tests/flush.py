"""A transactional test's flush on PostgreSQL, made cheap.

After a transactional test Django empties every table (one TRUNCATE of all ~60), then sends
post_migrate, whose receivers put back the rows every test starts from: content types,
permissions, and (ours, in the root conftest) the staff roles and the one Beat entry. Both halves
cost seconds per test on a loaded machine: a TRUNCATE gives each table and index a new file and
scans shared buffers for each, and post_migrate queries and re-creates ~400 rows app by app.

Here the flush DELETEs from the tables that have rows (triggers, ours and the foreign-key checks,
off while it deletes, as they are for TRUNCATE, which needs a superuser), and keeps the rows that
post_migrate would make when they are exactly what the last full flush left: each table that
had rows after that flush has a fingerprint (an md5 over its rows, ids included), compared first.
When all are unchanged, those tables are kept and post_migrate is not sent: its receivers only
create what is missing, and nothing is. When any changed, every non-empty table is emptied and
post_migrate is sent, as Django does, and the fingerprints are taken anew.

Keeping them is safe for the foreign keys: an unchanged row points to rows that existed when the
fingerprints were taken, and those are in the kept tables themselves (all of them unchanged).
The end state is the full flush's either way (tests/test_flush.py compares the two).

Anywhere else (SQLite, a flush that resets sequences or cascades, no superuser to switch the
triggers off) it is Django's own flush and post_migrate.
"""

from __future__ import annotations

from typing import Any

from django.core.management.sql import emit_post_migrate_signal, sql_flush

# md5 of no rows at all (the fingerprint of an empty table).
EMPTY = "d41d8cd98f00b204e9800998ecf8427e"


class FlushBaseline:
    """The fingerprints of the tables the last full flush left rows in, per database alias."""

    def __init__(self) -> None:
        self.fingerprints: dict[str, dict[str, str]] = {}
        self.kept: set[str] = set()  # aliases whose current flush kept its rows: no post_migrate
        self.full_flushes = 0
        self.kept_flushes = 0

    def sql_flush(self, style: Any, connection: Any, *, reset_sequences: bool = True, allow_cascade: bool = False):
        self.kept.discard(connection.alias)
        if not _applies(connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade):
            self.fingerprints.pop(connection.alias, None)
            return sql_flush(style, connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        names = tables(connection)
        known = self.fingerprints.get(connection.alias, {})
        now = table_fingerprints(connection, names, fingerprinted=set(known))
        unchanged = bool(known) and all(now.get(table) == fingerprint for table, fingerprint in known.items())
        if unchanged:
            deleted = [table for table in now if table not in known]
            self.kept.add(connection.alias)
        else:
            deleted = [table for table, fingerprint in now.items() if fingerprint != EMPTY]
            self.fingerprints.pop(connection.alias, None)
        quote = connection.ops.quote_name
        # Never an empty list: Django's flush sends post_migrate only after statements ran.
        return [
            "SET LOCAL session_replication_role = replica",
            *(f"DELETE FROM {quote(table)}" for table in deleted),  # noqa: S608  (Django's own table names)
        ]

    def emit_post_migrate_signal(self, verbosity: int, interactive: bool, db: str, **kwargs: Any) -> None:
        from django.contrib.contenttypes.models import ContentType
        from django.db import connections

        if db in self.kept:
            self.kept.discard(db)
            self.kept_flushes += 1
            # A content type made and deleted during the test may still be cached.
            ContentType.objects.clear_cache()
            return
        emit_post_migrate_signal(verbosity, interactive, db, **kwargs)
        self.full_flushes += 1
        connection = connections[db]
        if _applies(connection, reset_sequences=False, allow_cascade=False):
            now = table_fingerprints(connection, tables(connection), fingerprinted=None)
            self.fingerprints[db] = {table: value for table, value in now.items() if value != EMPTY}


def table_fingerprints(connection: Any, tables: list[str], *, fingerprinted: set[str] | None) -> dict[str, str]:
    """Each table's md5 over its rows, for the tables in `fingerprinted` (all when None); any other
    table is listed only when it has rows, as "rows"."""
    quote = connection.ops.quote_name
    parts = []
    for table in tables:
        if fingerprinted is None or table in fingerprinted:
            parts.append(
                f"SELECT %s, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM {quote(table)} r"  # noqa: S608
            )
        else:
            parts.append(f"SELECT %s, 'rows' WHERE EXISTS (SELECT 1 FROM {quote(table)})")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), tables)
        return dict(cursor.fetchall())


def tables(connection: Any) -> list[str]:
    return sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))


def _applies(connection: Any, *, reset_sequences: bool, allow_cascade: bool) -> bool:
    return connection.vendor == "postgresql" and not reset_sequences and not allow_cascade and _is_superuser(connection)


def _is_superuser(connection: Any) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


# One per test process (each xdist worker has its own database).
FLUSH = FlushBaseline()


def install() -> None:
    """Route the flush command's SQL and its post_migrate through FLUSH."""
    from django.core.management.commands import flush

    flush.sql_flush = FLUSH.sql_flush  # type: ignore[assignment]
    flush.emit_post_migrate_signal = FLUSH.emit_post_migrate_signal  # type: ignore[assignment]
