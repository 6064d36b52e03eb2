"""Celery tasks for outbound email: ids in, one service call.

Imported by `leads.admin_outbound` (the admin is loaded in every process, the worker included)
and by `leads.jobs`, so the worker always knows these tasks.
"""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from leads.services.outbound import outbound_send


# Not acks_late and no automatic retry: a send is claimed by its row (approved -> sending); a
# redelivered task would find it claimed, and a lost one leaves `sending` for the stale sweep.
@shared_task
def send_outbound_message(message_id: int, actor_id: int | None = None) -> str:
    """Send one message. With `actor_id` it is that person's "Send now" (they must hold the
    approve permission); without, it is an automatic send (only with AUTOSEND_ENABLED)."""
    if actor_id is not None:
        actor = get_user_model().objects.get(pk=actor_id)
        return outbound_send(message_id=message_id, trigger="human", actor=actor).outcome
    return outbound_send(message_id=message_id, trigger="autosend").outcome
