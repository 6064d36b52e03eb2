"""Leads' dispatcher jobs."""

from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings

from clientsflow.dispatcher import DailyAt, Every, job
from leads.services.lead_imports import lead_imports_purge, lead_imports_requeue_stale


@job("lead_imports_stranded", Every(minutes=5), "Resume CSV imports whose worker was lost.")
def lead_imports_stranded() -> dict[str, int]:
    return {"requeued": lead_imports_requeue_stale()}


@job("lead_imports_purge", DailyAt(time(3, 30)), "Forget old CSV uploads' files and rejected rows.")
def lead_imports_purge_job() -> dict[str, int]:
    return lead_imports_purge(older_than=timedelta(days=settings.RETENTION_DAYS))
