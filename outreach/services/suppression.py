"""The suppression list: addresses that must never be emailed again.

Only a keyed hash (HMAC-SHA256) of the normalized address is kept, so the entry outlives the lead
(erasing a person does not put the address back on the list of people we may email) and cannot be
reversed by hashing a list of addresses without the key (`SUPPRESSION_HASH_KEY`, else derived from
`SECRET_KEY`). Lookups also try the keys in `SECRET_KEY_FALLBACKS` and the unsalted SHA-256 that
entries had before, for the few that could not be rehashed (an address no longer held anywhere)
and for unsubscribe links already sent with an unsalted hash.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.site import public_base_url
from leads.models import Lead
from leads.services.timeline import timeline_record
from outreach.models import Enrollment, OutboundMessage, OutreachEventKind, Suppression


def _normalize(email: str) -> str:
    return (email or "").strip().lower()


# Part of the HMAC key: changing it makes every stored entry unmatchable.
HASH_KEY_SALT = "outreach.suppression"


def _hash_keys() -> list[str]:
    if settings.SUPPRESSION_HASH_KEY:
        return [settings.SUPPRESSION_HASH_KEY]
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _hmac(email: str, key: str) -> str:
    return salted_hmac(HASH_KEY_SALT, _normalize(email), secret=key, algorithm="sha256").hexdigest()


def email_hash(email: str) -> str:
    """The stored form of `email`: an HMAC-SHA256 under the current key (64 hex characters)."""
    return _hmac(email, _hash_keys()[0])


def legacy_email_hash(email: str) -> str:
    """The unsalted SHA-256 entries (and unsubscribe links) carried before the HMAC."""
    return hashlib.sha256(_normalize(email).encode()).hexdigest()


def email_hash_candidates(email: str) -> list[str]:
    """Every stored form that means `email`: current key, fallback keys, the legacy hash."""
    return [*(_hmac(email, key) for key in _hash_keys()), legacy_email_hash(email)]


def is_suppressed(email: str) -> bool:
    """Whether any stored form of `email` is on the list. Every booking email and outbound send
    asks, so the SQL is written once per database and number of candidate hashes."""
    if not _normalize(email):
        return False
    candidates = email_hash_candidates(email)
    alias = router.db_for_read(Suppression)
    connection = connections[alias]
    key = (alias, len(candidates))
    if key not in _SUPPRESSED_SQL:
        qn = connection.ops.quote_name
        column = qn(Suppression._meta.get_field("email_hash").column)
        placeholders = ", ".join(["%s"] * len(candidates))
        _SUPPRESSED_SQL[key] = (
            f"SELECT 1 FROM {qn(Suppression._meta.db_table)} WHERE {column} IN ({placeholders}) LIMIT 1"  # noqa: S608
        )
    with connection.cursor() as cursor:
        cursor.execute(_SUPPRESSED_SQL[key], candidates)
        return cursor.fetchone() is not None


_SUPPRESSED_SQL: dict[tuple[str, int], str] = {}


def suppression_add_hash(*, hashed: str, reason: str, actor_label: str) -> Suppression:
    """Add an already-hashed address (the unsubscribe link carries only the hash)."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                entry = Suppression.objects.create(email_hash=hashed, reason=reason[:64], actor_label=actor_label[:100])
        except IntegrityError:
            return Suppression.objects.get(email_hash=hashed)
        audit_record(verb="suppression.added", obj=entry, actor_label=actor_label, details={"reason": reason})
        _stop_everything_for(hashed=hashed, reason=reason)
        return entry


def suppression_add(*, email: str, reason: str, actor_label: str) -> Suppression:
    """Suppress `email` (idempotent): stops its enrollments and blocks its unsent messages.

    An entry of the same address stored before the key (an unsalted SHA-256, which anyone can
    match by hashing a guessed address) goes once the keyed entry stands: nothing else would
    rehash it after an erase, when the address is held nowhere any more."""
    entry = suppression_add_hash(hashed=email_hash(email), reason=reason, actor_label=actor_label)
    legacy = legacy_email_hash(email)
    if entry.email_hash != legacy:
        Suppression.objects.filter(email_hash=legacy).delete()
    return entry


def suppression_add_from_link(*, hashed: str, message_public_id: str, actor_label: str) -> Suppression:
    """Suppress the address an unsubscribe link names by `hashed`.

    Links sent before the HMAC carry an unsalted SHA-256: when the link names the message it came
    in, the entry is stored under the current key instead, so it cannot be reversed either.
    """
    message = None
    if message_public_id:
        try:
            message = OutboundMessage.objects.filter(public_id=message_public_id).only("to_email").first()
        except ValidationError:
            message = None
    if message is not None and message.to_email and hashed in email_hash_candidates(message.to_email):
        hashed = email_hash(message.to_email)
    return suppression_add_hash(hashed=hashed, reason="unsubscribe_link", actor_label=actor_label)


def _stop_everything_for(*, hashed: str, reason: str) -> None:
    """Stop live enrollments and block unsent messages of every lead with this address."""
    lead_ids: list[int] = []
    # Candidates: leads whose address hashes to `hashed`. Hash in Python over the addresses of
    # leads that still have messages or live enrollments (a small set), not over every lead.
    candidate_ids = set(
        OutboundMessage.objects.filter(status__in=UNSENT_STATUSES).values_list("lead_id", flat=True)
    ) | set(Enrollment.objects.filter(status__in=LIVE_ENROLLMENT).values_list("lead_id", flat=True))
    for lead_id, address in Lead.objects.filter(pk__in=candidate_ids).values_list("pk", "email_normalized"):
        if address and hashed in email_hash_candidates(address):
            lead_ids.append(lead_id)
    if not lead_ids:
        return
    now = timezone.now()
    Enrollment.objects.filter(lead_id__in=lead_ids, status__in=LIVE_ENROLLMENT).update(
        status=Enrollment.Status.STOPPED, stop_reason=f"Unsubscribed ({reason})"[:255], stopped_at=now, next_due_at=None
    )
    blocked = OutboundMessage.objects.filter(lead_id__in=lead_ids, status__in=UNSENT_STATUSES).update(
        status=OutboundMessage.Status.BLOCKED, block_reason="The address is on the suppression list."
    )
    for lead in Lead.objects.filter(pk__in=lead_ids):
        timeline_record(
            lead=lead,
            kind=OutreachEventKind.UNSUBSCRIBED,
            summary="Unsubscribed: no more emails",
            data={"reason": reason},
        )
    if blocked:
        audit_record(verb="outbound.blocked_suppressed", details={"lead_ids": lead_ids, "messages": blocked})
    board_version_bump()


UNSENT_STATUSES = (OutboundMessage.Status.DRAFT, OutboundMessage.Status.APPROVED, OutboundMessage.Status.FAILED)
LIVE_ENROLLMENT = (Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED)


# The salt predates the outreach app: links already in people's inboxes must keep working.
UNSUBSCRIBE_SALT = "leads.unsubscribe"


def unsubscribe_token(*, email: str, message_public_id: str = "") -> str:
    """A signed token naming the address by its hash only (no address in the URL)."""
    return signing.dumps({"h": email_hash(email), "m": message_public_id}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(token: str) -> dict[str, str] | None:
    """The token's contents, or None when it is not one of ours. Tokens do not expire."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("h"), str) or len(data["h"]) != 64:
        return None
    return data


def unsubscribe_url(*, email: str, message_public_id: str = "") -> str:
    token = unsubscribe_token(email=email, message_public_id=message_public_id)
    return public_base_url() + reverse("unsubscribe", args=[token])
