"""`make bench`: each app's `bench.py` registers sections; the command prints one JSON object.

    @register_bench("intake")
    def intake_bench(scale: int) -> dict[str, float]: ...

Figures are measured on the database in use (SQLite by default, PostgreSQL with DATABASE_URL),
in a scratch database that the command creates and drops, never the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.module_loading import autodiscover_modules

BenchFunc = Callable[..., dict[str, Any]]
_BENCHES: dict[str, BenchFunc] = {}


def register_bench(name: str) -> Callable[[BenchFunc], BenchFunc]:
    def decorator(func: BenchFunc) -> BenchFunc:
        _BENCHES[name] = func
        return func

    return decorator


def benches() -> dict[str, BenchFunc]:
    autodiscover_modules("bench", "board_bench")
    return dict(_BENCHES)
