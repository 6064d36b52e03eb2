"""The local classifier: multinomial logistic regression over word and character n-grams.

Dependency-free on purpose: the model is a JSON file in the repository
(`classify/model/local_model.json`), loads in well under a second, and gives the same answer for
the same text on every machine. Training (`classify_train`) is deterministic too: a fixed feature
order, a seeded shuffle and a fixed number of epochs.

Features are taken from the reply after `strip_reply`, lower-cased with accents folded (people
type "nao" as often as "não"): word unigrams and bigrams, character 2-5-grams inside word
boundaries (robust to typos and to the inflections of five languages), and a few shape features
(very short reply, question mark).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from classify.cues import cues_in
from classify.text import normalize, strip_reply

LABELS: tuple[str, ...] = ("positive", "negative", "neutral")
MODEL_PATH = Path(__file__).resolve().parent / "model" / "local_model.json"
DATA_DIR = Path(__file__).resolve().parent / "data"
FORMAT_VERSION = 1

_WORD = re.compile(r"[a-z0-9']+|\?")


@dataclass(frozen=True)
class TrainConfig:
    # Chosen by 5-fold cross-validation on the train split only; the test split is never used to tune.
    epochs: int = 15
    learning_rate: float = 0.3
    l2: float = 1e-3
    seed: int = 13
    # Missing a positive costs far more than a second look at a neutral: weigh positives up.
    class_weights: tuple[float, float, float] = (2.0, 1.0, 1.0)
    char_ngrams: tuple[int, int] = (2, 4)
    prune_below: float = 1e-3


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    probabilities: dict[str, float]


def features(text: str, *, char_ngrams: Sequence[int] = (2, 4)) -> dict[str, float]:
    """Sparse feature vector of a reply's own text.

    Each family (words, character n-grams, cues) is L2-normalised on its own, so the many
    character n-grams of a long reply cannot drown out its few cue phrases.
    """
    normalized = normalize(strip_reply(text))
    words = _WORD.findall(normalized)
    word_feats: dict[str, float] = {}
    for word in words:
        word_feats["w:" + word] = 1.0
    for left, right in zip(["<s>", *words], [*words, "</s>"], strict=True):
        word_feats[f"b:{left}_{right}"] = 1.0
    char_feats: dict[str, float] = {}
    low, high = char_ngrams
    for word in words:
        padded = f" {word} "
        for size in range(low, high + 1):
            for start in range(len(padded) - size + 1):
                char_feats["c:" + padded[start : start + size]] = 1.0
    feats = {**_unit(word_feats), **_unit(char_feats)}
    for cue in cues_in(normalized):
        feats["cue:" + cue] = 1.0
    count = sum(1 for w in words if w != "?")
    length = "0" if count == 0 else "1-2" if count <= 2 else "3-5" if count <= 5 else "6-12" if count <= 12 else "13+"
    feats["len:" + length] = 1.0
    if "?" in words:
        feats["shape:question"] = 1.0
    return feats


def _unit(values: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in values.values())) or 1.0
    return {k: v / norm for k, v in values.items()}


class LocalModel:
    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT_VERSION or tuple(data.get("labels", ())) != LABELS:
            raise ValueError("This local model file has an unknown format; retrain it with `manage.py classify_train`.")
        self.data = data
        self.weights: dict[str, list[float]] = data["weights"]
        self.bias: list[float] = data["bias"]
        self.char_ngrams = tuple(data["config"]["char_ngrams"])
        self.version: str = data["version"]

    def predict(self, text: str) -> Prediction:
        scores = list(self.bias)
        weights = self.weights
        for name, value in features(text, char_ngrams=self.char_ngrams).items():
            row = weights.get(name)
            if row is not None:
                scores[0] += row[0] * value
                scores[1] += row[1] * value
                scores[2] += row[2] * value
        probs = _softmax(scores)
        best = max(range(len(LABELS)), key=lambda i: (probs[i], -i))
        return Prediction(
            label=LABELS[best],
            confidence=round(probs[best], 4),
            probabilities={label: round(p, 4) for label, p in zip(LABELS, probs, strict=True)},
        )

    def to_json(self) -> str:
        return json.dumps(self.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> LocalModel:
    with open(path, encoding="utf-8") as fh:
        return LocalModel(json.load(fh))


def load_model(path: Path | str | None = None) -> LocalModel:
    """The model in `path` (the shipped file by default), cached per file version.

    The cache only ever holds a read-only copy of a file, keyed by its modification time, so
    processes never need to agree on it: a retrained file is picked up on the next call.
    """
    target = Path(path) if path else MODEL_PATH
    return _load_cached(str(target), target.stat().st_mtime_ns)


def read_dataset(path: Path | str) -> list[dict[str, Any]]:
    """JSON Lines of {"id", "text", "label"}; raises ValueError naming the bad line."""
    items: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not valid JSON ({exc.msg}).") from exc
            if not isinstance(item, dict) or not {"id", "text", "label"} <= item.keys():
                raise ValueError(f'{path}:{number}: each line needs "id", "text" and "label".')
            if item["label"] not in LABELS:
                raise ValueError(f"{path}:{number}: label must be one of {', '.join(LABELS)}.")
            items.append(item)
    return items


def train(items: Iterable[dict[str, Any]], *, config: TrainConfig | None = None) -> LocalModel:
    """Fit the model on labelled replies; same items and config give the same file byte for byte."""
    config = config or TrainConfig()
    examples = sorted(((item["id"], item["text"], item["label"]) for item in items), key=lambda e: e[0])
    if not examples:
        raise ValueError("No training examples.")
    vectors = [(features(text, char_ngrams=config.char_ngrams), LABELS.index(label)) for _id, text, label in examples]
    weights: dict[str, list[float]] = {}
    bias = [0.0, 0.0, 0.0]
    grad_sq: dict[str, list[float]] = {}
    bias_sq = [1e-8, 1e-8, 1e-8]
    rng = random.Random(config.seed)
    order = list(range(len(vectors)))
    for _epoch in range(config.epochs):
        rng.shuffle(order)
        for index in order:
            vector, target = vectors[index]
            scores = list(bias)
            for name, value in vector.items():
                row = weights.get(name)
                if row is not None:
                    for k in range(3):
                        scores[k] += row[k] * value
            probs = _softmax(scores)
            weight = config.class_weights[target]
            errors = [(probs[k] - (1.0 if k == target else 0.0)) * weight for k in range(3)]
            for k in range(3):
                bias_sq[k] += errors[k] ** 2
                bias[k] -= config.learning_rate * errors[k] / math.sqrt(bias_sq[k])
            for name, value in vector.items():
                row = weights.setdefault(name, [0.0, 0.0, 0.0])
                sq = grad_sq.setdefault(name, [1e-8, 1e-8, 1e-8])
                for k in range(3):
                    grad = errors[k] * value + config.l2 * row[k]
                    sq[k] += grad * grad
                    row[k] -= config.learning_rate * grad / math.sqrt(sq[k])
    pruned = {
        name: [round(w, 4) for w in row]
        for name, row in sorted(weights.items())
        if max(abs(w) for w in row) >= config.prune_below
    }
    digest = hashlib.sha256("\n".join(f"{i}\t{label}\t{text}" for i, text, label in examples).encode()).hexdigest()
    data = {
        "format": FORMAT_VERSION,
        "labels": list(LABELS),
        "config": {
            "epochs": config.epochs,
            "learning_rate": config.learning_rate,
            "l2": config.l2,
            "seed": config.seed,
            "class_weights": list(config.class_weights),
            "char_ngrams": list(config.char_ngrams),
        },
        "train_examples": len(examples),
        "train_sha256": digest,
        "bias": [round(b, 4) for b in bias],
        "weights": pruned,
    }
    body = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    data["version"] = "local-" + hashlib.sha256(body.encode()).hexdigest()[:12]
    return LocalModel(data)
