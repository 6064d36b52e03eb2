"""`manage.py classify_export_corrections --out FILE`: reviewed labels as JSON Lines to extend the train set."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from classify.local_model import DATA_DIR, read_dataset
from classify.models import Classification


class Command(BaseCommand):
    help = "Write the labels people gave in the review queue as {id, text, label} lines (never a test-set text)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", required=True)
        parser.add_argument("--include-confirmed", action="store_true", help="Also export labels a person confirmed.")

    def handle(self, *args, out: str, include_confirmed: bool, **options) -> None:
        test_texts = {item["text"] for item in read_dataset(DATA_DIR / "test.jsonl")}
        rows = Classification.objects.exclude(final_label="").select_related("reply").order_by("reviewed_at", "id")
        written = skipped = 0
        with open(out, "w", encoding="utf-8") as fh:
            for row in rows.iterator():
                if row.final_label == row.label and not include_confirmed:
                    continue
                text = row.reply.body or row.reply.subject
                if not text.strip() or text in test_texts:
                    skipped += 1
                    continue
                item = {"id": f"review-{row.pk}", "text": text, "label": row.final_label, "source": "review"}
                fh.write(json.dumps(item, ensure_ascii=False) + "\n")
                written += 1
        self.stdout.write(
            f"{written} reviewed replies written to {out} ({skipped} skipped: empty or in the frozen test set). "
            "Check them, append them to classify/data/train.jsonl, then run classify_train --promote."
        )
