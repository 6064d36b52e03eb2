"""Time in stage from stays the stage service ends as leads move (not from seeded rows): finished
stays count from the move that ended them; a lead still in its stage counts under "open now",
never as a stay of the time it has spent so far."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from leads.models import Stage
from leads.services.stages import lead_move_stage
from reports.periods import Period
from reports.selectors.time_in_stage import time_in_stage_report
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _move(monkeypatch, lead, to_stage: str, at: datetime) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(timezone, "now", lambda: at)  # the time the history is stamped with
    lead_move_stage(lead=lead, to_stage=to_stage)


def test_finished_stays_give_the_percentiles_and_a_lead_still_in_its_stage_does_not(monkeypatch):
    quick, slow, waiting = LeadFactory(), LeadFactory(), LeadFactory(source="ghl")
    _move(monkeypatch, quick, Stage.CONTACTED, T0)
    _move(monkeypatch, slow, Stage.CONTACTED, T0 + timedelta(hours=1))
    _move(monkeypatch, waiting, Stage.CONTACTED, T0 + timedelta(hours=2))  # never moves on
    _move(monkeypatch, quick, Stage.REPLIED, T0 + timedelta(days=1))
    _move(monkeypatch, slow, Stage.REPLIED, T0 + timedelta(days=4, hours=1))
    _move(monkeypatch, quick, Stage.BOOKED, T0 + timedelta(days=3))
    now = T0 + timedelta(days=30)
    monkeypatch.setattr(timezone, "now", lambda: now)
    period = Period(key="custom", start=date(2026, 3, 1), end=date(2026, 3, 31))

    report = {row.stage: row for row in time_in_stage_report(period=period, now=now)}

    contacted = report[Stage.CONTACTED]
    assert contacted.finished == 2  # quick (1 day) and slow (4 days); waiting is still there
    assert contacted.median_days == pytest.approx(1.0)  # nearest rank: the 1st of 2
    assert contacted.p90_days == pytest.approx(4.0)  # the 2nd of 2
    assert contacted.open_now == 1 and contacted.stalled == 1
    replied = report[Stage.REPLIED]
    assert (replied.finished, replied.median_days, replied.p90_days) == (1, pytest.approx(2.0), pytest.approx(2.0))
    assert replied.open_now == 1  # slow
    booked = report[Stage.BOOKED]
    assert (booked.finished, booked.median_days, booked.open_now) == (0, None, 1)

    by_source = {row.stage: row for row in time_in_stage_report(period=replace(period, source="ghl"), now=now)}
    assert by_source[Stage.CONTACTED].finished == 0 and by_source[Stage.CONTACTED].open_now == 1


def test_a_stay_that_began_before_the_range_is_left_out(monkeypatch):
    lead = LeadFactory()
    _move(monkeypatch, lead, Stage.CONTACTED, T0)
    _move(monkeypatch, lead, Stage.REPLIED, T0 + timedelta(days=2))
    later = Period(key="custom", start=date(2026, 3, 3), end=date(2026, 3, 31))

    report = {row.stage: row for row in time_in_stage_report(period=later, now=T0 + timedelta(days=10))}

    assert report[Stage.CONTACTED].finished == 0  # it started on 2 March, before the range
