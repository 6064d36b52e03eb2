"""The project's own Celery tasks, imported here so the worker registers them.

Each is defined beside the code that queues it (the dispatcher queues `run_job`; storing a webhook
queues `process_webhook_event`), so this module and those would otherwise import each other.
"""

from __future__ import annotations

from clientsflow.dispatcher import dispatch, run_job
from clientsflow.webhooks import process_webhook_event

__all__ = ["dispatch", "process_webhook_event", "run_job"]
