"""The soak's fixed figures, shared by the stack, the load, the seed and the books."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
SLUG = "soak-call"
OWNER = ("soak-owner", "soak-owner-password-" + "x" * 8)
RACE_SLOTS = 12  # booking threads pick among this many slots, so they collide
PROPOSALS = 6
OUTBOUND_APPROVED = 10  # approved through the service; the dispatcher must send each exactly once
OUTBOUND_DRAFTS = 4  # left as drafts: must never reach the sink
OUTBOUND_REJECTED = 2
APPROVER = ("soak-approver", "soak-approver-password-" + "x" * 8)
DISPATCH_EVERY_SECONDS = 5  # Beat's dispatch entry, so the 15-s CI run sees several ticks (production: 60)
