"""`manage.py digest [--date YYYY-MM-DD] [--send]`: print the owner's digest, or send it once."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from reports.digest import digest_build, digest_key, digest_render, digest_send, owner_today


class Command(BaseCommand):
    help = "Print the owner's daily digest (plain text), or send it with --send (once per day)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", dest="day", help="The owner's day, YYYY-MM-DD (default: today in OWNER_TIMEZONE)."
        )
        parser.add_argument("--send", action="store_true", help="Send it to the owner (once per day).")

    def handle(self, *args, day: str | None = None, send: bool = False, **options) -> None:
        when = _parse_day(day) if day else owner_today()
        if not send:
            self.stdout.write(digest_render(digest_build(day=when)).text)
            return
        with transaction.atomic():
            notification = digest_send(day=when)
        if notification is None:
            self.stdout.write(
                f"The digest for {when.isoformat()} was already sent (or digests are switched off in "
                f"Admin > Settings); nothing sent. See Admin > Notifications ({digest_key(when)})."
            )
            return
        notification.refresh_from_db()
        if notification.status in (notification.Status.PENDING, notification.Status.SENDING):
            self.stdout.write(f"Queued the digest for {when.isoformat()}; the worker sends it.")
        elif notification.status == notification.Status.SENT:
            self.stdout.write(self.style.SUCCESS(f"Sent the digest for {when.isoformat()}: {notification.subject}"))
        else:
            raise CommandError(
                f"The digest for {when.isoformat()} was not sent ({notification.status}): {notification.error}"
            )


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must look like 2026-03-08, not {value!r}.") from None
