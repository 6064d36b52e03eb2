"""Demo data hooks: `seed_demo` creates leads, then calls each app's seeder.

Each app's `demo.py` registers a seeder that adds its own objects (sequences, replies, bookings,
calls, proposals) for the demo leads, reproducibly from `ctx.rng`:

    @register_demo_seeder("bookings", order=30)
    def seed_bookings(ctx: DemoContext) -> dict[str, int]:
        for lead_id in ctx.leads_by_stage["booked"]: ...
        return {"bookings": n}
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.module_loading import autodiscover_modules


@dataclass
class DemoContext:
    rng: random.Random
    now: datetime
    owner: Any  # the owner user (staff, superuser)
    leads_by_stage: dict[str, list[int]] = field(default_factory=dict)
    log: Callable[[str], None] = print


DemoSeeder = Callable[[DemoContext], dict[str, int]]
_SEEDERS: dict[str, tuple[int, DemoSeeder]] = {}


def register_demo_seeder(name: str, order: int = 100) -> Callable[[DemoSeeder], DemoSeeder]:
    def decorator(func: DemoSeeder) -> DemoSeeder:
        _SEEDERS[name] = (order, func)
        return func

    return decorator


def demo_seeders() -> list[tuple[str, DemoSeeder]]:
    autodiscover_modules("demo")
    return [(name, func) for name, (order, func) in sorted(_SEEDERS.items(), key=lambda kv: (kv[1][0], kv[0]))]
