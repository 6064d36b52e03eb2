"""Database triggers on `leads_lead`, the SQL of each database in one place.

The board's counts (`LeadCount`) are kept by these triggers in the same transaction as every
write to a lead, whoever makes it. Migrations install them (`leads.migrations.0014_lead_counters`);
a later migration that makes SQLite rebuild `leads_lead` (an AlterField, a RemoveField) drops
them with the old table and must call `install_counter_triggers` again: tests/leads/test_counters.py
fails when they are missing.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

# Rows per counter key on PostgreSQL; more shards, less waiting under concurrent intake.
COUNTER_SHARDS = 16

# A bulk insert of leads (the CSV import) turns the per-row insert triggers off for its own
# statement and then brings the counts and the search index up to date for all its rows at once
# (`lead_bulk_insert`). The switch is local to the inserting transaction: on PostgreSQL a
# transaction-local setting; on SQLite the insert triggers are dropped and created again inside
# the transaction. SQLite's insert triggers also stand aside while this table holds a row (a
# switch written and deleted inside a transaction, as migration leads 0022 installed it), which
# `lead_bulk_insert` no longer uses there: see its docstring for why.
BULK_INSERT_TABLE_SQLITE = "leads_lead_bulk_insert"
BULK_INSERT_SETTING_PG = "leads.bulk_insert"
_NOT_BULK_SQLITE = f"NOT EXISTS (SELECT 1 FROM {BULK_INSERT_TABLE_SQLITE})"
_BULK_TABLE_SQLITE = f"CREATE TABLE IF NOT EXISTS {BULK_INSERT_TABLE_SQLITE} (on_ integer NOT NULL)"

COUNTER_TRIGGERS_SQLITE = ("leads_lead_count_insert", "leads_lead_count_update", "leads_lead_count_delete")
COUNTER_TRIGGER_PG = "leads_lead_count"

# Each counter row also counts the writes that touched its key (`changes`: +1 for every lead a
# trigger adds to it or takes from it; it never goes down). A column's sum of it is a stamp that
# moves with every arrival, move, "seen", merge or delete in that column, committed with the write
# itself: the board keys its columns' cache entries on it, so no writer has to tell the cache
# (`leads.selectors.board_summary`). Migrations before leads 0029 install the triggers without it.


def _counter_sql(*, changes: bool) -> tuple[list[str], list[str], str]:
    """The counter triggers of SQLite and of PostgreSQL, and the recount from the leads table."""
    columns = "stage, source, unseen, shard, n" + (", changes" if changes else "")
    one = ", 1" if changes else ""
    upsert = "ON CONFLICT (stage, source, unseen, shard) DO UPDATE SET n = leads_leadcount.n + excluded.n" + (
        ", changes = leads_leadcount.changes + excluded.changes" if changes else ""
    )
    # SQLite has one writer at a time, so one shard is enough there.
    sqlite = [
        _BULK_TABLE_SQLITE,
        f"""
    CREATE TRIGGER IF NOT EXISTS leads_lead_count_insert AFTER INSERT ON leads_lead
    WHEN NEW.merged_into_id IS NULL AND {_NOT_BULK_SQLITE}
    BEGIN
        INSERT INTO leads_leadcount ({columns})
        VALUES (NEW.stage, NEW.source, NEW.seen_at IS NULL, 0, 1{one}) {upsert};
    END
    """,
        f"""
    CREATE TRIGGER IF NOT EXISTS leads_lead_count_delete AFTER DELETE ON leads_lead
    WHEN OLD.merged_into_id IS NULL
    BEGIN
        INSERT INTO leads_leadcount ({columns})
        VALUES (OLD.stage, OLD.source, OLD.seen_at IS NULL, 0, -1{one}) {upsert};
    END
    """,
        f"""
    CREATE TRIGGER IF NOT EXISTS leads_lead_count_update
    AFTER UPDATE OF stage, source, seen_at, merged_into_id ON leads_lead
    WHEN OLD.stage IS NOT NEW.stage OR OLD.source IS NOT NEW.source
        OR (OLD.seen_at IS NULL) IS NOT (NEW.seen_at IS NULL)
        OR (OLD.merged_into_id IS NULL) IS NOT (NEW.merged_into_id IS NULL)
    BEGIN
        INSERT INTO leads_leadcount ({columns})
        SELECT OLD.stage, OLD.source, OLD.seen_at IS NULL, 0, -1{one} WHERE OLD.merged_into_id IS NULL {upsert};
        INSERT INTO leads_leadcount ({columns})
        SELECT NEW.stage, NEW.source, NEW.seen_at IS NULL, 0, 1{one} WHERE NEW.merged_into_id IS NULL {upsert};
    END
    """,
    ]
    # PostgreSQL: a random shard per write, so concurrent intakes seldom queue on one row lock; the
    # two rows of a move are written in key order, so two moves can never wait on each other in a cycle.
    pg = [
        f"""
    CREATE OR REPLACE FUNCTION leads_lead_count() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        picked smallint := floor(random() * {COUNTER_SHARDS})::smallint;
        old_active boolean := TG_OP <> 'INSERT' AND OLD.merged_into_id IS NULL;
        new_active boolean := TG_OP <> 'DELETE' AND NEW.merged_into_id IS NULL;
    BEGIN
        IF TG_OP = 'INSERT' AND current_setting('{BULK_INSERT_SETTING_PG}', true) = 'on' THEN
            RETURN NULL;
        END IF;
        IF TG_OP = 'UPDATE' AND old_active = new_active AND (NOT new_active OR (
            OLD.stage = NEW.stage AND OLD.source = NEW.source AND (OLD.seen_at IS NULL) = (NEW.seen_at IS NULL)
        )) THEN
            RETURN NULL;
        END IF;
        IF TG_OP = 'INSERT' THEN
            INSERT INTO leads_leadcount ({columns})
            VALUES (NEW.stage, NEW.source, NEW.seen_at IS NULL, picked, 1{one}) {upsert};
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO leads_leadcount ({columns})
            VALUES (OLD.stage, OLD.source, OLD.seen_at IS NULL, picked, -1{one}) {upsert};
        ELSE
            INSERT INTO leads_leadcount ({columns})
            SELECT k.stage, k.source, k.unseen, picked, k.delta{one}
            FROM (VALUES (OLD.stage, OLD.source, OLD.seen_at IS NULL, -1, old_active),
                         (NEW.stage, NEW.source, NEW.seen_at IS NULL, 1, new_active))
                 AS k(stage, source, unseen, delta, active)
            WHERE k.active
            ORDER BY k.stage, k.source, k.unseen
            {upsert};
        END IF;
        RETURN NULL;
    END
    $$
    """,
        "DROP TRIGGER IF EXISTS leads_lead_count ON leads_lead",
        """
    CREATE TRIGGER leads_lead_count
    AFTER INSERT OR DELETE OR UPDATE OF stage, source, seen_at, merged_into_id ON leads_lead
    FOR EACH ROW EXECUTE FUNCTION leads_lead_count()
    """,
    ]
    recount = (
        f"INSERT INTO leads_leadcount ({columns}) "
        f"SELECT stage, source, seen_at IS NULL, 0, COUNT(*){', COUNT(*)' if changes else ''} FROM leads_lead "
        "WHERE merged_into_id IS NULL GROUP BY stage, source, seen_at IS NULL"
    )
    return sqlite, pg, recount


COUNTS_FROM_LEADS_SQL = _counter_sql(changes=True)[2]
_UPSERT = (
    "ON CONFLICT (stage, source, unseen, shard) DO UPDATE SET n = leads_leadcount.n + excluded.n, "
    "changes = leads_leadcount.changes + excluded.changes"
)

_DROP_SQLITE = [f"DROP TRIGGER IF EXISTS {name}" for name in COUNTER_TRIGGERS_SQLITE]
_DROP_PG = ["DROP TRIGGER IF EXISTS leads_lead_count ON leads_lead", "DROP FUNCTION IF EXISTS leads_lead_count()"]

# In key order, as the move trigger writes its two rows: a bulk insert's catch-up and a move (or
# another import) on the same shard then take their row locks in one order and never wait on
# each other in a cycle. Without the ORDER BY, a hash aggregate (PostgreSQL's choice for a large
# import) hands the keys out in any order. tests/leads/test_concurrency.py checks it.
_CATCH_UP_COUNTS = (
    "INSERT INTO leads_leadcount (stage, source, unseen, shard, n, changes) "
    "SELECT stage, source, seen_at IS NULL, %s, COUNT(*), COUNT(*) FROM leads_lead "
    "WHERE id {ids} AND merged_into_id IS NULL GROUP BY stage, source, seen_at IS NULL "
    "ORDER BY stage, source, seen_at IS NULL " + _UPSERT
)
_IDS_SQLITE = "IN (SELECT value FROM json_each(%s))"
_IDS_PG = "= ANY(%s)"


@contextmanager
def lead_bulk_insert(connection: Any) -> Iterator[list[int]]:
    """Insert leads without the per-row insert triggers, then count and index them at once.

    The body inserts new leads (and nothing else into leads_lead) and puts their ids into the
    yielded list. On leaving it, the counts (one upsert per stage, source and seen key) and, on
    SQLite, the search index (one INSERT ... SELECT) take in those rows: the same state the
    per-row triggers would have left. It is its own savepoint, so an error in the body (an
    IntegrityError from the insert) undoes the switch with the rows.

    On SQLite the insert triggers are dropped for the body and created again from their own
    stored text before the savepoint ends (DDL is transactional there, and no other connection
    can write meanwhile: SQLite has one writer). Switching them off is not enough: measured on
    this table (sixteen indexes), any insert trigger at all, even one whose WHEN is constant
    false, about doubles the cost of inserting a row. Other connections re-read the schema once
    after the commit.
    """
    new_ids: list[int] = []
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _bulk_switch(cursor, on=True)
            yield new_ids
            _bulk_switch(cursor, on=False)
            if new_ids:
                cursor.execute(_CATCH_UP_COUNTS.format(ids=_IDS_PG), [random.randrange(COUNTER_SHARDS), new_ids])
            return  # the GIN trigram indexes are kept by PostgreSQL itself
        triggers = _insert_triggers_sqlite(cursor)
        for name, _sql in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        yield new_ids
        for _name, sql in triggers:
            cursor.execute(sql)
        if not new_ids:
            return
        ids = json.dumps(new_ids)
        cursor.execute(_CATCH_UP_COUNTS.format(ids=_IDS_SQLITE), [0, ids])
        cursor.execute(
            f"INSERT INTO {SEARCH_TABLE_SQLITE} (rowid, {_COLS}) "
            f"SELECT id, {_COLS} FROM leads_lead WHERE id {_IDS_SQLITE}",
            [ids],
        )


def _insert_triggers_sqlite(cursor: Any) -> list[tuple[str, str]]:
    """The insert triggers on leads_lead that `lead_bulk_insert` stands in for, as stored."""
    names = [COUNTER_TRIGGERS_SQLITE[0], SEARCH_TRIGGERS_SQLITE[0]]
    cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'leads_lead' AND name IN (%s, %s)",
        names,
    )
    found = sorted(cursor.fetchall(), key=lambda row: names.index(row[0]))
    if [name for name, _sql in found] != names:
        raise RuntimeError("The insert triggers of leads_lead are missing; run `manage.py migrate`.")
    return found


def _bulk_switch(cursor: Any, *, on: bool) -> None:
    """PostgreSQL's switch: a transaction-local setting its insert trigger reads."""
    cursor.execute("SELECT set_config(%s, %s, true)", [BULK_INSERT_SETTING_PG, "on" if on else ""])


