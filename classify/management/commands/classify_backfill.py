"""`manage.py classify_backfill [--since DATE]`: re-classify stored replies with the current champion."""

from __future__ import annotations

from datetime import date, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from classify.models import Classification
from classify.services.classification import classification_relabel, classify_text, reply_classify
from outreach.models import InboundReply


class Command(BaseCommand):
    help = "Re-classify replies; labels a person confirmed never change, and every change is recorded."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", help="Only replies received on or after this date (YYYY-MM-DD).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, since: str | None, no_progress: bool, **options) -> None:
        replies = InboundReply.objects.order_by("received_at", "id")
        if since:
            try:
                day = date.fromisoformat(since)
            except ValueError as exc:
                raise CommandError("--since takes a date like 2026-11-01.") from exc
            replies = replies.filter(received_at__gte=timezone.make_aware(datetime.combine(day, time.min)))
        ids = list(replies.values_list("pk", flat=True))
        counts = {"replies": len(ids), "classified": 0, "changed": 0, "kept_human": 0, "unchanged": 0}
        for reply_id in tqdm(ids, disable=no_progress, file=self.stderr, unit="reply"):
            classification = Classification.objects.filter(reply_id=reply_id).select_related("reply").first()
            if classification is None:
                reply_classify(reply_id=reply_id)
                counts["classified"] += 1
                continue
            if classification.final_label:
                counts["kept_human"] += 1
                continue
            reply = classification.reply
            change = classification_relabel(
                classification=classification,
                verdict=classify_text(text=reply.body or reply.subject),
                actor_label="classify_backfill",
            )
            counts["changed" if change else "unchanged"] += 1
        self.stdout.write(
            "{replies} replies: {classified} newly classified, {changed} labels changed, "
            "{unchanged} unchanged, {kept_human} confirmed by a person and kept.".format(**counts)
        )
