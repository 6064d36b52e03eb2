"""The eval harness and the champion/challenger rule, for prompts and for the local model.

Rule (the same for both): a challenger replaces the champion only when, on the same frozen test
set, its positive->negative false-negative rate is not worse AND its accuracy is strictly better.
Every comparison made with `--promote` is stored as a `PromotionDecision`, promoted or not.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from classify.clients.anthropic import classify_reply_text, make_client
from classify.local_model import LABELS, MODEL_PATH, LocalModel, load_model
from classify.models import PromotionDecision, PromptVersion
from classify.text import strip_reply
from clientsflow.audit import audit_record

Predictor = Callable[[str], tuple[str, float]]


@dataclass
class EvalResult:
    examples: int
    accuracy: float
    fn_rate: float
    fn_count: int
    positives: int
    per_label: dict[str, dict[str, float]]
    confusion: dict[str, dict[str, int]]
    predictions: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def replies_per_second(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "accuracy": round(self.accuracy, 4),
            "fn_rate_positive_to_negative": round(self.fn_rate, 4),
            "replies_per_second": round(self.replies_per_second),
        }


def dataset_sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def evaluate(items: Iterable[dict[str, Any]], predict: Predictor) -> EvalResult:
    items = list(items)
    confusion = {truth: dict.fromkeys(LABELS, 0) for truth in LABELS}
    predictions: list[dict[str, Any]] = []
    started = time.perf_counter()
    for item in items:
        label, confidence = predict(item["text"])
        confusion[item["label"]][label] += 1
        predictions.append({"id": item["id"], "label": label, "confidence": round(float(confidence), 4)})
    seconds = time.perf_counter() - started
    total = len(items)
    correct = sum(confusion[label][label] for label in LABELS)
    per_label: dict[str, dict[str, float]] = {}
    for label in LABELS:
        predicted = sum(confusion[truth][label] for truth in LABELS)
        support = sum(confusion[label].values())
        per_label[label] = {
            "precision": confusion[label][label] / predicted if predicted else 0.0,
            "recall": confusion[label][label] / support if support else 0.0,
            "support": support,
        }
    positives = sum(confusion["positive"].values())
    fn_count = confusion["positive"]["negative"]
    return EvalResult(
        examples=total,
        accuracy=correct / total if total else 0.0,
        fn_rate=fn_count / positives if positives else 0.0,
        fn_count=fn_count,
        positives=positives,
        per_label=per_label,
        confusion=confusion,
        predictions=predictions,
        seconds=seconds,
    )


def format_report(result: EvalResult, *, title: str) -> str:
    lines = [
        title,
        f"examples: {result.examples}",
        f"accuracy: {result.accuracy:.1%}",
        f"positive->negative false-negative rate: {result.fn_rate:.1%} ({result.fn_count} of {result.positives} positives)",
        f"speed: {result.replies_per_second:,.0f} replies/s",
        "",
        f"{'label':<10} {'precision':>9} {'recall':>7} {'support':>8}",
    ]
    for label in LABELS:
        figures = result.per_label[label]
        lines.append(f"{label:<10} {figures['precision']:>9.1%} {figures['recall']:>7.1%} {int(figures['support']):>8}")
    lines += [
        "",
        "confusion matrix (rows: true label, columns: predicted)",
        f"{'':<10}" + "".join(f"{p:>10}" for p in LABELS),
    ]
    for truth in LABELS:
        lines.append(f"{truth:<10}" + "".join(f"{result.confusion[truth][p]:>10}" for p in LABELS))
    return "\n".join(lines)


def write_predictions(result: EvalResult, path: Path | str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in result.predictions:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def local_predictor(model: LocalModel | None = None) -> Predictor:
    model = model or load_model()

    def predict(text: str) -> tuple[str, float]:
        prediction = model.predict(text)
        return prediction.label, prediction.confidence

    return predict


def anthropic_predictor(prompt: PromptVersion, *, client: Any = None) -> Predictor:
    """Raises `AnthropicUnavailable` on the first reply the backend cannot answer: an eval with
    holes would compare prompts on different sets."""
    client = client or make_client()

    def predict(text: str) -> tuple[str, float]:
        verdict = classify_reply_text(
            text=strip_reply(text), system_prompt=prompt.system_prompt, model=prompt.model, client=client
        )
        return verdict.label, verdict.confidence

    return predict


def promotion_verdict(
    *, candidate: EvalResult, champion_accuracy: float | None, champion_fn_rate: float | None
) -> tuple[bool, str]:
    if champion_accuracy is None or champion_fn_rate is None:
        return True, "No champion figures on this test set: the candidate becomes champion."
    if candidate.fn_rate > champion_fn_rate:
        return False, (
            f"Refused: false-negative rate {candidate.fn_rate:.1%} is worse than the champion's {champion_fn_rate:.1%}."
        )
    if candidate.accuracy <= champion_accuracy:
        return False, (
            f"Refused: accuracy {candidate.accuracy:.1%} is not better than the champion's {champion_accuracy:.1%}."
        )
    return True, (
        f"Promoted: accuracy {candidate.accuracy:.1%} > {champion_accuracy:.1%} and false-negative rate "
        f"{candidate.fn_rate:.1%} <= {champion_fn_rate:.1%}."
    )


def prompt_record_eval(*, prompt: PromptVersion, result: EvalResult, dataset_sha: str) -> None:
    prompt.eval_accuracy = result.accuracy
    prompt.eval_fn_rate = result.fn_rate
    prompt.eval_examples = result.examples
    prompt.eval_dataset_sha256 = dataset_sha
    prompt.evaluated_at = timezone.now()
    prompt.save(
        update_fields=[
            "eval_accuracy",
            "eval_fn_rate",
            "eval_examples",
            "eval_dataset_sha256",
            "evaluated_at",
            "updated_at",
        ]
    )


@transaction.atomic
def prompt_challenge(
    *,
    challenger: PromptVersion,
    champion: PromptVersion | None,
    result: EvalResult,
    dataset: str,
    dataset_sha: str,
    actor_label: str,
) -> PromotionDecision:
    """Apply the rule to an evaluated challenger; the champion's figures must be on `dataset_sha`."""
    usable_champion = champion if champion and champion.eval_dataset_sha256 == dataset_sha else None
    promoted, reason = promotion_verdict(
        candidate=result,
        champion_accuracy=usable_champion.eval_accuracy if usable_champion else None,
        champion_fn_rate=usable_champion.eval_fn_rate if usable_champion else None,
    )
    if champion is not None and champion.pk == challenger.pk:
        promoted, reason = False, "This prompt is already the champion."
    if promoted:
        PromptVersion.objects.filter(status=PromptVersion.Status.CHAMPION).update(
            status=PromptVersion.Status.RETIRED, updated_at=timezone.now()
        )
        challenger.status = PromptVersion.Status.CHAMPION
        challenger.save(update_fields=["status", "updated_at"])
    decision = PromotionDecision.objects.create(
        kind=PromotionDecision.Kind.PROMPT,
        candidate=challenger.name,
        prompt_version=challenger,
        champion=champion.name if champion else "",
        candidate_accuracy=result.accuracy,
        candidate_fn_rate=result.fn_rate,
        champion_accuracy=usable_champion.eval_accuracy if usable_champion else None,
        champion_fn_rate=usable_champion.eval_fn_rate if usable_champion else None,
        dataset=dataset[:255],
        dataset_sha256=dataset_sha,
        examples=result.examples,
        promoted=promoted,
        reason=reason[:500],
        decided_by=actor_label[:100],
    )
    audit_record(
        verb="classify.prompt_promoted" if promoted else "classify.prompt_refused",
        obj=decision,
        actor_label=actor_label,
        details={"candidate": challenger.name, "reason": reason},
    )
    return decision


