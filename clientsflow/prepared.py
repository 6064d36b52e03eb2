"""Single-row INSERTs compiled once per model and database, for the hot intake path.

`Model.objects.create()` compiles its INSERT anew for every row; on the intake path (a webhook
delivery writes four rows) compiling costs more than the database does. `insert_row` keeps the
SQL that Django's own insert compiler produced for the model and only computes each row's
parameters (`pre_save` and `get_db_prep_save`, exactly as `save()` does), so the row written is
the row `create()` would write. Like `bulk_create`, it sends no `pre_save`/`post_save` signals
and bypasses the model's `save()`; nothing in this project listens to those signals.

The cache holds SQL text only (keyed by model and database alias): each process builds its own
and nothing needs to agree between processes.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import chain
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models.sql import InsertQuery
from django.utils import timezone

M = TypeVar("M", bound=models.Model)

# Per field: its attname, whether it is stamped with now on insert, and its value's preparation.
_Plan = list[tuple[str, bool, Callable[[object], object]]]
_INSERTS: dict[tuple[str, str, bool, bool], tuple[str, _Plan, bool]] = {}


def _compiled_insert(
    obj: models.Model, using: str, *, ignore_conflicts: bool = False, returning: bool = True
) -> tuple[str, _Plan, bool]:
    meta = obj._meta
    key = (meta.label, using, ignore_conflicts, returning)
    cached = _INSERTS.get(key)
    if cached is not None:
        return cached
    connection = connections[using]
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
    if any(getattr(f, "get_placeholder", None) for f in fields):
        raise TypeError(f"{meta.label} has a field with its own SQL placeholder; save it with the ORM.")
    # `pre_save` of every other field type only reads the attribute, so the plan does that.
    if not all(_plain_pre_save(f) for f in fields):
        raise TypeError(f"{meta.label} has a field with its own pre_save; save it with the ORM.")
    query = InsertQuery(obj.__class__)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    returning = returning and connection.features.can_return_columns_from_insert
    compiler.returning_fields = [meta.pk] if returning else None
    [(sql, _params)] = compiler.as_sql()
    if ignore_conflicts:
        # Written out rather than Django's `OnConflict.IGNORE`, which is `INSERT OR IGNORE` on
        # SQLite and would skip a row breaking a CHECK or NOT NULL too: only unique conflicts are
        # skipped here, on both databases (SQLite 3.24+ reads the same clause).
        head, returning_clause, tail = sql.partition(" RETURNING ")
        sql = f"{head} ON CONFLICT DO NOTHING{returning_clause}{tail}"
    plan = [(f.attname, _stamped(f), _prep_for(f, connection)) for f in fields]
    _INSERTS[key] = (sql, plan, returning)
    return _INSERTS[key]


def _plain_pre_save(f: models.Field) -> bool:
    """`pre_save` only reads the attribute, or stamps now (`_stamped`): what the plans do."""
    if isinstance(f, models.DateField) and (f.auto_now or f.auto_now_add):
        return _stamped(f)
    return type(f).pre_save in (models.Field.pre_save, models.DateField.pre_save, models.DateTimeField.pre_save)


def _stamped(f: models.Field) -> bool:
    """A date-and-time field that `pre_save` sets to now when a row is added."""
    return isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add)


def _row_params(obj: models.Model, plan: _Plan) -> list[Any]:
    values = obj.__dict__
    now = None
    params: list[Any] = []
    for attname, stamped, prep in plan:
        if stamped:
            now = now or timezone.now()
            values[attname] = now
        params.append(prep(values[attname]))
    return params


def _mark_saved(obj: models.Model, using: str) -> None:
    obj._state.adding = False
    obj._state.db = using


def insert_row(obj: M, *, using: str = DEFAULT_DB_ALIAS, ignore_conflicts: bool = False) -> M:
    """INSERT `obj` (a new instance with an auto primary key) and set its pk, like `create()`.

    With `ignore_conflicts`, a row that would break a unique constraint is not written
    (`ON CONFLICT DO NOTHING`, any constraint) and `obj.pk` stays None: the caller learns of the
    conflict without an IntegrityError, so without a savepoint to roll back to.
    """
    sql, plan, returning = _compiled_insert(obj, using, ignore_conflicts=ignore_conflicts)
    connection = connections[using]
    params = _row_params(obj, plan)
    meta = obj._meta
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if ignore_conflicts and not returning and cursor.rowcount == 0:
            return obj
        returned = cursor.fetchone() if returning else None
        if returning and returned is None:
            return obj  # ignored: the conflict left nothing to return
        obj.pk = returned[0] if returned else connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)
    _mark_saved(obj, using)
    return obj


def _takes_statements_together(connection: BaseDatabaseWrapper) -> bool:
    """Whether one `execute()` may carry several statements: psycopg's client-side binding cursor
    (Django's default on PostgreSQL) merges the parameters into the text and sends it as one simple
    query. SQLite's driver takes one statement per call (and runs in-process: no round trip to save)."""
    return (
        connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("server_side_binding") is not True
    )


def insert_rows(objs: list[models.Model], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """INSERT new rows, of any models, whose primary keys the caller does not need back: on
    PostgreSQL in one round trip (the statements sent together, in this order, in the caller's
    transaction), elsewhere one statement each. Each row is what `insert_row` would write;
    the instances are left as they were (no pk), to be read back from the database if needed."""
    _execute_together(connections[using], _insert_statements(objs, using))


def _insert_statements(objs: list[models.Model], using: str) -> list[tuple[str, list[Any]]]:
    """Each row's INSERT (as `insert_row` writes it, no pk returned) and its parameters."""
    statements = []
    for obj in objs:
        sql, plan, _returning = _compiled_insert(obj, using, returning=False)
        statements.append((sql, _row_params(obj, plan)))
    return statements


def _execute_together(connection: BaseDatabaseWrapper, statements: list[tuple[str, list[Any]]]) -> None:
    """Run these statements in this order: on PostgreSQL in one round trip (sent together, see
    `_takes_statements_together`), elsewhere one call each."""
    if not statements:
        return
    with connection.cursor() as cursor:
        if len(statements) > 1 and _takes_statements_together(connection):
            cursor.execute("; ".join(sql for sql, _params in statements), [p for _sql, ps in statements for p in ps])
        else:
            for sql, params in statements:
                cursor.execute(sql, params)


_MULTI_ROW: dict[tuple[str, str, int], str] = {}


def insert_rows_together(objs: list[models.Model], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """INSERT new rows, of any models, whose primary keys the caller does not need back: one
    multi-row INSERT per model (its rows in the order given, so their ids follow that order), on
    PostgreSQL all of them in one round trip. Each row is what `insert_row` would write (its
    `auto_now` fields stamped now, here); the instances are left as they were (no pk).

    For a caller that gathers the rows of several services (`pending_rows` arguments) and writes
    them once before its commit: a booking writes its three audit rows in one statement."""
    if not objs:
        return
    connection = connections[using]
    by_model: dict[str, list[models.Model]] = {}
    for obj in objs:
        by_model.setdefault(obj._meta.label, []).append(obj)
    statements: list[tuple[str, list[Any]]] = []
    for label, model_rows in by_model.items():
        sql, plan, _returning = _compiled_insert(model_rows[0], using, returning=False)
        per_statement = max(1, (connection.features.max_query_params or 999) // max(1, len(plan)))
        for start in range(0, len(model_rows), per_statement):
            rows = model_rows[start : start + per_statement]
            key = (label, using, len(rows))
            if key not in _MULTI_ROW:
                head, values_keyword, one_row = sql.partition(" VALUES ")
                if not values_keyword or " VALUES " in one_row:
                    raise TypeError(f"{label}: no single VALUES list to repeat")
                _MULTI_ROW[key] = f"{head} VALUES {', '.join([one_row] * len(rows))}"
            statements.append((_MULTI_ROW[key], [param for row in rows for param in _row_params(row, plan)]))
    _execute_together(connection, statements)


def _link_value(child: models.Model, attname: str, pk: object) -> object:
    """The parent's pk as the child's field holds it: itself, or as text (an audit row's object id)."""
    field = next(f for f in child._meta.concrete_fields if f.attname == attname)
    return str(pk) if isinstance(field, models.CharField | models.TextField) else pk


_WITH_CHILDREN: dict[tuple[Any, ...], tuple[str, list[int]]] = {}


def insert_row_with_children(
    parent: M,
    children: list[tuple[models.Model, str]],
    *,
    ignore_conflicts: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> M:
    """INSERT `parent` (as `insert_row`) and then, only if it was written, each child: `(instance,
    attname)` where `attname` is the child's field that takes the parent's new primary key (a
    foreign key such as `lead_id`, or a text field such as an audit row's `object_id`).

    On PostgreSQL this is one statement, so one round trip: the parent's INSERT is a data-modifying
    `WITH` whose RETURNING the children's INSERTs select from, so a parent skipped on a conflict
    writes no child. Elsewhere (SQLite, in-process) `insert_row` then `insert_rows`. The children's
    pks stay None; `parent.pk` is None when a conflict skipped it.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or not children:
        insert_row(parent, using=using, ignore_conflicts=ignore_conflicts)
        if parent.pk is not None:
            for child, attname in children:
                setattr(child, attname, _link_value(child, attname, parent.pk))
            insert_rows([child for child, _attname in children], using=using)
        return parent
    parent_sql, parent_plan, _returning = _compiled_insert(parent, using, ignore_conflicts=ignore_conflicts)
    compiled = [(child, attname, _compiled_insert(child, using, returning=False)[1]) for child, attname in children]
    key = (parent._meta.label, using, ignore_conflicts, tuple((c._meta.label, a) for c, a, _p in compiled))
    if key not in _WITH_CHILDREN:
        qn = connection.ops.quote_name
        pk = f'"parent".{qn(parent._meta.pk.column)}'
        ctes = [f'"parent" AS ({parent_sql})']
        skipped = []  # per child, the position of the linked field in its plan (its value is the parent's)
        for n, (child, attname, _plan) in enumerate(compiled):
            meta = child._meta
            fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
            linked = [f.attname for f in fields].index(attname)
            link = f"CAST({pk} AS text)" if isinstance(fields[linked], models.CharField | models.TextField) else pk
            values = ", ".join(link if i == linked else "%s" for i in range(len(fields)))
            columns = ", ".join(qn(f.column) for f in fields)
            # Only quoted model identifiers and placeholders go into the text; values are parameters.
            table = qn(meta.db_table)
            ctes.append(f'"child{n}" AS (INSERT INTO {table} ({columns}) SELECT {values} FROM "parent")')  # noqa: S608
            skipped.append(linked)
        _WITH_CHILDREN[key] = (f'WITH {", ".join(ctes)} SELECT {pk} FROM "parent"', skipped)  # noqa: S608
    sql, skipped = _WITH_CHILDREN[key]
    params = _row_params(parent, parent_plan)
    for (child, _attname, plan), linked in zip(compiled, skipped, strict=True):
        child_params = _row_params(child, plan)
        del child_params[linked]
        params.extend(child_params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchone()
    if returned is None:
        return parent  # skipped on a conflict, and so were the children
    parent.pk = returned[0]
    _mark_saved(parent, using)
    for child, attname, _plan in compiled:
        setattr(child, attname, _link_value(child, attname, parent.pk))
    return parent


# A row of `insert_linked_rows`: the new instance, and None for the first row, else `(index, attname)`:
# the earlier row it follows, and its own field that takes that row's new primary key (or None).
LinkedRow = tuple[models.Model, tuple[int, str | None] | None]
_LINKED: dict[tuple[Any, ...], tuple[str, list[int | None]]] = {}


def insert_linked_rows(
    rows: list[LinkedRow], *, unless: tuple[str, list[Any]] | None = None, using: str = DEFAULT_DB_ALIAS
) -> bool:
    """PostgreSQL only: INSERT rows of any models in one statement, all of them or none, and set
    their pks as `insert_row` does. Returns whether they were written.

    The first row is written unless `unless` (a query and its parameters) finds a row, and unless
    it conflicts with a unique constraint (`ON CONFLICT DO NOTHING`). Each later row `(obj,
    (index, attname))` is written only if the row at `index` of `rows` (an earlier one) was, with
    that row's new primary key in its field `attname` (when not None). The statement is a chain of
    data-modifying `WITH`s, each selecting from the one it follows.

    A later row that conflicts raises IntegrityError and nothing is written. The statement is
    atomic by itself: with no transaction open it is its own (committed when it returns; no BEGIN
    or COMMIT round trip); inside one it runs in a savepoint, so an error leaves that transaction
    usable.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise NotImplementedError("insert_linked_rows needs data-modifying WITH queries (PostgreSQL).")
    compiled = [(obj, link, _compiled_insert(obj, using, returning=False)[1]) for obj, link in rows]
    unless_sql, unless_params = unless if unless is not None else ("", [])
    key = (using, unless_sql, tuple((obj._meta.label, link) for obj, link, _plan in compiled))
    if key not in _LINKED:
        _LINKED[key] = _linked_sql(connection, compiled, unless_sql)
    sql, linked_positions = _LINKED[key]
    params: list[Any] = []
    for n, ((obj, _link, plan), linked) in enumerate(zip(compiled, linked_positions, strict=True)):
        row_params = _row_params(obj, plan)
        if linked is not None:
            del row_params[linked]
        params.extend(row_params)
        if n == 0:
            params.extend(unless_params)  # the first row's WHERE follows its values in the text
    with _own_statement(connection), server_prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchone()
    if returned is None:
        return False
    for (obj, link, _plan), pk in zip(compiled, returned, strict=True):
        if link is not None and link[1] is not None:
            setattr(obj, link[1], _link_value(obj, link[1], rows[link[0]][0].pk))
        obj.pk = pk
        _mark_saved(obj, using)
    return True


def _linked_sql(
    connection: BaseDatabaseWrapper, compiled: list[tuple[models.Model, Any, _Plan]], unless_sql: str
) -> tuple[str, list[int | None]]:
    """The statement of `insert_linked_rows`, and per row the position in its plan of the field
    that takes another row's pk (its value comes from that row's CTE, not from a parameter)."""
    qn = connection.ops.quote_name
    ctes, names, linked_positions = [], [], []
    for n, (obj, link, _plan) in enumerate(compiled):
        if link is None:
            if n:
                raise ValueError("Only the first row goes unlinked; each later one follows an earlier row.")
            tail = (f" WHERE NOT EXISTS ({unless_sql})" if unless_sql else "") + " ON CONFLICT DO NOTHING"
            cte, linked = _insert_select(connection, obj, name=f'"r{n}"', source_pk=None, attname=None, tail=tail)
        else:
            if not 0 <= link[0] < n:
                raise ValueError("A row can only follow an earlier row.")
            source = f'"r{link[0]}"'
            source_pk = f"{source}.{qn(compiled[link[0]][0]._meta.pk.column)}"
            cte, linked = _insert_select(
                connection, obj, name=f'"r{n}"', source_pk=source_pk, attname=link[1], tail=f" FROM {source}"
            )
        ctes.append(cte)
        names.append((f'"r{n}"', qn(obj._meta.pk.column)))
        linked_positions.append(linked)
    selected = ", ".join(f"{name}.{pk}" for name, pk in names)
    sql = f"WITH {', '.join(ctes)} SELECT {selected} FROM {', '.join(name for name, _pk in names)}"  # noqa: S608
    return sql, linked_positions


def _insert_select(
    connection: BaseDatabaseWrapper,
    obj: models.Model,
    *,
    name: str,
    source_pk: str | None,
    attname: str | None,
    tail: str,
) -> tuple[str, int | None]:
    """`name AS (INSERT INTO <obj's table> (<its columns>) SELECT <placeholders><tail> RETURNING
    <pk>)`, its field `attname` (when given) taking `source_pk` instead of a placeholder; and that
    field's position among the columns (None when none). Only quoted model identifiers,
    placeholders and the caller's own text go into it."""
    qn = connection.ops.quote_name
    meta = obj._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
    linked = [f.attname for f in fields].index(attname) if attname is not None else None
    if linked is not None and source_pk is not None and isinstance(fields[linked], models.CharField | models.TextField):
        source_pk = f"CAST({source_pk} AS text)"
    values = ", ".join(str(source_pk) if i == linked else "%s" for i in range(len(fields)))
    cte = (
        f"{name} AS (INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"SELECT {values}{tail} RETURNING {qn(meta.pk.column)})"
    )
    return cte, linked


_GUARDED: dict[tuple[Any, ...], tuple[str, _Plan, list[int | None]]] = {}


def update_row_if_unchanged_and_insert_rows(
    obj: models.Model,
    *,
    fields: tuple[str, ...],
    unchanged: dict[str, object],
    rows: list[tuple[models.Model, str | None]],
    using: str = DEFAULT_DB_ALIAS,
) -> bool:
    """PostgreSQL only, one statement, all of it or nothing: UPDATE these fields of `obj`'s row
    (and its `auto_now` ones, as `update_row` does; with no fields, only lock the row) if its
    columns still hold the values in `unchanged` (attname -> value, None for NULL), and INSERT
    `rows` only if it did, each `(obj, attname)` with `attname` (when not None) set to the
    updated row's pk. Returns whether it wrote; when not, nothing was written.

    For a write decided on a row read earlier without a lock: the condition is checked on the
    row's newest committed version while the UPDATE holds its lock, so a write made in between to
    any column the decision read makes this one write nothing. A unique conflict of a row raises
    IntegrityError, nothing written. Atomic by itself, as `insert_linked_rows`.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise NotImplementedError("update_row_if_unchanged_and_insert_rows needs data-modifying WITH queries.")
    meta = obj._meta
    null = tuple(sorted(name for name, value in unchanged.items() if value is None))
    compared = tuple(sorted(name for name, value in unchanged.items() if value is not None))
    compiled = [(row, attname, _compiled_insert(row, using, returning=False)[1]) for row, attname in rows]
    key = (
        using,
        meta.label,
        fields,
        null,
        compared,
        tuple((row._meta.label, attname) for row, attname, _p in compiled),
    )
    if key not in _GUARDED:
        _GUARDED[key] = _guarded_sql(connection, obj, fields, null, compared, compiled)
    sql, plan, linked_positions = _GUARDED[key]
    params = _row_params(obj, plan) if fields else []
    params.append(obj.pk)
    params.extend(
        _prep_for(meta.get_field(name), connection)(unchanged[name])  # type: ignore[arg-type]
        for name in compared
    )
    for (row, _attname, row_plan), linked in zip(compiled, linked_positions, strict=True):
        row_params = _row_params(row, row_plan)
        if linked is not None:
            del row_params[linked]
        params.extend(row_params)
    with _own_statement(connection), server_prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchone()
    if returned is None:
        return False
    for (row, attname, _plan), pk in zip(compiled, returned[1:], strict=True):
        if attname is not None:
            setattr(row, attname, _link_value(row, attname, obj.pk))
        row.pk = pk
        _mark_saved(row, using)
    return True


def _guarded_sql(
    connection: BaseDatabaseWrapper,
    obj: models.Model,
    fields: tuple[str, ...],
    null: tuple[str, ...],
    compared: tuple[str, ...],
    compiled: list[tuple[models.Model, str | None, _Plan]],
) -> tuple[str, _Plan, list[int | None]]:
    """The statement of `update_row_if_unchanged_and_insert_rows`, the plan of its SET values,
    and per row the position of the field that takes the updated row's pk."""
    qn = connection.ops.quote_name
    meta = obj._meta
    pk = qn(meta.pk.column)
    column = {f.attname: qn(f.column) for f in meta.concrete_fields}
    where = " AND ".join(
        [f"{pk} = %s", *(f"{column[name]} IS NULL" for name in null), *(f"{column[name]} = %s" for name in compared)]
    )
    table = qn(meta.db_table)
    plan: _Plan = []
    if fields:
        chosen: list[models.Field] = [meta.get_field(name) for name in fields]  # type: ignore[misc]
        chosen += [f for f in meta.concrete_fields if getattr(f, "auto_now", False) and f not in chosen]
        if not all(_plain_pre_save(f) for f in chosen):
            raise TypeError(f"{meta.label} has a field with its own pre_save; save it with the ORM.")
        assignments = ", ".join(f"{qn(f.column)} = %s" for f in chosen)
        guarded = f"UPDATE {table} SET {assignments} WHERE {where} RETURNING {pk}"  # noqa: S608
        plan = [(f.attname, _stamped(f), _prep_for(f, connection)) for f in chosen]
    else:
        guarded = f"SELECT {pk} FROM {table} WHERE {where} FOR UPDATE"  # noqa: S608
    ctes, names, linked_positions = [f'"u" AS ({guarded})'], ['"u"'], []
    selected = [f'"u".{pk}']
    for n, (row, attname, _plan) in enumerate(compiled):
        cte, linked = _insert_select(
            connection, row, name=f'"r{n}"', source_pk=f'"u".{pk}', attname=attname, tail=' FROM "u"'
        )
        ctes.append(cte)
        names.append(f'"r{n}"')
        selected.append(f'"r{n}".{qn(row._meta.pk.column)}')
        linked_positions.append(linked)
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(selected)} FROM {', '.join(names)}"  # noqa: S608
    return sql, plan, linked_positions


def server_prepared_cursor(connection: BaseDatabaseWrapper) -> Any:
    """PostgreSQL: a cursor like `connection.cursor()` (same checks, Django's errors, seen by query
    logging) whose statements the server parses and plans once per connection, for a few hot
    statements. Django's own cursors bind parameters into the text, so the server parses and
    plans every statement anew: for the intake's one long statement that was most of its time
    on the server. The parameters travel apart from the text (server-side binding), so a value
    whose type the statement does not fix is sent as text: write such statements with a cast.

    This is psycopg's own server-binding cursor: it prepares a statement when the connection has
    run it `prepare_threshold` times (DATABASES OPTIONS: 1, so from its second run; preparing
    costs a round trip of its own, which a connection used for one request would never win
    back). Django's cursors never prepare. With the threshold None (Django's default, for
    poolers that cannot keep prepared statements, such as PgBouncer in transaction mode before
    1.21) the statements are bound on the server, unprepared."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = psycopg.Cursor(connection.connection)
    return _ComposedDebugWrapper(cursor, connection) if connection.queries_logged else CursorWrapper(cursor, connection)


class _ComposedDebugWrapper(CursorDebugWrapper):
    """Django's debug wrapper logs the text a client-side cursor sent; this cursor sends its text and
    parameters apart, so the log shows them composed, as Django's own cursors would have sent them."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        with self.debug_sql(self.db.ops.compose_sql(sql, params) if params else sql):
            return self._execute_with_wrappers(sql, params, many=False, executor=self._execute)


@contextmanager
def _own_statement(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """One statement, atomic by itself: as it is in autocommit mode, or in a savepoint inside a
    transaction (so that its error does not break the caller's transaction)."""
    if connection.in_atomic_block:
        with transaction.atomic(using=connection.alias):
            yield
    else:
        yield


_ABSENT = object()
_COLUMNS: dict[tuple[str, str], list[models.Field]] = {}


def insert_many(model: type[models.Model], rows: list[dict[str, object]], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """INSERT one row per dict (keys are field attnames; a missing one takes the field's default,
    `auto_now`/`auto_now_add` take now), in the given order: `insert_columns` with the rows' values
    gathered per field."""
    if not rows:
        return
    names = {name for row in rows for name in row}
    columns = {name: [row.get(name, _ABSENT) for row in rows] for name in names}
    insert_columns(model, columns, using=using)


def insert_columns(
    model: type[models.Model],
    columns: dict[str, list[Any]],
    *,
    same: dict[str, object] | None = None,
    encoded: Collection[str] = (),
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """INSERT rows given per field, with no model instances built: `columns` maps a field's attname
    to one value per row (all lists of one length), `same` to the one value every row takes. A
    field in neither takes its default (a callable one, such as `uuid4`, called per row) and
    `auto_now`/`auto_now_add` fields take now. The values go through `get_db_prep_save`, as
    `bulk_create`'s do: the rows written are the rows `create()` would write.

    `encoded` names JSON fields whose values in `columns` are already the text Django stores for
    them (`json.dumps(value, cls=field.encoder)`), so a caller writing one value into two tables
    encodes it once; they are written as given.

    SQLite: multi-row INSERTs of as many rows as the connection takes parameters (not `executemany`:
    one statement per row, and where the table has triggers each statement opens its own statement
    journal, three to four times the cost of the rows here). PostgreSQL: one `INSERT ... SELECT ... FROM unnest(...)` of one array per column, so the
    server parses one short statement however many rows there are (Django binds parameters
    client-side: a multi-row VALUES list is parsed and planned row by row, again per statement).

    For bulk paths that do not need the new primary keys back (or read them by a unique key they
    chose, such as a UUID).
    """
    same = same or {}
    count = len(next(iter(columns.values()))) if columns else 0
    if not count:
        return
    meta = model._meta
    connection = connections[using]
    key = (meta.label, using)
    if key not in _COLUMNS:
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
        if any(getattr(f, "get_placeholder", None) for f in fields):
            raise TypeError(f"{meta.label} has a field with its own SQL placeholder; use bulk_create.")
        _COLUMNS[key] = fields
    fields = _COLUMNS[key]
    now = timezone.now()
    per_row: list[tuple[models.Field, list[Any]]] = []
    constant: dict[str, object] = {}
    postgresql = connection.vendor == "postgresql"
    for f in fields:
        prep = (
            _json_text_for(f)
            if postgresql and isinstance(f, models.JSONField)
            else _prep_for(f, connection, one_call=True)
        )
        values = columns.get(f.attname)
        if values is not None:
            if len(values) != count:
                raise ValueError(f"{f.attname} has {len(values)} values for {count} rows.")
            if _ABSENT in values:
                values = [_default(f, now) if value is _ABSENT else value for value in values]
            if f.attname in encoded:
                if not isinstance(f, models.JSONField) or not _all_text(values):
                    raise TypeError(f"{f.attname} is not a JSON field given as encoded text.")
                per_row.append((f, values))
                continue
            plain_text = type(f) in (models.CharField, models.TextField) and _all_text(values)
            # Text given to a plain text column is its own database value (see `_prep_for`).
            per_row.append((f, values if plain_text else [prep(value) for value in values]))
        elif f.attname in same:
            constant[f.attname] = prep(same[f.attname])
        elif f.has_default() and callable(f.default) and f.default not in (dict, list):
            per_row.append((f, [prep(f.get_default()) for _ in range(count)]))  # a new value per row (uuid4)
        else:
            constant[f.attname] = prep(_default(f, now))
    qn = connection.ops.quote_name
    table = qn(meta.db_table)
    names = ", ".join(qn(f.column) for f in fields)
    with connection.cursor() as cursor:
        if not postgresql:
            shared = {qn(f.column): constant[f.attname] for f in fields if f.attname in constant}
            _insert_rows_sqlite(connection, cursor, table, per_row, shared)
            return
        selected: list[str] = []
        arrays: list[str] = []
        for f in fields:
            if f.attname in constant:
                json_cast = "::jsonb" if isinstance(f, models.JSONField) else ""
                selected.append(f"%s::{_pg_array_type(f, connection)}{json_cast}")
                continue
            column = f"c{len(arrays)}"
            selected.append(f"{column}::jsonb" if isinstance(f, models.JSONField) else column)
            arrays.append(f"%s::{_pg_array_type(f, connection)}[]")
        params: list[Any] = [constant[f.attname] for f in fields if f.attname in constant]
        params += [values for _f, values in per_row]
        sql = (
            f"INSERT INTO {table} ({names}) SELECT {', '.join(selected)} "  # noqa: S608
            f"FROM unnest({', '.join(arrays)}) AS u({', '.join(f'c{i}' for i in range(len(arrays)))})"
        )
        # per_row follows the fields' order, as `arrays` does.
        cursor.execute(sql, params)


def _all_text(values: list[Any]) -> bool:
    """Whether every value is a `str` itself (not a subclass), checked without a Python-level loop."""
    return _STR_ONLY.issuperset(map(type, values))


_STR_ONLY = frozenset({str})


def _insert_rows_sqlite(
    connection: BaseDatabaseWrapper,
    cursor: Any,
    table: str,
    per_row: list[tuple[models.Field, list[Any]]],
    constant: dict[str, object],
) -> None:
    """SQLite: multi-row INSERTs of as many rows as the connection takes parameters, where only
    the values that differ between rows are bound per row; the ones every row shares are bound
    once per statement (`INSERT ... SELECT column1, ..., %s FROM (VALUES (...), ...)`), which
    halves the parameters of a lead row and what SQLite does with them. The rows go in in the given
    order. `constant` maps a quoted column name to its value."""
    qn = connection.ops.quote_name
    width = len(per_row)
    if not width:
        raise ValueError(f"No values differ between the rows for {table}; give at least one column.")
    names = ", ".join([*(qn(f.column) for f, _values in per_row), *constant])
    selected = ", ".join([*(f"column{i}" for i in range(1, width + 1)), *(["%s"] * len(constant))])
    shared = list(constant.values())
    # Django assumes 999 parameters, SQLite's old default; the connection says what it takes.
    limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per_statement = max((limit - len(shared)) // width, 1)
    rows = list(zip(*(values for _f, values in per_row), strict=True))
    one_row = f"({', '.join(['%s'] * width)})"
    for start in range(0, len(rows), per_statement):
        batch = rows[start : start + per_statement]
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {selected} FROM (VALUES {', '.join([one_row] * len(batch))})",  # noqa: S608
            [*shared, *chain.from_iterable(batch)],
        )


def _default(f: models.Field, now: datetime) -> object:
    if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
        return now
    return f.get_default()


def _pg_array_type(f: models.Field, connection: BaseDatabaseWrapper) -> str:
    """The element type of a column's array: text for text columns (a cast to varchar(n) would cut
    a long value where the INSERT refuses it) and for JSON (cast to jsonb per value)."""
    if isinstance(f, models.CharField | models.TextField | models.JSONField):
        return "text"
    return str(f.cast_db_type(connection))  # type: ignore[attr-defined]  # on Field, missing from django-stubs


def _json_text_for(f: models.Field) -> Callable[[object], object]:
    """A JSON value as the text PostgreSQL casts to jsonb: what Django's `Jsonb` adapter sends."""
    encoder = f.encoder  # type: ignore[attr-defined]
    return lambda value: None if value is None else json.dumps(value, cls=encoder)


def _prep_for(
    f: models.Field, connection: BaseDatabaseWrapper, *, one_call: bool = False
) -> Callable[[object], object]:
    """The field's `get_db_prep_save`, shortened where it provably is the identity (plain text,
    integer and foreign key columns given values of their own type), one attribute (a UUID) or one
    backend call (aware datetimes). Anything else goes through the field itself.

    With `one_call` (a plan used for one bulk insert, then dropped) an aware datetime is adapted
    once per distinct value; a plan kept for the life of the process (the compiled single-row
    statements) must not remember values, or it would keep every time it ever wrote."""
    kind = type(f)
    if kind in (models.CharField, models.TextField):
        return lambda value: value if value is None or isinstance(value, str) else f.get_db_prep_save(value, connection)
    if kind in (models.BigAutoField, models.PositiveIntegerField, models.PositiveBigIntegerField, models.ForeignKey):
        return lambda value: value if value is None or type(value) is int else f.get_db_prep_save(value, connection)
    if kind is models.UUIDField:
        # UUIDField.get_db_prep_value for a UUID: itself where the database has a uuid type, else its hex.
        if connection.features.has_native_uuid_field:
            return lambda value: value if type(value) is uuid.UUID else f.get_db_prep_save(value, connection)
        return lambda value: value.hex if type(value) is uuid.UUID else f.get_db_prep_save(value, connection)
    if kind is models.DateTimeField:
        adapt = connection.ops.adapt_datetimefield_value
        if not one_call:
            return lambda value: (
                adapt(value)
                if isinstance(value, datetime) and value.tzinfo is not None
                else f.get_db_prep_save(value, connection)
            )
        adapted: dict[datetime, object] = {}  # a bulk insert stamps most rows with one "now"

        def datetime_value(value: object) -> object:
            if isinstance(value, datetime) and value.tzinfo is not None:
                if value not in adapted:
                    adapted[value] = adapt(value)
                return adapted[value]
            return f.get_db_prep_save(value, connection)

        return datetime_value
    if kind is models.JSONField:
        # What JSONField.get_db_prep_save does for a plain value (not an expression), one call deep.
        adapt_json = connection.ops.adapt_json_value
        encoder = f.encoder  # type: ignore[attr-defined]
        return lambda value: (
            adapt_json(value, encoder) if type(value) in (dict, list) else f.get_db_prep_save(value, connection)
        )
    return lambda value: f.get_db_prep_save(value, connection=connection)


_UPDATES: dict[tuple[str, str, tuple[str, ...]], tuple[str, _Plan]] = {}


def update_row(obj: models.Model, *, fields: tuple[str, ...], using: str = DEFAULT_DB_ALIAS) -> None:
    """UPDATE these fields of `obj`'s row, and its `auto_now` fields (stamped now), by primary key:
    what `obj.save(update_fields=...)` writes, with the SQL compiled once per model and field set."""
    _execute_together(connections[using], [_update_statement(obj, fields, using)])


def update_row_and_insert_rows(
    obj: models.Model, *, fields: tuple[str, ...], rows: list[models.Model], using: str = DEFAULT_DB_ALIAS
) -> None:
    """`update_row(obj, fields=fields)` (nothing when `fields` is empty), then `insert_rows(rows)`:
    on PostgreSQL all in one round trip, in the caller's transaction. A lead delivered again is
    one UPDATE of the fields it filled and its timeline and audit rows."""
    statements = [_update_statement(obj, fields, using)] if fields else []
    _execute_together(connections[using], statements + _insert_statements(rows, using))


def _update_statement(obj: models.Model, fields: tuple[str, ...], using: str) -> tuple[str, list[Any]]:
    meta = obj._meta
    key = (meta.label, using, fields)
    connection = connections[using]
    if key not in _UPDATES:
        chosen: list[models.Field] = [meta.get_field(name) for name in fields]  # type: ignore[misc]
        chosen += [f for f in meta.concrete_fields if getattr(f, "auto_now", False) and f not in chosen]
        if not all(_plain_pre_save(f) for f in chosen):
            raise TypeError(f"{meta.label} has a field with its own pre_save; save it with the ORM.")
        qn = connection.ops.quote_name
        assignments = ", ".join(f"{qn(f.column)} = %s" for f in chosen)
        sql = f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608
        plan = [(f.attname, _stamped(f), _prep_for(f, connection)) for f in chosen]
        _UPDATES[key] = (sql, plan)
    sql, plan = _UPDATES[key]
    params = _row_params(obj, plan)
    params.append(obj.pk)
    return sql, params


# --- Reads ------------------------------------------------------------------------------------
# A plan per column: the column expression and the converters Django's compiler applies to it.
ColumnPlan = list[tuple[Any, list[Callable[..., object]]]]


def column_plan(fields: list[models.Field], using: str = DEFAULT_DB_ALIAS) -> ColumnPlan:
    """What the ORM's compiler does to each selected column's value (backend, then field
    converters: SQLite's text datetimes made aware, JSON decoded, ...), to replay on a row
    fetched with hand-written SQL."""
    connection = connections[using]
    plan: ColumnPlan = []
    for f in fields:
        column = f.get_col(f.model._meta.db_table)
        field_converters = f.get_db_converters(connection)  # type: ignore[attr-defined]
        plan.append((column, [*connection.ops.get_db_converters(column), *field_converters]))
    return plan


def convert_row(row: Any, plan: ColumnPlan, using: str = DEFAULT_DB_ALIAS) -> list[Any]:
    """The row's values as the ORM would hand them over (see `column_plan`)."""
    connection = connections[using]
    values = []
    for value, (column, converters) in zip(row, plan, strict=True):
        for convert in converters:
            value = convert(value, column, connection)
        values.append(value)
    return values


def instance_from(model: type[M], values: list[Any], using: str = DEFAULT_DB_ALIAS) -> M:
    """A model instance from converted values of all its concrete fields, in `_meta` order, as a
    queryset would build it (`Model.from_db`)."""
    return model.from_db(using, [f.attname for f in model._meta.concrete_fields], values)


_UPDATES_WHERE: dict[
    tuple[str, str, tuple[str, ...], tuple[str, ...]], tuple[str, list[Callable[[object], object]]]
] = {}


def update_where(
    model: type[models.Model], *, values: dict[str, object], where: dict[str, object], using: str = DEFAULT_DB_ALIAS
) -> int:
    """`model.objects.filter(**where).update(**values)` for plain equality filters on concrete
    fields, with the SQL compiled once per model and field names; returns the rows changed.

    Like `QuerySet.update`, it stamps no `auto_now` field. For compare-and-swap writes on hot
    paths (claim a row in one state, record an outcome only for the change it was made for).
    """
    meta = model._meta
    key = (meta.label, using, tuple(values), tuple(where))
    connection = connections[using]
    if key not in _UPDATES_WHERE:
        qn = connection.ops.quote_name
        by_name = {name: f for f in meta.concrete_fields for name in (f.name, f.attname)}
        setting = [by_name[name] for name in values]
        matching = [by_name[name] for name in where]
        assignments = ", ".join(f"{qn(f.column)} = %s" for f in setting)
        conditions = " AND ".join(f"{qn(f.column)} = %s" for f in matching)
        sql = f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {conditions}"  # noqa: S608
        _UPDATES_WHERE[key] = (sql, [_prep_for(f, connection) for f in [*setting, *matching]])
    sql, preps = _UPDATES_WHERE[key]
    params: list[Any] = [prep(value) for prep, value in zip(preps, [*values.values(), *where.values()], strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
