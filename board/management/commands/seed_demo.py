"""`manage.py seed_demo --leads N [--seed S] [--if-empty]`: see board/demo.py and leads/demo.py."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from board.demo import demo_seed
from leads.models import Lead


class Command(BaseCommand):
    help = (
        "Create realistic demo leads across every pipeline stage (with stage history over the last "
        "eight weeks), then run every app's demo seeder. The same --seed gives the same data."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--leads", type=int, default=300, help="How many leads to create (default 300).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when there are leads already (used by make run)."
        )

    def handle(self, *args, leads: int, seed: int, if_empty: bool, **options) -> None:
        if leads < 0:
            raise CommandError("--leads must be 0 or more.")
        if if_empty and Lead.objects.exists():
            self.stdout.write("Demo data skipped: there are leads already.")
            return
        # The start of the hour: two runs with one seed in the same hour give identical times.
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        progress = tqdm(total=leads, unit="lead", file=sys.stderr, disable=None, desc="demo leads")
        try:
            result = demo_seed(leads=leads, seed=seed, now=now, log=self.stdout.write, on_progress=progress.update)
        finally:
            progress.close()
        by_stage = ", ".join(f"{stage} {len(ids)}" for stage, ids in result.leads.leads_by_stage.items())
        self.stdout.write(
            f"Created {leads} demo leads ({by_stage}) and {result.leads.stage_changes} stage changes, seed {seed}."
        )
        for name, counts in result.seeders.items():
            shown = ", ".join(f"{key} {value}" for key, value in counts.items()) or "nothing"
            self.stdout.write(f"Demo {name}: {shown} ({result.seeder_seconds.get(name, 0):.1f}s)")
