"""Structured (JSON) logging that never prints secrets or message bodies.

Three guards: keys that carry content (bodies, transcripts, tokens) are dropped from the structured
fields whatever their value; the token in a link URL (`/p/<token>/`, `/book/manage/<token>/`,
`/u/<token>/`) is masked in every record, whichever logger wrote it (Django's request and server
loggers print the path of every 4xx); and the value of every configured secret is masked
wherever it appears in a rendered line.
"""

from __future__ import annotations

import json
import logging
import re
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

# The URL prefixes whose next segment is a link token that opens something on its own (a
# proposal, a booking, an unsubscribe). tests/security/test_token_links.py walks the URL map so a
# new token route cannot be missed here.
TOKEN_PATH_RE = re.compile(r"(/(?:p|u|book/manage|admin/leads/lead/import-csv)/)[^/?#\s\"'<>]+")


def redact_path_tokens(text: str) -> str:
    return TOKEN_PATH_RE.sub(rf"\1{MASK}", text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_path_tokens(value)
    if isinstance(value, tuple | list):
        return type(value)(_redact_value(item) for item in value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    return value


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
        # The rendered message, not msg and args apart: a path may be split across both.
        if isinstance(record.msg, str):
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = None  # a malformed call: the handler reports it as logging always does
            if message is not None:
                record.msg, record.args = redact_path_tokens(message), None
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            if key == "request" and not isinstance(value, str):
                # Django's request and server loggers attach the request (or socket) itself;
                # handlers that render it would print the full path.
                method, path = getattr(value, "method", ""), getattr(value, "path", "")
                record.request = redact_path_tokens(f"{method} {path}".strip()) if path else MASK
            else:
                record.__dict__[key] = _redact_value(value)
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
        return redact(redact_path_tokens(json.dumps(entry, default=str)))
