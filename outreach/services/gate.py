"""The one gate every email passes: `SEND_ALLOWLIST` and the suppression list.

Outbound copy, booking mail (confirmation, update, reminder, cancellation, and whether Google may
mail the attendee), proposal mail and Stripe's receipt address all ask `mail_gate_check` before
anything leaves. A refusal is audited (`mail.blocked`, with the purpose and a hash of the
address, never the address or the body) so the caller can show it; the caller decides what else
to do (the booking or proposal itself still stands).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import models

from clientsflow.audit import audit_record
from clientsflow.mailpolicy import allowlist_permits, masked_address
from outreach.services.suppression import email_hash, is_suppressed

logger = logging.getLogger(__name__)

ALLOWLIST = "allowlist"
SUPPRESSED = "suppressed"
NO_ADDRESS = "no_address"

EXPLANATIONS = {
    ALLOWLIST: "The recipient is not on SEND_ALLOWLIST.",
    SUPPRESSED: "The address is on the suppression list.",
    NO_ADDRESS: "There is no email address to send to.",
}


@dataclass(frozen=True)
class GateVerdict:
    allowed: bool
    reason: str = ""  # allowlist | suppressed | no_address

    @property
    def explanation(self) -> str:
        return EXPLANATIONS.get(self.reason, "")


def mail_gate_check(
    *, to: str, purpose: str, obj: models.Model | None = None, lead_id: int | None = None
) -> GateVerdict:
    """May an email for `purpose` go to `to`? A refusal is audited against `obj`."""
    if not (to or "").strip():
        verdict = GateVerdict(False, NO_ADDRESS)
    elif not allowlist_permits(to):
        verdict = GateVerdict(False, ALLOWLIST)
    elif is_suppressed(to):
        verdict = GateVerdict(False, SUPPRESSED)
    else:
        return GateVerdict(True)
    audit_record(
        verb="mail.blocked",
        obj=obj,
        actor_label="mail-gate",
        details={
            "purpose": purpose,
            "reason": verdict.reason,
            "to_hash": email_hash(to) if to else "",
            "to_masked": masked_address(to),
            "lead_id": lead_id,
        },
    )
    logger.info("mail.blocked", extra={"purpose": purpose, "reason": verdict.reason})
    return verdict
