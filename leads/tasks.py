"""Leads' Celery tasks, imported here so the worker registers them.

`lead_import_run_task` lives beside the service that queues it, in `services/lead_imports.py`.
"""

from __future__ import annotations

from leads.services.lead_imports import lead_import_run_task

__all__ = ["lead_import_run_task"]
