"""What every app's demo seeder receives: `seed_demo` (the board app) creates the leads, then
calls each app's seeder in a fixed order; each adds its own objects (sequences, replies,
bookings, calls, proposals) for the demo leads, reproducibly from `ctx.rng`:

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


@dataclass
class DemoContext:
    rng: random.Random
    now: datetime
    owner: Any  # the owner user (staff, superuser)
    leads_by_stage: dict[str, list[int]] = field(default_factory=dict)
    log: Callable[[str], None] = print


DemoSeeder = Callable[[DemoContext], dict[str, int]]
