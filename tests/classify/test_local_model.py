from __future__ import annotations

from collections import Counter

import pytest

from classify.local_model import DATA_DIR, TrainConfig, load_model, read_dataset, train
from classify.services.evaluation import evaluate, local_predictor


def _split(name: str) -> list[dict]:
    return read_dataset(DATA_DIR / f"{name}.jsonl")


def test_the_frozen_splits_never_overlap_and_cover_every_case() -> None:
    train_items, test_items = _split("train"), _split("test")
    assert len(train_items) + len(test_items) >= 400
    assert not {i["id"] for i in train_items} & {i["id"] for i in test_items}
    assert not {i["text"] for i in train_items} & {i["text"] for i in test_items}
    for items in (train_items, test_items):
        assert set(Counter(i["label"] for i in items)) == {"positive", "negative", "neutral"}
        assert {"en", "es", "de", "fr", "pt"} <= {i["lang"] for i in items}
        assert any("wrote:" in i["text"] or "Original Message" in i["text"] for i in items)
        assert any("Best regards" in i["text"] or "Sent from my" in i["text"] for i in items)


def test_shipped_model_meets_the_targets_on_the_held_out_test_split() -> None:
    result = evaluate(_split("test"), local_predictor(load_model()))
    assert result.positives >= 50
    assert result.fn_rate <= 0.02, result.confusion
    assert result.accuracy >= 0.90, result.confusion


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("sure, when?", "positive"),
        ("nope", "negative"),
        ("ooo till 3/20", "neutral"),
        ("Not sure it's a fit, but happy to chat.", "positive"),
        ("Thanks for thinking of us, but we'll pass.", "negative"),
        ("¿Cuánto cuesta?", "positive"),
        ("Kein Interesse, danke.", "negative"),
        ("Je suis absent jusqu'au 12 janvier.", "neutral"),
        ("Tenho interesse, me liga amanhã.", "positive"),
    ],
)
def test_short_hedged_and_multilingual_replies(text: str, label: str) -> None:
    assert load_model().predict(text).label == label


def test_prediction_is_deterministic() -> None:
    model = load_model()
    first = [model.predict(i["text"]) for i in _split("test")[:30]]
    assert first == [model.predict(i["text"]) for i in _split("test")[:30]]


def test_training_is_reproducible_on_a_small_subset() -> None:
    subset = _split("train")[:60]
    config = TrainConfig(epochs=3)
    first, second = train(subset, config=config), train(subset, config=config)
    assert first.to_json() == second.to_json()
    assert first.version.startswith("local-")
    assert first.version != load_model().version


def test_bad_dataset_lines_are_reported_with_their_line_number(tmp_path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "hi", "label": "positive"}\n{"id": "b", "text": "x", "label": "maybe"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: label must be one of"):
        read_dataset(path)
