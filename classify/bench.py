"""`make bench` section: the local model's accuracy, false-negative rate and speed on the frozen test set."""

from __future__ import annotations

import json
import time
from typing import Any

from classify.local_model import DATA_DIR, MODEL_PATH, LocalModel, read_dataset
from classify.services.evaluation import evaluate, local_predictor


def classify_bench(quick: bool, log: Any = print) -> dict[str, Any]:
    started = time.perf_counter()
    with open(MODEL_PATH, encoding="utf-8") as fh:
        model = LocalModel(json.load(fh))  # not the cached loader: the load itself is measured
    load_ms = (time.perf_counter() - started) * 1000
    items = read_dataset(DATA_DIR / "test.jsonl")
    result = evaluate(items, local_predictor(model))
    texts = [item["text"] for item in items]
    count = 2_000 if quick else 20_000
    started = time.perf_counter()
    for index in range(count):
        model.predict(texts[index % len(texts)])
    per_second = count / (time.perf_counter() - started)
    log(f"classify: accuracy {result.accuracy:.1%}, fn rate {result.fn_rate:.1%}, {per_second:,.0f} replies/s")
    return {
        "model_version": model.version,
        "model_load_ms": round(load_ms, 1),
        "test_examples": result.examples,
        "test_accuracy": round(result.accuracy, 4),
        "test_fn_rate_positive_to_negative": round(result.fn_rate, 4),
        "replies_per_second_one_core": round(per_second),
    }