def _run(schema_editor: Any, statements: list[str]) -> None:
    for statement in statements:
        schema_editor.execute(statement)


def install_counter_triggers(schema_editor: Any, *, changes: bool = True) -> None:
    """The counter triggers; `changes=False` for the migrations made before `LeadCount.changes`."""
    sqlite, pg, _recount = _counter_sql(changes=changes)
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, pg)
    elif vendor == "sqlite":
        _run(schema_editor, sqlite)
    else:
        raise NotImplementedError(f"No lead counter triggers for {vendor}.")


def counts_from_leads_sql(*, changes: bool = True) -> str:
    """The recount of every counter row from the leads table (into an empty `leads_leadcount`)."""
    return _counter_sql(changes=changes)[2]


def drop_counter_triggers(schema_editor: Any) -> None:
    _run(schema_editor, _DROP_PG if schema_editor.connection.vendor == "postgresql" else _DROP_SQLITE)


def counter_triggers_present(connection: Any) -> bool:
    """Whether this database has the triggers that keep `LeadCount` (for the test and the rebuild)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT COUNT(*) FROM pg_trigger WHERE tgname = %s AND tgrelid = 'leads_lead'::regclass",
                [COUNTER_TRIGGER_PG],
            )
            return bool(cursor.fetchone()[0] == 1)
        cursor.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'leads_lead' AND name IN "
            f"({', '.join('%s' for _ in COUNTER_TRIGGERS_SQLITE)})",
            list(COUNTER_TRIGGERS_SQLITE),
        )
        return bool(cursor.fetchone()[0] == len(COUNTER_TRIGGERS_SQLITE))


# --- Search: FTS5 (trigram) on SQLite, pg_trgm GIN indexes on PostgreSQL ----------------------
# The searched columns; both databases answer "does this column contain the word" from an index.
SEARCH_COLUMNS = ("name", "email", "company", "phone_e164")
SEARCH_TABLE_SQLITE = "leads_lead_search"
SEARCH_TRIGGERS_SQLITE = ("leads_lead_search_insert", "leads_lead_search_delete", "leads_lead_search_update")

_COLS = ", ".join(SEARCH_COLUMNS)
_NEW = ", ".join(f"NEW.{c}" for c in SEARCH_COLUMNS)
_OLD = ", ".join(f"OLD.{c}" for c in SEARCH_COLUMNS)

_SEARCH_SQLITE = [
    # An external-content table: the text stays in leads_lead, the index holds only trigrams.
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SEARCH_TABLE_SQLITE} USING fts5("
    f"{_COLS}, content='leads_lead', content_rowid='id', tokenize='trigram')",
    _BULK_TABLE_SQLITE,
    f"""
    CREATE TRIGGER IF NOT EXISTS leads_lead_search_insert AFTER INSERT ON leads_lead
    WHEN {_NOT_BULK_SQLITE}
    BEGIN
        INSERT INTO {SEARCH_TABLE_SQLITE} (rowid, {_COLS}) VALUES (NEW.id, {_NEW});
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS leads_lead_search_delete AFTER DELETE ON leads_lead BEGIN
        INSERT INTO {SEARCH_TABLE_SQLITE} ({SEARCH_TABLE_SQLITE}, rowid, {_COLS}) VALUES ('delete', OLD.id, {_OLD});
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS leads_lead_search_update AFTER UPDATE OF {_COLS} ON leads_lead BEGIN
        INSERT INTO {SEARCH_TABLE_SQLITE} ({SEARCH_TABLE_SQLITE}, rowid, {_COLS}) VALUES ('delete', OLD.id, {_OLD});
        INSERT INTO {SEARCH_TABLE_SQLITE} (rowid, {_COLS}) VALUES (NEW.id, {_NEW});
    END
    """,
    f"INSERT INTO {SEARCH_TABLE_SQLITE} ({SEARCH_TABLE_SQLITE}) VALUES ('rebuild')",
]
_SEARCH_SQLITE_DROP = [
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SEARCH_TRIGGERS_SQLITE),
    f"DROP TABLE IF EXISTS {SEARCH_TABLE_SQLITE}",
]

_SEARCH_PG = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    *(
        f"CREATE INDEX IF NOT EXISTS lead_{column}_trgm_idx ON leads_lead USING gin ({column} gin_trgm_ops)"
        for column in SEARCH_COLUMNS
    ),
]
_SEARCH_PG_DROP = [f"DROP INDEX IF EXISTS lead_{column}_trgm_idx" for column in SEARCH_COLUMNS]

# PostgreSQL searches one text per lead: its searched fields joined by a space. A searched word
# never holds a space (the query is split on whitespace), so the word is inside this text exactly
# when it is inside one of the fields (each NOT NULL). One trigram index over it answers each word
# (or typo variant) with one index lookup instead of one per column, and an insert writes one
# GIN index instead of four. Queries must spell the expression as here for the index to serve them.
SEARCH_TEXT_PG = " || ' ' || ".join(f'"leads_lead"."{column}"' for column in SEARCH_COLUMNS)
_SEARCH_TEXT_INDEX_PG = "lead_search_trgm_idx"  # migration 0024's, replaced by 0025's
_SEARCH_TEXT_PG_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {_SEARCH_TEXT_INDEX_PG} ON leads_lead USING gin (({SEARCH_TEXT_PG}) gin_trgm_ops)"
)
# The same trigrams with the lead's stage in front (btree_gin): a GIN index answers a condition on
# any of its columns, so a plain search uses it as it used the trigram index alone, and the board
# under a search asks it for one stage's matches only (`stage = %s AND ... ILIKE %s`), the stage's
# posting list intersected with the words' inside the index. One GIN index to write per insert, as
# before; a move writes it as it writes the board's B-tree indexes, which hold the stage too.
SEARCH_INDEX_PG = "lead_search_stage_trgm_idx"
_SEARCH_STAGE_PG_INDEX = (
    f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX_PG} ON leads_lead USING gin (stage, ({SEARCH_TEXT_PG}) gin_trgm_ops)"
)


def install_search(schema_editor: Any) -> None:
    _run(schema_editor, _SEARCH_PG if schema_editor.connection.vendor == "postgresql" else _SEARCH_SQLITE)


def drop_search(schema_editor: Any) -> None:
    _run(schema_editor, _SEARCH_PG_DROP if schema_editor.connection.vendor == "postgresql" else _SEARCH_SQLITE_DROP)


def install_search_text_index(schema_editor: Any) -> None:
    """PostgreSQL: the one trigram index over `SEARCH_TEXT_PG` in place of one per column."""
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, ["CREATE EXTENSION IF NOT EXISTS pg_trgm", _SEARCH_TEXT_PG_INDEX, *_SEARCH_PG_DROP])


def drop_search_text_index(schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, [*_SEARCH_PG[1:], f"DROP INDEX IF EXISTS {_SEARCH_TEXT_INDEX_PG}"])


def install_search_stage_index(schema_editor: Any) -> None:
    """PostgreSQL: the trigram index with the stage in front in place of the trigram index alone."""
    if schema_editor.connection.vendor == "postgresql":
        _run(
            schema_editor,
            [
                "CREATE EXTENSION IF NOT EXISTS btree_gin",
                _SEARCH_STAGE_PG_INDEX,
                f"DROP INDEX IF EXISTS {_SEARCH_TEXT_INDEX_PG}",
            ],
        )


def drop_search_stage_index(schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, [_SEARCH_TEXT_PG_INDEX, f"DROP INDEX IF EXISTS {SEARCH_INDEX_PG}"])


def search_triggers_present(connection: Any) -> bool:
    """Whether the search index is kept up to date by this database (triggers on SQLite, indexes on PG)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'leads_lead' AND indexname = %s", [SEARCH_INDEX_PG]
            )
            return bool(cursor.fetchone()[0] == 1)
        cursor.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'leads_lead' AND name IN "
            f"({', '.join('%s' for _ in SEARCH_TRIGGERS_SQLITE)})",
            list(SEARCH_TRIGGERS_SQLITE),
        )
        return bool(cursor.fetchone()[0] == len(SEARCH_TRIGGERS_SQLITE))


def install_bulk_insert_switch(schema_editor: Any) -> None:
    """Replace the insert triggers of a database migrated before `lead_bulk_insert` existed with
    ones that obey its switch (the update and delete triggers stay as they are). Migration leads
    0022's, before `LeadCount.changes`."""
    sqlite, pg, _recount = _counter_sql(changes=False)
    if schema_editor.connection.vendor == "postgresql":
        _run(schema_editor, pg[:1])  # CREATE OR REPLACE FUNCTION: the trigger calls the new body
        return
    _run(
        schema_editor,
        ["DROP TRIGGER IF EXISTS leads_lead_count_insert", "DROP TRIGGER IF EXISTS leads_lead_search_insert"],
    )
    _run(schema_editor, [sqlite[0], sqlite[1], _SEARCH_SQLITE[2]])
