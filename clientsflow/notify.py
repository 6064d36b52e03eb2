"""The owner's notifications: one service every app calls when something needs the owner's eye.

    owner_notify(kind="booking_created", key=f"booking_created:{booking.pk}:{booking.sequence}",
                 subject="New call booked: Jane Doe", text="...", link="/board/lead/7/")

Kinds (each switchable in Admin > Settings > Notifications): booking_created, booking_rescheduled,
booking_cancelled, reply_positive, reply_needs_review, proposal_viewed, proposal_signed,
payment_received, payment_failed, digest.

- Once per event: the `Notification` row is inserted first and its `key` is unique, so an event
  processed twice (a replayed webhook, a retried task) finds the row and does nothing.
- After commit: delivery is queued with `delay_on_commit`, so a rolled-back event notifies nobody.
- The same rule as every other mail: the owner's address must pass `SEND_ALLOWLIST`
  (`clientsflow.mailpolicy`); a refusal is audited as `mail.blocked`. Each outcome is audited
  (`notification.sent`, `notification.failed`) and kept on the row; a failure is never shown as sent.
- A delivery whose worker died (`sending` for `STUCK_AFTER`) becomes `unknown` (audited), never
  resent by the system: it may have gone out. Failed, blocked and unknown notifications are in
  "Needs you" until the owner sends one again (`notification_send_again`) or dismisses it.
  The suppression list is for leads who opted out, not for the owner, so it is not consulted.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.clients import slack
from clientsflow.mailpolicy import address_hash, allowlist_permits, masked_address
from clientsflow.models import Notification, SiteSettings
from clientsflow.prepared import insert_row, update_row, update_where
from clientsflow.site import public_base_url, site_settings

logger = logging.getLogger(__name__)

ACTOR = "notifications"
KINDS = (
    "booking_created",
    "booking_rescheduled",
    "booking_cancelled",
    "reply_positive",
    "reply_needs_review",
    "proposal_viewed",
    "proposal_signed",
    "payment_received",
    "payment_failed",
    "digest",
)
Via = SiteSettings.NotifyVia


def absolute_link(link: str) -> str:
    """A path made absolute against the public base URL; a full URL is kept as it is."""
    if not link or link.startswith(("http://", "https://")):
        return link
    return public_base_url() + link


def owner_notify(
    *, kind: str, key: str, subject: str, text: str, link: str = "", html: str = "", new_key: bool = False
) -> Notification | None:
    """Notify the owner of one event, once per `key`, after the current transaction commits.

    Returns the new row, or None when the kind is switched off or this event was already notified.
    Never raises for delivery problems: they are recorded on the row.

    `new_key`: the key names a row the caller's transaction just created (a new booking's id), so
    no notification can hold it yet: the row is inserted without a savepoint (two statements
    fewer), and a conflict, were one to happen, fails the caller's transaction instead of being
    taken for "notified already".
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}; add it to clientsflow.notify.KINDS.")
    row = site_settings()
    if not row.notification_on(kind):
        return None
    notification = Notification(
        kind=kind,
        key=key[:200],
        subject=" ".join(subject.split())[:255],
        text=text,
        html=html,
        link=absolute_link(link)[:500],
        via=row.notify_via,
    )
    if new_key:
        insert_row(notification)  # its INSERT compiled once: a booking POST writes one
    else:
        try:
            with transaction.atomic():
                insert_row(notification)
        except IntegrityError:
            return None  # this event was notified already
    _deliver_after_commit(notification)
    return notification


def _deliver_after_commit(notification: Notification) -> None:
    """Queue delivery for after the commit. Without a broker (the embedded default, where tasks run
    in-process right after the commit anyway) the row in hand is delivered directly, without
    reading it back; a failure is logged and `notifications_requeue_stranded` tries again."""
    if not notification_deliver_task.app.conf.task_always_eager:
        notification_deliver_task.delay_on_commit(notification.pk)
        return

    def deliver() -> None:
        try:
            notification_deliver(notification_id=notification.pk, notification=notification)
        except Exception:  # as an eager task's failure: logged, never raised into the request
            logger.exception("notification.deliver_failed", extra={"notification_id": notification.pk})

    transaction.on_commit(deliver)


