"""Structured (JSON) logging that never prints secrets or message bodies.

Two guards: keys that carry content (bodies, transcripts, tokens) are dropped from the structured
fields whatever their value, and the value of every configured secret is masked wherever it
appears in a rendered line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

# Never emitted as structured fields: they carry content or credentials.
CONTENT_KEYS = frozenset(
    {
        "body",
        "raw_body",
        "text",
        "html",
        "subject",
        "transcript",
        "sentences",
        "password",
        "secret",
        "token",
        "signature",
        "authorization",
        "api_key",
        "payload",
    }
)
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
MASK = "[redacted]"


def _configured_secrets() -> list[str]:
    values = []
    for name in getattr(settings, "SECRET_SETTING_NAMES", []):
        value = getattr(settings, name, "") or ""
        if isinstance(value, str) and len(value) >= 6:
            values.append(value)
    # Provider credentials given as ANYMAIL_<NAME> variables (tokens, keys, webhook secrets).
    values += [v for v in (getattr(settings, "ANYMAIL", None) or {}).values() if isinstance(v, str) and len(v) >= 6]
    return values


def redact(text: str) -> str:
    for value in _configured_secrets():
        if value in text:
            text = text.replace(value, MASK)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key in list(record.__dict__):
            if key.lower() in CONTENT_KEYS:
                record.__dict__[key] = MASK
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            entry[key] = MASK if key.lower() in CONTENT_KEYS else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))
