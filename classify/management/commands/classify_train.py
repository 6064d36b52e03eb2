"""`manage.py classify_train [--train FILE] [--test FILE] [--promote]`: retrain the local model."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classify.local_model import DATA_DIR, MODEL_PATH, load_model, read_dataset
from classify.local_model import train as train_model
from classify.services.evaluation import (
    dataset_sha256,
    evaluate,
    format_report,
    local_model_challenge,
    local_predictor,
    promotion_verdict,
)


class Command(BaseCommand):
    help = "Train a challenger local model and, with --promote, replace the champion only if it is better."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--train", default=str(DATA_DIR / "train.jsonl"))
        parser.add_argument("--test", default=str(DATA_DIR / "test.jsonl"), help="The frozen test set to compare on.")
        parser.add_argument("--model-path", default=str(MODEL_PATH), help="The champion model file.")
        parser.add_argument("--promote", action="store_true", help="Apply the rule and store the decision.")

    def handle(self, *args, train: str, test: str, model_path: str, promote: bool, **options) -> None:
        try:
            train_items, test_items = read_dataset(train), read_dataset(test)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        overlap = {i["text"] for i in train_items} & {i["text"] for i in test_items}
        if overlap:
            raise CommandError(f"{len(overlap)} replies are in both the train and the test file: remove them from one.")
        candidate = train_model(train_items)
        candidate_result = evaluate(test_items, local_predictor(candidate))
        self.stdout.write(format_report(candidate_result, title=f"challenger {candidate.version} on {test}"))
        champion_version, champion_result = "", None
        if Path(model_path).exists():
            champion = load_model(model_path)
            champion_version = champion.version
            champion_result = evaluate(test_items, local_predictor(champion))
            self.stdout.write(
                f"\nchampion {champion.version}: accuracy {champion_result.accuracy:.1%}, "
                f"false-negative rate {champion_result.fn_rate:.1%}"
            )
        if not promote:
            _, reason = promotion_verdict(
                candidate=candidate_result,
                champion_accuracy=champion_result.accuracy if champion_result else None,
                champion_fn_rate=champion_result.fn_rate if champion_result else None,
            )
            self.stdout.write(f"\n(dry run, nothing stored) {reason}")
            return
        decision = local_model_challenge(
            candidate=candidate,
            candidate_result=candidate_result,
            champion_version=champion_version,
            champion_result=champion_result,
            dataset=test,
            dataset_sha=dataset_sha256(test),
            actor_label="classify_train",
            model_path=model_path,
        )
        self.stdout.write(f"\n{decision.reason}")
        if decision.promoted:
            self.stdout.write(f"{model_path} replaced: commit it so every machine uses the new model.")
