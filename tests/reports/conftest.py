from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from reports.periods import Period, owner_today, period_for
from reports.seed import Seeded, seed_report_data


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def seeded(db: None, now: datetime) -> Seeded:
    return seed_report_data(leads=240, now=now, seed=11)


@pytest.fixture
def period() -> Period:
    return period_for("90d", today=owner_today())
