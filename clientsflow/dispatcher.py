"""The one dispatcher: a registry of periodic jobs behind a single Beat entry.

Every tick (once a minute, from Beat or the embedded loop) computes each job's current schedule
slot. The first tick to insert the `JobRun(job, slot)` row owns that slot (a unique constraint, so
two Beats or a slow tick never run a job twice for one slot), and fans the run out as its own task.
A job that raises is recorded as failed; the others carry on.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from clientsflow.models import JobRun
from clientsflow.site import site_settings

logger = logging.getLogger(__name__)


class Schedule:
    def slot(self, now: datetime) -> datetime | None:
        """The slot due at `now` (UTC), or None when nothing is due."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Every(Schedule):
    minutes: int

    def slot(self, now: datetime) -> datetime:
        epoch_minutes = int(now.timestamp() // 60)
        start = epoch_minutes - epoch_minutes % self.minutes
        return datetime.fromtimestamp(start * 60, tz=ZoneInfo("UTC"))

    def describe(self) -> str:
        return f"every {self.minutes} min"


@dataclass(frozen=True)
class DailyAt(Schedule):
    """Once a day at a wall-clock time in a zone (the owner's by default), DST-aware.

    The slot is today's local time converted to UTC, so a day always has exactly one slot even
    when the UTC offset changes overnight. A dispatcher that was down at that time still runs the
    job later the same local day.
    """

    at: time
    tz: str | None = None

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz or settings.OWNER_TIMEZONE)

    def slot(self, now: datetime) -> datetime | None:
        zone = self.zone()
        local_now = now.astimezone(zone)
        local_slot = datetime.combine(local_now.date(), self.at, tzinfo=zone)
        if local_now < local_slot:
            return None
        return local_slot.astimezone(ZoneInfo("UTC"))

    def describe(self) -> str:
        return f"daily at {self.at:%H:%M} {self.tz or 'owner zone'}"


@dataclass(frozen=True)
class DailyAtSetting(Schedule):
    """Daily at a time the owner edits in Admin > Settings (a `SiteSettings` time field), DST-aware.

    Read at every tick, so a change takes effect the same day. Moving the time later after today's
    slot ran gives today a second slot: a job that must run once a day also keys its effect by date.
    """

    field: str

    def slot(self, now: datetime) -> datetime | None:
        at = getattr(site_settings(), self.field)
        if isinstance(at, str):  # a row just created from the field's default ("08:00")
            at = time.fromisoformat(at)
        return DailyAt(at=at).slot(now)

    def describe(self) -> str:
        return f"daily at the time in settings ({self.field}), owner zone"


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    func: Callable[[], dict[str, Any] | None]
    description: str = ""


_REGISTRY: dict[str, Job] = {}


def job(name: str, schedule: Schedule, description: str = "") -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def decorator(func: Callable[[], Any]) -> Callable[[], Any]:
        _REGISTRY[name] = Job(name=name, schedule=schedule, func=func, description=description)
        return func

    return decorator


def registry() -> dict[str, Job]:
    """Every registered job; each installed app's `jobs.py` registers its own on import."""
    autodiscover_modules("jobs")
    return dict(_REGISTRY)


def dispatch_tick(now: datetime | None = None, jobs: dict[str, Job] | None = None) -> list[str]:
    """Claim and fan out every job due at `now`. Returns the names of the jobs it queued."""
    now = now or timezone.now()
    queued: list[str] = []
    for current in (jobs if jobs is not None else registry()).values():
        slot = current.schedule.slot(now)
        if slot is None:
            continue
        try:
            with transaction.atomic():
                run = JobRun.objects.create(job=current.name, slot=slot)
                run_job.delay_on_commit(run.pk)
        except IntegrityError:
            continue  # another tick owns this slot
        queued.append(current.name)
    if queued:
        logger.info("dispatch.queued", extra={"jobs": queued, "at": now.isoformat()})
    return queued


def job_run_execute(*, job_run_id: int, jobs: dict[str, Job] | None = None) -> JobRun:
    """Run one claimed job and record the outcome. Never raises for the job's own errors."""
    updated = JobRun.objects.filter(pk=job_run_id, status=JobRun.Status.QUEUED).update(
        status=JobRun.Status.RUNNING, started_at=timezone.now()
    )
    run = JobRun.objects.get(pk=job_run_id)
    if not updated:
        return run  # already started elsewhere
    current = (jobs if jobs is not None else registry()).get(run.job)
    try:
        if current is None:
            raise LookupError(f"No job named {run.job!r} is registered.")
        result = current.func() or {}
    except Exception as exc:
        run.status = JobRun.Status.FAILED
        run.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
        logger.warning("dispatch.job_failed", extra={"job": run.job, "error_type": type(exc).__name__})
    else:
        run.status = JobRun.Status.SUCCEEDED
        run.result = result
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "result", "finished_at"])
    return run


def next_tick_delay(now: datetime) -> float:
    """Seconds until the start of the next minute (the embedded loop's sleep)."""
    nxt = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return max(0.5, (nxt - now).total_seconds())


# The dispatcher's two tasks live here, not in tasks.py: `dispatch_tick` queues `run_job`, so the
# tasks module and the dispatcher would import each other. The names are the ones Beat's entry
# and queued messages already carry.
@shared_task(name="clientsflow.tasks.dispatch")
def dispatch() -> list[str]:
    """The one periodic entry (django-celery-beat, every minute)."""
    return dispatch_tick()


# Not acks_late: a job run is claimed by its JobRun row; a lost run is visible as `running`
# and the next slot runs the job again, rather than the same slot twice.
@shared_task(base=DjangoTask, name="clientsflow.tasks.run_job")
def run_job(job_run_id: int) -> None:
    job_run_execute(job_run_id=job_run_id)
