"""Vendor health: a vendor that keeps failing becomes one owner alert, not a pile of log lines.

A vendor client's caller reports each outcome:

    integration_ok("fireflies")                      # after a successful call
    integration_failed("fireflies", error=exc)       # after a 5xx, a 429, a timeout...

Failures in a row open an outage (`failing_since`). When it has lasted long enough
(INTEGRATION_ALERT_AFTER_FAILURES failures in a row, or INTEGRATION_ALERT_AFTER_SECONDS since the
first failure with at least two failures), it becomes an alert: an audit event, a "needs you"
item ("Integration failing: Fireflies", listed on the board by `board.selectors.needs_you`)
and, when Slack is configured, one Slack post per outage. The next success closes the outage and
clears the alert (a short "working again" post follows only if the alert reached Slack).

Vendor errors are only ever stored as their short message (status codes, exception types); never a
request or response body.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.clients import slack
from clientsflow.models import IntegrationStatus
from clientsflow.site import public_base_url

logger = logging.getLogger(__name__)

# The vendors watched, their names for people, and the admin rows their failures leave behind
# (the link of the alert). A fixed set: one per vendor client.
INTEGRATIONS: dict[str, tuple[str, str]] = {
    "fireflies": ("Fireflies", "/admin/calls/call/?status__exact=pending"),
    "notion": ("Notion", "/admin/calls/call/?notion_status__exact=retrying"),
    "stripe": ("Stripe", "/admin/billing/payment/"),
}


def integration_label(vendor: str) -> str:
    return INTEGRATIONS[vendor][0] if vendor in INTEGRATIONS else vendor.replace("_", " ").title()


def integration_url(vendor: str) -> str:
    return INTEGRATIONS[vendor][1] if vendor in INTEGRATIONS else "/admin/clientsflow/integrationstatus/"


def integration_alerted_count(vendor: str) -> int:
    """1 while `vendor` is in an outage long enough to alert the owner, else 0."""
    return IntegrationStatus.objects.filter(vendor=vendor, alerted_at__isnull=False).count()


def _due_for_alert(row: IntegrationStatus, now: datetime) -> bool:
    if row.failing_since is None or row.alerted_at is not None:
        return False
    if row.consecutive_failures >= settings.INTEGRATION_ALERT_AFTER_FAILURES:
        return True
    lasted = now - row.failing_since
    return row.consecutive_failures >= 2 and lasted >= timedelta(seconds=settings.INTEGRATION_ALERT_AFTER_SECONDS)


def _short(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())[:500]


def integration_failed(vendor: str, *, error: BaseException | str, now: datetime | None = None) -> IntegrationStatus:
    """Record one failed call to `vendor`; raise the owner alert once the outage is long enough."""
    now = now or timezone.now()
    with transaction.atomic():
        row, _ = IntegrationStatus.objects.select_for_update().get_or_create(vendor=vendor)
        row.consecutive_failures += 1
        row.failing_since = row.failing_since or now
        row.last_error_at = now
        row.last_error = _short(error)
        alert = _due_for_alert(row, now)
        if alert:
            row.alerted_at = now
            audit_record(
                verb="integration.failing",
                obj=row,
                actor_label=f"integration:{vendor}",
                details={
                    "vendor": vendor,
                    "failures": row.consecutive_failures,
                    "failing_since": row.failing_since.isoformat(),
                    "last_error": row.last_error,
                },
            )
        row.save()
    logger.warning(
        "integration.failed",
        extra={"vendor": vendor, "failures": row.consecutive_failures, "alerted": row.alerted_at is not None},
    )
    if row.alerted_at is not None and row.slack_posted_at is None:
        _post_alert(row)  # also retries a Slack post that failed on an earlier attempt
    return row


def integration_ok(vendor: str, *, now: datetime | None = None) -> IntegrationStatus:
    """Record one successful call to `vendor`; a success ends the outage and clears its alert."""
    now = now or timezone.now()
    # The common case, a vendor that was fine and still is: one UPDATE, no lock.
    if IntegrationStatus.objects.filter(vendor=vendor, failing_since__isnull=True).update(last_ok_at=now):
        return IntegrationStatus.objects.get(vendor=vendor)
    recovered: IntegrationStatus | None = None
    with transaction.atomic():
        row, _ = IntegrationStatus.objects.select_for_update().get_or_create(vendor=vendor)
        if row.failing_since is not None:
            if row.alerted_at is not None:
                audit_record(
                    verb="integration.recovered",
                    obj=row,
                    actor_label=f"integration:{vendor}",
                    details={
                        "vendor": vendor,
                        "failing_since": row.failing_since.isoformat(),
                        "failures": row.consecutive_failures,
                    },
                )
                if row.slack_posted_at is not None:
                    recovered = IntegrationStatus(vendor=vendor, failing_since=row.failing_since)
            row.failing_since = None
            row.alerted_at = None
            row.slack_posted_at = None
            row.consecutive_failures = 0
        row.last_ok_at = now
        row.save()
    if recovered is not None:
        _slack(f"{integration_label(vendor)} is working again (failing since {_local(recovered.failing_since)}).")
        logger.info("integration.recovered", extra={"vendor": vendor})
    return row


def _local(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return moment.astimezone(ZoneInfo(settings.OWNER_TIMEZONE)).strftime("%Y-%m-%d %H:%M %Z")


def _post_alert(row: IntegrationStatus) -> None:
    """Post the alert to Slack at most once per outage (a claim on `slack_posted_at`)."""
    if not slack.enabled():
        return  # local mode: the "needs you" item is the alert
    claimed = IntegrationStatus.objects.filter(
        pk=row.pk, alerted_at__isnull=False, slack_posted_at__isnull=True
    ).update(slack_posted_at=timezone.now())
    if not claimed:
        return
    url = integration_url(row.vendor)
    text = (
        f"Integration failing: {integration_label(row.vendor)} has failed {row.consecutive_failures} times in a row "
        f"since {_local(row.failing_since)} (last: {row.last_error[:200]}). ClientsFlow keeps retrying on its "
        f"own; check the vendor's status page and your API key. Affected rows: {public_base_url()}{url}"
    )
    if not _slack(text):
        # Not posted: release the claim so the next failure tries again.
        IntegrationStatus.objects.filter(pk=row.pk).update(slack_posted_at=None)


def _slack(text: str) -> bool:
    if not slack.enabled():
        return False
    try:
        slack.slack_post(text=text)
    except slack.SlackError as exc:
        logger.warning("integration.slack_failed", extra={"error": str(exc)[:200]})
        return False
    return True
