"""Django's SQLite backend, with each statement's placeholders converted once per process.

Django writes SQL with `%s` placeholders; its SQLite cursor turns them into SQLite's `?` on every
`execute()` with a regular expression (a look-behind, so it is tried at every character of the
statement). A booking POST runs about twenty statements of a few hundred characters, and that
scan was about a twelfth of its CPU. The same statements come back again and again (the ORM's and
`clientsflow.prepared`'s), so the converted text is kept per statement text, in a bounded cache.
Everything else is Django's own backend, subclassed as Django's documentation describes:
https://docs.djangoproject.com/en/5.2/ref/databases/#subclassing-the-built-in-database-backends
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db.backends.sqlite3 import base

# Statements longer than this (multi-row INSERTs of a bulk path) are converted each time: each is
# run rarely compared with its size, and the cache keeps the text of every statement it holds.
CACHED_STATEMENT_MAX_LENGTH = 4096


@lru_cache(maxsize=1024)
def _qmark_cached(query: str) -> str:
    return _qmark(query)


def _qmark(query: str) -> str:
    """What Django's `SQLiteCursorWrapper.convert_query` does to a "format"-style statement."""
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: Any = None) -> str:
        if param_names is not None:  # "pyformat" style: Django's conversion, uncached
            return super().convert_query(query, param_names=param_names)  # type: ignore[misc]  # not in django-stubs
        if len(query) > CACHED_STATEMENT_MAX_LENGTH:
            return _qmark(query)
        return _qmark_cached(query)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=SQLiteCursorWrapper)
