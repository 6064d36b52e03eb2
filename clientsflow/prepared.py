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

from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.sql import InsertQuery

M = TypeVar("M", bound=models.Model)

_INSERTS: dict[tuple[str, str], tuple[str, list[models.Field], bool]] = {}


def _compiled_insert(obj: models.Model, using: str) -> tuple[str, list[models.Field], bool]:
    meta = obj._meta
    key = (meta.label, using)
    cached = _INSERTS.get(key)
    if cached is not None:
        return cached
    connection = connections[using]
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
    if any(getattr(f, "get_placeholder", None) for f in fields):
        raise TypeError(f"{meta.label} has a field with its own SQL placeholder; save it with the ORM.")
    query = InsertQuery(obj.__class__)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    returning = connection.features.can_return_columns_from_insert
    compiler.returning_fields = [meta.pk] if returning else None
    [(sql, _params)] = compiler.as_sql()
    _INSERTS[key] = (sql, fields, returning)
    return _INSERTS[key]


def insert_row(obj: M, *, using: str = DEFAULT_DB_ALIAS) -> M:
    """INSERT `obj` (a new instance with an auto primary key) and set its pk, like `create()`."""
    sql, fields, returning = _compiled_insert(obj, using)
    connection = connections[using]
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]
    meta = obj._meta
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        returned = cursor.fetchone() if returning else None
        obj.pk = returned[0] if returned else connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)
    obj._state.adding = False
    obj._state.db = using
    return obj
