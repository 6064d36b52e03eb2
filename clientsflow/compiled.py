"""SELECTs built and compiled by the ORM once per shape, then run with each call's values.

A board render after a move runs a handful of small queries whose Python side costs more than the
database's: building a queryset with subqueries (`filter`, `annotate`, `Exists`) and compiling it
to SQL takes milliseconds each, and the SQL is the same every time but for a few values (now, a
cutoff, some ids). `compiled_select` builds the query once per `key` with stand-in values, finds
where each stand-in landed among the compiled parameters, and keeps the SQL, those positions and
the compiler (for its column converters); each call then only puts its own values in.

The first call of a key checks the plan against the query built with that call's real values (the
same SQL and parameters, or `CompileMismatch`), so a query whose SQL depends on a value and not
only its parameters cannot be cached by mistake. Values are datetimes (compared with date-and-time
columns), ints, or lists of ints (the list's length goes into the key); `derived` values are
computed from the others by the same function for the stand-ins and for the real values (a
cutoff from now), so a builder may compute them inside.

The cache holds SQL text and compilers only (keyed by `key` and the database alias): each process
builds its own and nothing needs to agree between processes. At most `MAX_PLANS` shapes are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=Model)
Values = dict[str, Any]
Builder = Callable[[Values], "QuerySet[Any, Any] | tuple[str, list[Any]]"]

# Stand-ins: datetimes a thousand days apart from 1800 on (no real value, nor one derived from
# another stand-in by a few weeks or a day, can equal them), ints far below any primary key.
_STANDIN_EPOCH = datetime(1800, 1, 1, tzinfo=UTC)
_STANDIN_INT = -7_000_000_000


class CompileMismatch(RuntimeError):
    """The query built with real values differs from the cached plan filled with them."""


@dataclass(frozen=True)
class _Plan:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position in params, value name)
    compiler: SQLCompiler | None


_PLANS: dict[tuple[Hashable, str], _Plan] = {}
MAX_PLANS = 256


def _flatten(values: Values) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list | tuple):
            for i, item in enumerate(value):
                flat[f"{name}.{i}"] = item
        else:
            flat[name] = value
    return flat


def _standins(values: Values) -> Values:
    n = 0
    out: Values = {}

    def one(value: Any) -> Any:
        nonlocal n
        n += 1
        if isinstance(value, datetime):
            return _STANDIN_EPOCH + timedelta(days=1000 * n)
        if isinstance(value, int) and not isinstance(value, bool):
            return _STANDIN_INT - n
        raise TypeError(f"compiled_select takes datetimes, ints and lists of ints, not {type(value).__name__}")

    for name, value in values.items():
        out[name] = [one(item) for item in value] if isinstance(value, list | tuple) else one(value)
    return out


def _prep(value: Any, using: str) -> Any:
    if isinstance(value, datetime):
        return connections[using].ops.adapt_datetimefield_value(value)
    return value


def _with_derived(values: Values, derived: dict[str, Callable[[Values], Any]]) -> Values:
    return {**values, **{name: func(values) for name, func in derived.items()}}


def _compile(
    built: QuerySet[Any, Any] | tuple[str, list[Any]], using: str
) -> tuple[str, list[Any], SQLCompiler | None]:
    if isinstance(built, tuple):
        sql, params = built
        return sql, list(params), None
    compiler = built.query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    return sql, list(params), compiler


def _fill(plan: _Plan, flat: dict[str, Any], using: str) -> list[Any]:
    params = list(plan.params)
    for position, name in plan.slots:
        params[position] = _prep(flat[name], using)
    return params


def _plan_for(key: Hashable, build: Builder, values: Values, using: str) -> _Plan:
    standins = _standins({name: value for name, value in values.items() if not name.startswith("=")})
    derived = {name[1:]: func for name, func in values.items() if name.startswith("=")}
    standin_values = _with_derived(standins, derived)
    sql, params, compiler = _compile(build(standin_values), using)
    wanted = {}
    for name, value in _flatten(standin_values).items():
        prepped = _prep(value, using)
        if prepped in wanted:
            raise CompileMismatch(f"{key!r}: two values share a stand-in")
        wanted[prepped] = name
    slots = []
    for position, param in enumerate(params):
        if isinstance(param, datetime | int | str) and not isinstance(param, bool) and param in wanted:
            slots.append((position, wanted[param]))
    missing = set(wanted.values()) - {name for _position, name in slots}
    if missing:
        raise CompileMismatch(f"{key!r}: {sorted(missing)} not found among the query's parameters")
    return _Plan(sql, tuple(params), tuple(slots), compiler)


def _plan_of(
    key: Hashable, build: Builder, values: Values, derived: dict[str, Callable[[Values], Any]], using: str
) -> tuple[_Plan, list[Any]]:
    plan = _PLANS.get((key, using))
    actual = _with_derived(values, derived)
    if plan is None:
        plan = _plan_for(key, build, {**values, **{f"={name}": func for name, func in derived.items()}}, using)
        # Checked once: the query built with these very values is the plan filled with them.
        sql, params, _compiler = _compile(build(actual), using)
        if sql != plan.sql or params != _fill(plan, _flatten(actual), using):
            raise CompileMismatch(f"{key!r}: the query's SQL depends on its values, not only its parameters")
        if len(_PLANS) >= MAX_PLANS:  # shapes keyed by free text (a source filter) stay bounded
            oldest = next(iter(_PLANS), None)
            if oldest is not None:
                _PLANS.pop(oldest, None)
        _PLANS[(key, using)] = plan
    params = _fill(plan, _flatten(actual), using)
    with connections[using].cursor() as cursor:
        cursor.execute(plan.sql, params)
        rows = cursor.fetchall()
    if plan.compiler is not None:
        rows = plan.compiler.results_iter(results=[rows], tuple_expected=True)
    return plan, [tuple(row) for row in rows]


def compiled_select(
    key: Hashable,
    build: Builder,
    values: Values,
    *,
    derived: dict[str, Callable[[Values], Any]] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> list[tuple[Any, ...]]:
    """The rows of the query `build(values)` returns (a queryset, or SQL and parameters), each
    converted as the ORM would (its `values_list` tuple), compiled once per `key` and database."""
    return _plan_of(key, build, values, derived or {}, using)[1]


def compiled_instances(
    model: type[M],
    key: Hashable,
    build: Builder,
    values: Values,
    *,
    derived: dict[str, Callable[[Values], Any]] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> list[M]:
    """Model instances from a plain `Model.objects...only(...)` queryset (no related models, no
    annotations) compiled as `compiled_select`, as its iteration would make them."""
    plan, rows = _plan_of(key, build, values, derived or {}, using)
    assert plan.compiler is not None and plan.compiler.klass_info is not None
    select_fields = plan.compiler.klass_info["select_fields"]
    start, end = select_fields[0], select_fields[-1] + 1
    names = [column[0].target.attname for column in plan.compiler.select[start:end]]
    return [model.from_db(using, names, row[start:end]) for row in rows]
