from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from classify.local_model import DATA_DIR, MODEL_PATH, load_model, read_dataset
from classify.models import Classification, ClassificationChange, PromotionDecision, PromptVersion
from classify.services.classification import classification_review, reply_classify
from classify.services.prompts import prompt_ensure_champion
from classify.text import strip_reply
from tests.classify.conftest import tool_use_answer
from tests.classify.factories import InboundReplyFactory

pytestmark = pytest.mark.django_db

SMALL_SET = [
    {"id": "s1", "text": "Sounds great, when can we talk?", "label": "positive"},
    {"id": "s2", "text": "What would this cost us per month?", "label": "positive"},
    {"id": "s3", "text": "Not interested at the moment or ever, thanks.", "label": "negative"},
    {"id": "s4", "text": "Please remove me from this list immediately.", "label": "negative"},
    {"id": "s5", "text": "I'm out of the office until Monday the 4th.", "label": "neutral"},
    {"id": "s6", "text": "Wrong person, sorry, I work in finance.", "label": "neutral"},
]
TRUTH = {strip_reply(item["text"]): item["label"] for item in SMALL_SET}


@pytest.fixture
def small_set(tmp_path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in SMALL_SET))
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_eval_local_prints_the_figures_and_writes_predictions(tmp_path) -> None:
    predictions = tmp_path / "out.jsonl"
    output = run(
        "classify_eval",
        "--dataset",
        str(DATA_DIR / "test.jsonl"),
        "--backend",
        "local",
        "--predictions",
        str(predictions),
    )
    assert "accuracy:" in output and "positive->negative false-negative rate:" in output
    assert "confusion matrix" in output and "precision" in output and "replies/s" in output
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(rows) == len(read_dataset(DATA_DIR / "test.jsonl"))
    assert set(rows[0]) == {"id", "label", "confidence"}


def test_eval_refuses_a_missing_file_with_a_clear_message() -> None:
    with pytest.raises(CommandError, match="does not exist"):
        run("classify_eval", "--dataset", "nope.jsonl", "--backend", "local")


def test_eval_anthropic_without_a_key_says_what_to_do(small_set, settings) -> None:
    settings.ANTHROPIC_API_KEY = ""
    with pytest.raises(CommandError, match="ANTHROPIC_API_KEY is not set"):
        run("classify_eval", "--dataset", str(small_set), "--backend", "anthropic")


def _challenger(name: str = "v2-stricter") -> PromptVersion:
    return PromptVersion.objects.create(name=name, system_prompt=f"{name}: classify sales replies carefully.")


def test_challenger_better_on_the_frozen_set_is_promoted(anthropic_http, small_set) -> None:
    champion = prompt_ensure_champion()
    challenger = _challenger()

    def answer(system: str, text: str):
        if system.startswith("v2-stricter"):
            return 200, tool_use_answer(label=TRUTH[text], confidence=0.9)
        wrong = "neutral" if TRUTH[text] == "positive" else TRUTH[text]  # the champion misses positives
        return 200, tool_use_answer(label=wrong, confidence=0.9)

    calls = anthropic_http(answer)
    output = run(
        "classify_eval",
        "--dataset",
        str(small_set),
        "--backend",
        "anthropic",
        "--challenger",
        str(challenger.pk),
        "--promote",
    )
    assert len(calls) == 12  # the challenger, then the champion on the same set
    assert "Promoted" in output
    challenger.refresh_from_db()
    champion.refresh_from_db()
    assert challenger.status == "champion" and champion.status == "retired"
    assert challenger.eval_accuracy == 1.0 and challenger.eval_fn_rate == 0.0
    decision = PromotionDecision.objects.get()
    assert decision.promoted and decision.kind == "prompt" and decision.champion == champion.name
    assert decision.champion_accuracy == pytest.approx(4 / 6)


def test_challenger_with_more_false_negatives_is_refused(anthropic_http, small_set) -> None:
    champion = prompt_ensure_champion()
    challenger = _challenger()

    def answer(system: str, text: str):
        if system.startswith("v2-stricter"):
            label = "negative" if text == "Sounds great, when can we talk?" else TRUTH[text]
            return 200, tool_use_answer(label=label, confidence=0.9)
        label = "neutral" if text == "Wrong person, sorry, I work in finance." else TRUTH[text]
        return 200, tool_use_answer(label=label, confidence=0.9)

    anthropic_http(answer)
    output = run(
        "classify_eval",
        "--dataset",
        str(small_set),
        "--backend",
        "anthropic",
        "--challenger",
        str(challenger.pk),
        "--promote",
    )
    assert "Refused: false-negative rate 50.0% is worse" in output
    challenger.refresh_from_db()
    champion.refresh_from_db()
    assert challenger.status == "challenger" and champion.status == "champion"
    assert not PromotionDecision.objects.get().promoted


def test_challenger_that_is_only_equal_is_refused(anthropic_http, small_set) -> None:
    prompt_ensure_champion()
    challenger = _challenger()
    anthropic_http(lambda system, text: (200, tool_use_answer(label=TRUTH[text], confidence=0.9)))
    output = run(
        "classify_eval",
        "--dataset",
        str(small_set),
        "--backend",
        "anthropic",
        "--challenger",
        str(challenger.pk),
        "--promote",
    )
    assert "is not better than the champion's" in output
    assert PromptVersion.objects.get(status="champion").name == "builtin-v1"