def _send_email(notification: Notification) -> str:
    """'sent', 'blocked: ...' or 'failed: ...'."""
    to = (settings.OWNER_EMAIL or "").strip()
    if not to:
        return "failed: OWNER_EMAIL is not set; set it to receive notifications by email."
    if not allowlist_permits(to):
        audit_record(
            verb="mail.blocked",
            obj=notification,
            actor_label="mail-gate",
            details={
                "purpose": f"notification:{notification.kind}",
                "reason": "allowlist",
                "to_hash": address_hash(to),
                "to_masked": masked_address(to),
            },
        )
        return "blocked: OWNER_EMAIL is not on SEND_ALLOWLIST; add it there to receive notifications."
    body = notification.text
    if notification.link and notification.link not in body:
        body = f"{body}\n\n{notification.link}"
    message = mail.EmailMultiAlternatives(
        subject=notification.subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
    )
    if notification.html:
        message.attach_alternative(notification.html, "text/html")
    try:
        message.send()
    except Exception as exc:  # any backend: SMTP, anymail providers
        return f"failed: the email could not be sent ({type(exc).__name__}); check EMAIL_URL."
    return "sent"


def _post_slack(notification: Notification) -> str:
    if not slack.enabled():
        return "failed: Slack is not configured; set SLACK_WEBHOOK_URL or notify by email only."
    text = f"*{notification.subject}*\n{notification.text}"
    if notification.link and notification.link not in text:
        text = f"{text}\n<{notification.link}|Open in ClientsFlow>"
    try:
        slack.slack_post(text=text)
    except slack.SlackError as exc:
        return f"failed: {exc}"
    return "sent"


def notification_deliver(*, notification_id: int, notification: Notification | None = None) -> Notification:
    """Deliver one notification by its channels and record exactly what happened.

    Claims the row `pending -> sending` first (compare-and-swap), so two workers never both send.
    `notification` is the row just inserted, when delivery follows its commit in the same process.
    """
    claimed_at = timezone.now()
    claimed = update_where(
        Notification,
        values={"status": Notification.Status.SENDING, "claimed_at": claimed_at},
        where={"id": notification_id, "status": Notification.Status.PENDING},
    )
    if notification is None or not claimed:
        notification = Notification.objects.get(pk=notification_id)
    if not claimed:
        return notification
    notification.status, notification.claimed_at = Notification.Status.SENDING, claimed_at
    outcome: dict[str, str] = {}
    if notification.via in (Via.EMAIL, Via.BOTH):
        outcome["email"] = _send_email(notification)
    if notification.via in (Via.SLACK, Via.BOTH):
        outcome["slack"] = _post_slack(notification)
    problems = [f"{channel}: {result}" for channel, result in outcome.items() if result != "sent"]
    if not outcome:
        status, error = Notification.Status.FAILED, "Notifications are off (Admin > Settings > Notify via)."
    elif not problems:
        status, error = Notification.Status.SENT, ""
    elif all(result.startswith("blocked") for result in outcome.values()):
        status, error = Notification.Status.BLOCKED, " ".join(problems)
    else:
        status, error = Notification.Status.FAILED, " ".join(problems)
    notification.status, notification.outcome, notification.error = status, outcome, error[:2000]
    notification.sent_at = timezone.now() if status == Notification.Status.SENT else None
    update_row(notification, fields=("status", "outcome", "error", "sent_at"))
    details: dict[str, Any] = {"kind": notification.kind, "key": notification.key, "outcome": outcome}
    if status == Notification.Status.SENT:
        audit_record(verb="notification.sent", obj=notification, actor_label=ACTOR, details=details)
    else:
        audit_record(verb="notification.failed", obj=notification, actor_label=ACTOR, details=details)
        logger.warning("notification.failed", extra={"notification_id": notification.pk, "kind": notification.kind})
        board_version_bump()  # "Needs you" counts it
    return notification


STRANDED_AFTER = timedelta(minutes=10)


def notifications_requeue_stranded(*, now: Any = None) -> int:
    """Queue again the notifications whose delivery task was lost (still pending after a while)."""
    cutoff = (now or timezone.now()) - STRANDED_AFTER
    ids = list(
        Notification.objects.filter(status=Notification.Status.PENDING, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:200]
    )
    for pk in ids:
        notification_deliver_task.delay(pk)
    return len(ids)


