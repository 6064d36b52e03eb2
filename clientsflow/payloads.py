"""Checks on a webhook's JSON before it is stored: what we accept, processing must be able to use.

A value the database cannot hold (a NUL character, which PostgreSQL text refuses; a lone UTF-16
surrogate, which is not encodable as UTF-8) used to be answered 200 and then fail on every
processing retry, so the delivery was silently lost. JSON nested thousands deep made the parser
raise RecursionError (a 500). Both are refused at the door with a 400 that names the field.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

# Real webhook payloads (Stripe events included) nest well under twenty levels.
MAX_DEPTH = 64
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON object and check it can be stored, or raise ValueError with a message fit for the sender."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError("The body is not valid UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"The body is not valid JSON ({exc.msg} at position {exc.pos}).") from exc
    except RecursionError as exc:
        raise ValueError(too_deep_message()) from exc
    if not isinstance(payload, dict):
        raise ValueError("The body must be a JSON object.")
    check_payload_storable(payload)
    return payload


def too_deep_message() -> str:
    return f"The JSON is nested more than {MAX_DEPTH} levels deep; send a flatter payload."


def check_payload_storable(payload: Any) -> None:
    """Raise ValueError naming the first field that is nested too deep or holds unstorable text.

    Walks with an explicit stack, so a deep payload cannot exhaust the interpreter's own.
    """
    stack: list[tuple[Any, str, int]] = [(payload, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(too_deep_message())
        if isinstance(value, dict):
            for key, item in value.items():
                if UNSTORABLE.search(key):
                    where = f" inside '{path[:100]}'" if path else ""
                    raise ValueError(f"A key{where} {_problem(key)}; remove it and send again.")
                stack.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str) and UNSTORABLE.search(value):
            raise ValueError(f"'{path[:100]}' {_problem(value)}; remove it and send again.")


def _problem(text: str) -> str:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    return "contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid text"


def https_url(value: str) -> str:
    """`value` if it is an absolute https URL, else "" (a vendor's `javascript:` or `data:` link
    would otherwise be stored and rendered as a clickable href)."""
    url = (value or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() != "https" or not parts.hostname or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return ""
    return url