def test_an_outage_during_eval_stops_it_and_promotes_nothing(anthropic_http, small_set, settings) -> None:
    settings.ANTHROPIC_MAX_RETRIES = 0
    challenger = _challenger()
    anthropic_http(
        lambda system, text: (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    )
    with pytest.raises(CommandError, match="nothing was promoted"):
        run(
            "classify_eval",
            "--dataset",
            str(small_set),
            "--backend",
            "anthropic",
            "--challenger",
            str(challenger.pk),
            "--promote",
        )
    assert not PromotionDecision.objects.exists()


def test_train_refuses_a_model_that_is_not_better_and_keeps_the_file(tmp_path) -> None:
    subset = tmp_path / "subset.jsonl"
    subset.write_text("".join(json.dumps(i) + "\n" for i in read_dataset(DATA_DIR / "train.jsonl")[:40]))
    model_copy = tmp_path / "model.json"
    model_copy.write_bytes(MODEL_PATH.read_bytes())
    output = run("classify_train", "--train", str(subset), "--model-path", str(model_copy), "--promote")
    assert "Refused" in output
    assert model_copy.read_bytes() == MODEL_PATH.read_bytes()
    decision = PromotionDecision.objects.get()
    assert decision.kind == "local_model" and not decision.promoted
    assert decision.champion == load_model().version


def test_train_promotes_over_a_weaker_champion_and_replaces_the_file(tmp_path, small_set) -> None:
    train_items = read_dataset(DATA_DIR / "train.jsonl")
    # A deliberately weak champion: it has only ever seen neutral replies.
    weak = tmp_path / "weak.jsonl"
    weak.write_text("".join(json.dumps(i) + "\n" for i in [i for i in train_items if i["label"] == "neutral"][:20]))
    model_path = tmp_path / "model.json"
    run("classify_train", "--train", str(weak), "--test", str(small_set), "--model-path", str(model_path), "--promote")
    weak_version = load_model(model_path).version
    subset = tmp_path / "better.jsonl"
    subset.write_text("".join(json.dumps(i) + "\n" for i in train_items[:200]))
    output = run(
        "classify_train", "--train", str(subset), "--test", str(small_set), "--model-path", str(model_path), "--promote"
    )
    assert "Promoted" in output
    decision = PromotionDecision.objects.latest("decided_at")
    assert decision.promoted and decision.champion == weak_version
    assert load_model(model_path).version == decision.candidate != weak_version


def test_train_refuses_overlapping_files(tmp_path) -> None:
    with pytest.raises(CommandError, match="in both the train and the test file"):
        run("classify_train", "--train", str(DATA_DIR / "test.jsonl"), "--model-path", str(tmp_path / "m.json"))


def test_backfill_changes_unconfirmed_labels_only_and_records_each_change(anthropic_off, admin_user) -> None:
    kept = reply_classify(reply_id=InboundReplyFactory(body="Sure, when?").pk)
    classification_review(classification_id=kept.pk, label="neutral", actor=admin_user)
    stale = reply_classify(reply_id=InboundReplyFactory(body="No thanks, we're all set.").pk)
    Classification.objects.filter(pk=stale.pk).update(label="positive", model_version="local-old")
    unclassified = InboundReplyFactory(body="ooo till 3/20")
    output = run("classify_backfill", "--since", "2000-01-01", "--no-progress")
    assert "3 replies: 1 newly classified, 1 labels changed, 0 unchanged, 1 confirmed by a person and kept." in output
    stale.refresh_from_db()
    kept.refresh_from_db()
    assert stale.label == "negative" and stale.needs_review  # a change to negative is checked by a person
    assert kept.effective_label == "neutral"
    change = ClassificationChange.objects.get(cause="backfill")
    assert (change.from_label, change.to_label, change.from_version) == ("positive", "negative", "local-old")
    assert Classification.objects.filter(reply=unclassified).exists()


def test_backfill_rejects_a_bad_date() -> None:
    with pytest.raises(CommandError, match="--since takes a date"):
        run("classify_backfill", "--since", "last week")


def test_export_corrections_writes_reviewed_labels_but_never_a_test_text(anthropic_off, admin_user, tmp_path) -> None:
    corrected = reply_classify(reply_id=InboundReplyFactory(body="Let me run it past my manager first.").pk)
    human_label = "neutral" if corrected.label != "neutral" else "positive"
    classification_review(classification_id=corrected.pk, label=human_label, actor=admin_user)
    test_text = read_dataset(DATA_DIR / "test.jsonl")[0]["text"]
    leaked = reply_classify(reply_id=InboundReplyFactory(body=test_text).pk)
    flipped = {"positive": "neutral", "neutral": "positive", "negative": "neutral"}[leaked.label]
    classification_review(classification_id=leaked.pk, label=flipped, actor=admin_user)
    out = tmp_path / "corrections.jsonl"
    output = run("classify_export_corrections", "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [
        {
            "id": f"review-{corrected.pk}",
            "text": "Let me run it past my manager first.",
            "label": human_label,
            "source": "review",
        }
    ]
    assert "1 skipped" in output
