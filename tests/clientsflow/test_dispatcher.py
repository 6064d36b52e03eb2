"""The one dispatcher: slots, the per-slot lock, failure isolation, DST, the single Beat entry."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask

from clientsflow.dispatcher import DailyAt, Every, Job, dispatch_tick, registry
from clientsflow.models import JobRun

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, int]:
        self.calls += 1
        return {"calls": self.calls}


def tick(jobs, now, capture):
    """One dispatcher tick with its fanned-out runs executed (as the worker would)."""
    with capture(execute=True):
        queued = dispatch_tick(now=now, jobs=jobs)
    return queued


@pytest.fixture
def register(monkeypatch):
    """Add jobs to the real registry for one test (the run_job task looks them up there)."""
    from clientsflow import dispatcher

    def _register(*jobs: Job) -> dict[str, Job]:
        for job in jobs:
            monkeypatch.setitem(dispatcher._REGISTRY, job.name, job)
        return {job.name: job for job in jobs}

    return _register


def test_exactly_one_beat_entry_exists_and_it_is_dispatch():
    tasks = list(PeriodicTask.objects.exclude(name="celery.backend_cleanup"))
    assert [(t.name, t.task, t.interval.every, t.interval.period) for t in tasks] == [
        ("dispatch", "clientsflow.tasks.dispatch", 1, "minutes")
    ]


def test_every_schedule_slots_align_to_the_interval():
    at = datetime(2026, 11, 24, 10, 7, 42, tzinfo=UTC)
    assert Every(minutes=3).slot(at) == datetime(2026, 11, 24, 10, 6, tzinfo=UTC)
    assert Every(minutes=1).slot(at) == datetime(2026, 11, 24, 10, 7, tzinfo=UTC)


def test_two_ticks_for_the_same_minute_run_a_due_job_once(register, django_capture_on_commit_callbacks):
    counter = Counter()
    jobs = register(Job("poll", Every(minutes=3), counter))
    now = datetime(2026, 11, 24, 10, 6, 5, tzinfo=UTC)

    first = tick(jobs, now, django_capture_on_commit_callbacks)
    second = tick(jobs, now + timedelta(seconds=20), django_capture_on_commit_callbacks)
    later_slot = tick(jobs, now + timedelta(minutes=3), django_capture_on_commit_callbacks)

    assert (first, second, later_slot) == (["poll"], [], ["poll"])
    assert counter.calls == 2
    assert JobRun.objects.filter(job="poll", status="succeeded").count() == 2


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(register, django_capture_on_commit_callbacks):
    good = Counter()

    def broken() -> None:
        raise RuntimeError("vendor down")

    jobs = register(Job("broken", Every(minutes=1), broken), Job("good", Every(minutes=1), good))

    tick(jobs, datetime(2026, 11, 24, 10, 0, tzinfo=UTC), django_capture_on_commit_callbacks)

    assert good.calls == 1
    failed = JobRun.objects.get(job="broken")
    assert failed.status == "failed"
    assert "RuntimeError: vendor down" in failed.error
    assert JobRun.objects.get(job="good").status == "succeeded"


@pytest.mark.parametrize(
    ("first_day", "days"),
    [(datetime(2026, 3, 6, tzinfo=NY), 5), (datetime(2026, 10, 30, tzinfo=NY), 5)],
    ids=["march-dst-start", "november-dst-end"],
)
def test_a_daily_0800_owner_zone_job_runs_once_per_local_day_across_dst(
    register, django_capture_on_commit_callbacks, first_day, days
):
    counter = Counter()
    jobs = register(Job("digest", DailyAt(time(8, 0), tz="America/New_York"), counter))
    start = first_day.astimezone(UTC)
    # a tick every 10 minutes, as if the dispatcher ran (coarsely) for `days` days
    for step in range(days * 24 * 6):
        tick(jobs, start + timedelta(minutes=10 * step), django_capture_on_commit_callbacks)

    runs = list(JobRun.objects.filter(job="digest").order_by("slot"))
    assert counter.calls == days
    local_times = [run.slot.astimezone(NY) for run in runs]
    assert [t.time() for t in local_times] == [time(8, 0)] * days
    assert len({t.date() for t in local_times}) == days
    # the UTC hour changes across the DST boundary, the local time does not
    assert len({run.slot.astimezone(UTC).hour for run in runs}) == 2


def test_a_daily_job_missed_at_its_time_still_runs_later_that_day():
    schedule = DailyAt(time(8, 0), tz="America/New_York")
    assert schedule.slot(datetime(2026, 11, 24, 12, 59, tzinfo=UTC)) is None  # 07:59 local
    assert schedule.slot(datetime(2026, 11, 24, 18, 0, tzinfo=UTC)) == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)


def test_dispatch_once_command_queues_the_registered_jobs(capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("dispatch", "--once")
    out = capsys.readouterr().out
    assert "webhook_sweep" in out
    assert JobRun.objects.filter(job="webhook_sweep", status="succeeded").exists()
    assert "webhook_sweep" in registry()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_on_postgresql_claim_each_slot_once(register):
    """Several Beats/ticks at the same instant, each in its own thread and connection."""
    counters = {name: Counter() for name in ("a", "b", "c")}
    jobs = register(*(Job(name, Every(minutes=1), counter) for name, counter in counters.items()))
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    barrier = threading.Barrier(6)
    results: list[list[str]] = []

    def one_tick() -> None:
        try:
            barrier.wait()
            results.append(dispatch_tick(now=now, jobs=jobs))
        finally:
            connection.close()

    threads = [threading.Thread(target=one_tick) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(name for result in results for name in result) == ["a", "b", "c"]
    assert JobRun.objects.count() == 3
    assert [counter.calls for counter in counters.values()] == [1, 1, 1]