# A delivery that started this long ago and recorded nothing: its worker died. Longer than any
# send's timeouts (SMTP and Slack give up well within it), so a slow send is never taken for one.
STUCK_AFTER = timedelta(minutes=15)
STUCK_ERROR = (
    "The delivery stopped before its outcome was recorded: it may or may not have reached you. "
    "Check your inbox (or Slack), then send it again or dismiss it."
)
# What still asks for the owner's attention: not (surely) delivered, and not dismissed.
PROBLEM_STATUSES = (Notification.Status.FAILED, Notification.Status.BLOCKED, Notification.Status.UNKNOWN)
RESENDABLE_STATUSES = PROBLEM_STATUSES


def notifications_mark_stuck_unknown(*, now: Any = None) -> int:
    """Notifications stuck in `sending` past `STUCK_AFTER` become `unknown`, audited; never resent
    (it may have gone out). "Needs you" shows them until the owner sends again or dismisses."""
    cutoff = (now or timezone.now()) - STUCK_AFTER
    ids = list(
        Notification.objects.filter(status=Notification.Status.SENDING)
        .filter(Q(claimed_at__lt=cutoff) | Q(claimed_at__isnull=True, created_at__lt=cutoff))
        .values_list("pk", flat=True)[:200]
    )
    changed = 0
    for pk in ids:
        if Notification.objects.filter(pk=pk, status=Notification.Status.SENDING).update(
            status=Notification.Status.UNKNOWN, error=STUCK_ERROR
        ):
            changed += 1
            row = Notification.objects.get(pk=pk)
            audit_record(
                verb="notification.unknown",
                obj=row,
                actor_label=ACTOR,
                details={"kind": row.kind, "key": row.key, "reason": "stale_sending"},
            )
            logger.warning("notification.unknown", extra={"notification_id": pk, "kind": row.kind})
    if changed:
        board_version_bump()
    return changed


def notification_problems() -> QuerySet[Notification]:
    """Notifications that did not (surely) reach the owner and that they have not dismissed."""
    return Notification.objects.filter(status__in=PROBLEM_STATUSES, dismissed_at__isnull=True)


def notification_problems_count() -> int:
    return notification_problems().count()


def notification_send_again(*, notification: Notification, actor: Any) -> bool:
    """A person's deliberate choice to deliver a failed, blocked or unknown notification again
    (for `unknown`, knowing it may arrive twice). False when it is not in one of those states."""
    was = notification.status
    if was not in RESENDABLE_STATUSES:
        return False
    with transaction.atomic():
        if not Notification.objects.filter(pk=notification.pk, status=was).update(
            status=Notification.Status.PENDING, error="", dismissed_at=None
        ):
            return False  # changed meanwhile (another person pressed it too)
        audit_record(
            verb="notification.resent", obj=notification, actor=actor, details={"kind": notification.kind, "was": was}
        )
        board_version_bump()
        notification.status, notification.error, notification.dismissed_at = Notification.Status.PENDING, "", None
        _deliver_after_commit(notification)
    return True


def notification_dismiss(*, notification: Notification, actor: Any) -> bool:
    """The owner has seen a notification that did not (surely) arrive: stop asking. Its status
    stays what it was (a dismissed `unknown` is still unknown)."""
    now = timezone.now()
    with transaction.atomic():
        if not Notification.objects.filter(
            pk=notification.pk, status__in=PROBLEM_STATUSES, dismissed_at__isnull=True
        ).update(dismissed_at=now):
            return False
        audit_record(
            verb="notification.dismissed",
            obj=notification,
            actor=actor,
            details={"kind": notification.kind, "status": notification.status},
        )
        board_version_bump()
    notification.dismissed_at = now
    return True


# Beside the service it runs (as the dispatcher's tasks are): `owner_notify` queues it.
@shared_task(base=DjangoTask, name="clientsflow.tasks.notification_deliver")
def notification_deliver_task(notification_id: int) -> None:
    notification_deliver(notification_id=notification_id)
