"""Demo data for the whole pipeline: `seed_demo` creates the leads (leads/demo.py), then calls each
app's seeder in a fixed order, so a reader sees every step from here."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from billing.demo import seed_billing
from bookings.demo import seed_bookings
from calls.demo import seed_calls
from classify.demo import seed_replies
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.demo import DemoContext, DemoSeeder, seed_site_settings
from leads.demo import DETAIL_LEADS_PER_STAGE, DemoLeadsResult, demo_leads_create, demo_owner, seed_next_steps
from outreach.demo import seed_outbound

# In this order: each seeder builds on the leads' stages and on what the ones before it made
# (replies need sent emails; calls need bookings; proposals need calls).
SEEDERS: list[tuple[str, DemoSeeder]] = [
    ("settings", seed_site_settings),
    ("outbound", seed_outbound),
    ("bookings", seed_bookings),
    ("calls", seed_calls),
    ("classify", seed_replies),
    ("billing", seed_billing),
    ("next_steps", seed_next_steps),
]


@dataclass
class DemoSeedResult:
    leads: DemoLeadsResult
    seeders: dict[str, dict[str, int]]
    seeder_seconds: dict[str, float] = field(default_factory=dict)


@transaction.atomic
def demo_seed(
    *,
    leads: int,
    seed: int,
    now: datetime,
    log: Callable[[str], Any] = print,
    on_progress: Callable[[int], None] | None = None,
) -> DemoSeedResult:
    """Demo leads, then each app's seeder in SEEDERS' order, all from one seeded random generator.

    One transaction: a seeder that fails leaves no half-seeded database behind.
    """
    rng = random.Random(seed)
    owner = demo_owner()
    created = demo_leads_create(count=leads, rng=rng, now=now, owner=owner, on_progress=on_progress)
    # Other apps add detail (replies, bookings, calls, proposals) for a bounded share of each stage,
    # so 100,000 demo leads stay a one-minute seed; the board still shows every lead.
    detailed = {stage: ids[:DETAIL_LEADS_PER_STAGE] for stage, ids in created.leads_by_stage.items()}
    ctx = DemoContext(rng=rng, now=now, owner=owner, leads_by_stage=detailed, log=log)
    counts: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    for name, seeder in SEEDERS:
        started = time.perf_counter()
        counts[name] = seeder(ctx)
        seconds[name] = round(time.perf_counter() - started, 1)
    audit_record(
        verb="demo.seeded",
        actor_label="seed_demo",
        details={"seed": seed, "leads": leads, "stage_changes": created.stage_changes, "seeders": counts},
    )
    board_version_bump()
    return DemoSeedResult(leads=created, seeders=counts, seeder_seconds=seconds)
