"""The proposal document as shown to the lead: one rendering, hashed at signature time.

The fragment is deterministic (no CSRF token, no "now"), so the page the signer read and the
copy re-rendered when they press Sign are byte-identical unless the proposal itself changed.
"""

from __future__ import annotations

import hashlib

from django.template.loader import render_to_string

from billing.models import Proposal


def proposal_document_html(*, proposal: Proposal) -> str:
    lines = list(proposal.lines.all())
    due_now, balance = proposal.amounts
    return render_to_string(
        "billing/_document.html",
        {
            "proposal": proposal,
            "lead": proposal.lead,
            "lines": [
                {
                    "description": line.description,
                    "quantity": line.quantity.normalize() if line.quantity % 1 == 0 else line.quantity,
                    "unit_price": proposal.money(line.unit_price_minor),
                    "total": proposal.money(line.total_minor),
                }
                for line in lines
            ],
            "total": proposal.money(proposal.total_minor),
            "due_now": proposal.money(due_now),
            "balance": proposal.money(balance) if balance else "",
        },
    ).strip()


def content_sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()
