"""The SQLite backend converts placeholders exactly as Django's does, once per statement text."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import SQLiteCursorWrapper as DjangoCursor

from clientsflow.sqlite_backend import base

STATEMENTS = [
    "SELECT 1",
    "SELECT %s",
    'INSERT INTO "t" ("a", "b") VALUES (%s, %s) RETURNING "t"."id"',
    "SELECT '%%s', %s, '100%%' WHERE x LIKE '%%a%%'",
    "SELECT %%%s",
    "UPDATE t SET a = %s WHERE b = %s AND c = %s",
    "INSERT INTO t (a) VALUES " + ", ".join(["(%s)"] * 2000),  # noqa: S608  (longer than the cache takes)
]


@pytest.mark.parametrize("sql", STATEMENTS)
def test_conversion_is_djangos(sql):
    django_cursor = DjangoCursor.__new__(DjangoCursor)  # convert_query reads nothing of the cursor
    ours = base.SQLiteCursorWrapper.__new__(base.SQLiteCursorWrapper)
    assert ours.convert_query(sql) == django_cursor.convert_query(sql)
    assert ours.convert_query(sql) == django_cursor.convert_query(sql)  # from the cache the second time
    names = ["a", "b"]
    named = "SELECT %(a)s, %(b)s"
    assert ours.convert_query(named, param_names=names) == django_cursor.convert_query(named, param_names=names)


def test_long_statements_are_not_kept():
    base._qmark_cached.cache_clear()
    ours = base.SQLiteCursorWrapper.__new__(base.SQLiteCursorWrapper)
    ours.convert_query(STATEMENTS[-1])
    ours.convert_query(STATEMENTS[2])
    assert base._qmark_cached.cache_info().currsize == 1


@pytest.mark.django_db
def test_the_connection_uses_it():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, base.SQLiteCursorWrapper)
        cursor.execute("SELECT %s, '%%s', %s", [1, "two"])
        assert cursor.fetchall() == [(1, "%s", "two")]


def test_pytest_xdist_workers_keep_the_sqlite_test_database_in_memory(settings):
    """Under `make test` (-n auto) each worker renames its test databases; on SQLite ours must stay
    in memory, as with Django's own engine name, not become a file named after the real one."""
    from pytest_django.fixtures import _set_suffix_to_test_databases

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    settings.DATABASES = {
        "default": {**settings.DATABASES["default"], "TEST": dict(settings.DATABASES["default"]["TEST"])}
    }
    _set_suffix_to_test_databases("gw0")
    test_db = settings.DATABASES["default"]
    assert test_db["ENGINE"] == "clientsflow.sqlite_backend"
    assert test_db["TEST"]["NAME"] == ":memory:"
    assert connection.creation._get_test_db_name() == "file:memorydb_default?mode=memory&cache=shared"
