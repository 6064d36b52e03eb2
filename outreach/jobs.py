"""Periodic outbound work for the dispatcher: drafts, sends, stuck sends, replies, auto-enroll."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from clientsflow.dispatcher import Every, job
from outreach.services.drafting import sequence_drafts_due
from outreach.services.replies import replies_poll_imap
from outreach.services.sending import outbound_autosend_due, outbound_mark_stale_sending_unknown
from outreach.services.sequences import sequence_auto_enroll


@job("sequence_drafts", Every(minutes=5), "Draft the sequence steps that came due (into the review queue).")
def sequence_drafts() -> dict[str, int]:
    return sequence_drafts_due()


@job("outbound_autosend", Every(minutes=1), "Send approved emails that are due (only with AUTOSEND_ENABLED).")
def outbound_autosend() -> dict:
    return outbound_autosend_due()


@job("outbound_stale_sending", Every(minutes=10), "Mark sends stuck in 'sending' as unknown (never resent).")
def outbound_stale_sending() -> dict[str, int]:
    changed = outbound_mark_stale_sending_unknown(older_than=timedelta(minutes=settings.OUTBOUND_STALE_SENDING_MINUTES))
    return {"marked_unknown": changed}


@job("replies_imap_poll", Every(minutes=3), "Read replies from the IMAP mailbox (when IMAP_URL is set).")
def replies_imap_poll() -> dict[str, int]:
    return replies_poll_imap()


@job("sequence_auto_enroll", Every(minutes=10), "Enroll new leads of SEQUENCE_AUTO_ENROLL_SOURCE.")
def sequence_auto_enroll_job() -> dict[str, int]:
    return sequence_auto_enroll()
