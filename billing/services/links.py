"""The signed, expiring link to a proposal's public page (`/p/<token>/`).

The token carries the proposal id and its `link_key`; rotating the key (revoking) or replacing
the version kills old links without a lookup table. Tokens expire after
`PROPOSAL_LINK_MAX_AGE_DAYS`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from billing.models import Proposal
from clientsflow.site import public_base_url

SALT = "billing.proposal-link"


class LinkProblem(Exception):
    """Why a link cannot show a proposal: `kind` is bad | expired | revoked | replaced."""

    def __init__(self, kind: str, proposal: Proposal | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.proposal = proposal


def proposal_link_token(*, proposal: Proposal) -> str:
    return signing.dumps({"p": proposal.pk, "k": proposal.link_key}, salt=SALT, compress=True)


def proposal_link_url(*, proposal: Proposal) -> str:
    path = reverse("billing:proposal", kwargs={"token": proposal_link_token(proposal=proposal)})
    return public_base_url() + path


def proposal_from_token(*, token: str) -> Proposal:
    """The proposal a token points at, or LinkProblem. Never raises anything else."""
    max_age = timedelta(days=settings.PROPOSAL_LINK_MAX_AGE_DAYS)
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkProblem("expired") from None
    except (signing.BadSignature, ValueError, TypeError):
        raise LinkProblem("bad") from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), int) or not isinstance(data.get("k"), str):
        raise LinkProblem("bad")
    proposal = Proposal.objects.select_related("lead", "superseded_by").filter(pk=data["p"]).first()
    if proposal is None:
        raise LinkProblem("revoked")
    if proposal.superseded_by_id and proposal.revoked_at:
        raise LinkProblem("replaced", proposal)
    if proposal.revoked_at or proposal.link_key != data["k"]:
        raise LinkProblem("revoked", proposal)
    return proposal
