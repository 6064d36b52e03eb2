"""Leads' dispatcher jobs."""

from __future__ import annotations

from clientsflow.dispatcher import Every, job
from leads.services.lead_imports import lead_imports_requeue_stale


@job("lead_imports_stranded", Every(minutes=5), "Resume CSV imports whose worker was lost.")
def lead_imports_stranded() -> dict[str, int]:
    return {"requeued": lead_imports_requeue_stale()}