@transaction.atomic
def local_model_challenge(
    *,
    candidate: LocalModel,
    candidate_result: EvalResult,
    champion_version: str,
    champion_result: EvalResult | None,
    dataset: str,
    dataset_sha: str,
    actor_label: str,
    model_path: Path | str = MODEL_PATH,
) -> PromotionDecision:
    """Same rule for a retrained local model; a promoted model replaces the file atomically."""
    promoted, reason = promotion_verdict(
        candidate=candidate_result,
        champion_accuracy=champion_result.accuracy if champion_result else None,
        champion_fn_rate=champion_result.fn_rate if champion_result else None,
    )
    if candidate.version == champion_version:
        promoted, reason = False, "The retrained model is identical to the champion."
    decision = PromotionDecision.objects.create(
        kind=PromotionDecision.Kind.LOCAL_MODEL,
        candidate=candidate.version,
        champion=champion_version,
        candidate_accuracy=candidate_result.accuracy,
        candidate_fn_rate=candidate_result.fn_rate,
        champion_accuracy=champion_result.accuracy if champion_result else None,
        champion_fn_rate=champion_result.fn_rate if champion_result else None,
        dataset=dataset[:255],
        dataset_sha256=dataset_sha,
        examples=candidate_result.examples,
        promoted=promoted,
        reason=reason[:500],
        decided_by=actor_label[:100],
    )
    audit_record(
        verb="classify.model_promoted" if promoted else "classify.model_refused",
        obj=decision,
        actor_label=actor_label,
        details={"candidate": candidate.version, "reason": reason},
    )
    if promoted:
        _write_atomically(Path(model_path), candidate.to_json())
    return decision


def _write_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".local_model.", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as fh:
        fh.write(content)
    os.replace(temp, path)
