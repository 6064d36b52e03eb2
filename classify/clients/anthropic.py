"""Anthropic for classification: labelling a lead's reply (the classifier's Anthropic backend).

One of two Anthropic modules, each with its own purpose, settings and prompt: this one labels
replies; `outreach.clients.anthropic` drafts outbound copy. Outside these two the SDK is imported
nowhere.

One Messages API call per reply, with the champion prompt as a cached system block and a forced
tool call as the structured answer (https://docs.anthropic.com/en/docs/build-with-claude/tool-use).
The SDK retries 408/409/429/5xx itself (`max_retries`, honouring `retry-after`); what still fails
is translated into the exceptions below, which the service turns into "local label + review".
A spend-limit error (a 400 "Your credit balance is too low ..." or a 402/429 spend-limit code) is
never retried: more attempts cannot succeed until someone adds credit.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import ToolParam

logger = logging.getLogger(__name__)

TOOL_NAME = "record_classification"
LABELS = ("positive", "negative", "neutral")
CLASSIFY_TOOL: ToolParam = {
    "name": TOOL_NAME,
    "description": "Record how the sales reply should be classified.",
    "input_schema": {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": list(LABELS)},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "rationale": {"type": "string", "description": "One short sentence, no quotes from the reply."},
            "unsubscribe": {"type": "boolean", "description": "The sender asks to stop receiving email."},
        },
        "required": ["label", "confidence", "rationale", "unsubscribe"],
    },
}


@cache
def _sdk() -> ModuleType:
    """The SDK, imported on first use: it takes over a second of CPU to import, which every process
    (web workers, Celery, each management command) would otherwise pay at start-up without ever
    calling Anthropic."""
    return importlib.import_module("anthropic")


@cache
def _spend_limit_classes() -> tuple[type[Exception], ...]:
    sdk = _sdk()
    return tuple(
        getattr(sdk, name)
        for name in (
            "PaymentRequiredError",
            "EnforcedSpendLimitReachedError",
            "ContractSpendLimitReachedError",
            "LinkedOrganizationSpendLimitReachedError",
        )
        if hasattr(sdk, name)
    )


class AnthropicUnavailable(Exception):
    """The backend gave no usable answer; `reason` says why, in words for the review queue."""

    reason = "Anthropic did not answer"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail


class AnthropicRateLimited(AnthropicUnavailable):
    reason = "Anthropic rate limit (429) after retries"


class AnthropicOverloaded(AnthropicUnavailable):
    reason = "Anthropic overloaded or failing (5xx/529) after retries"


class AnthropicSpendLimit(AnthropicUnavailable):
    reason = "Anthropic spend limit reached (not retried): add credit in the Anthropic console"


class AnthropicMalformed(AnthropicUnavailable):
    reason = "Anthropic's answer could not be read"


class AnthropicFailed(AnthropicUnavailable):
    reason = "Anthropic request failed"


@dataclass(frozen=True)
class AnthropicVerdict:
    label: str
    confidence: float
    rationale: str
    unsubscribe: bool
    model: str
    usage: dict[str, int] = field(default_factory=dict)


def is_enabled() -> bool:
    return bool(settings.ANTHROPIC_API_KEY)


def make_client(*, max_retries: int | None = None, http_client: Any = None) -> anthropic.Anthropic:
    """`http_client` is an `httpx2.Client` (the SDK's HTTP library since 2.x); tests give one with a mock transport."""
    return _sdk().Anthropic(
        api_key=settings.ANTHROPIC_API_KEY,
        timeout=settings.ANTHROPIC_TIMEOUT_SECONDS,
        max_retries=settings.ANTHROPIC_MAX_RETRIES if max_retries is None else max_retries,
        http_client=http_client,
    )


def classify_reply_text(
    *, text: str, system_prompt: str, model: str = "", client: anthropic.Anthropic | None = None
) -> AnthropicVerdict:
    """Ask the model for a label; raises an `AnthropicUnavailable` subclass instead of guessing."""
    client = client or make_client()
    model = model or settings.ANTHROPIC_CLASSIFY_MODEL
    try:
        message = client.messages.create(
            model=model,
            max_tokens=300,
            # The fixed instructions are identical for every reply: cache them.
            system=[{"type": "text", "text": system_prompt, "cache_control": {"type": "ephemeral"}}],
            tools=[CLASSIFY_TOOL],
            tool_choice={"type": "tool", "name": TOOL_NAME},
            messages=[{"role": "user", "content": f"<reply>\n{text}\n</reply>"}],
        )
    except _sdk().RateLimitError as exc:
        if _spend_limit_classes() and isinstance(exc, _spend_limit_classes()):
            raise _logged(AnthropicSpendLimit(_error_message(exc)), exc) from exc
        raise _logged(AnthropicRateLimited(_error_message(exc)), exc) from exc
    except _sdk().BadRequestError as exc:
        if "credit balance" in _error_message(exc).lower():
            raise _logged(AnthropicSpendLimit(_error_message(exc)), exc) from exc
        raise _logged(AnthropicFailed(_error_message(exc)), exc) from exc
    except _sdk().InternalServerError as exc:  # 5xx, including 529 overloaded_error
        raise _logged(AnthropicOverloaded(_error_message(exc)), exc) from exc
    except _sdk().APIStatusError as exc:
        if _spend_limit_classes() and isinstance(exc, _spend_limit_classes()):
            raise _logged(AnthropicSpendLimit(_error_message(exc)), exc) from exc
        raise _logged(AnthropicFailed(_error_message(exc)), exc) from exc
    except (_sdk().APITimeoutError, _sdk().APIConnectionError) as exc:
        raise _logged(AnthropicFailed(type(exc).__name__), exc) from exc
    return _verdict_from(message, model=model)


def _verdict_from(message: Any, *, model: str) -> AnthropicVerdict:
    blocks = [b for b in getattr(message, "content", []) if getattr(b, "type", "") == "tool_use"]
    block = next((b for b in blocks if getattr(b, "name", "") == TOOL_NAME), None)
    if block is None:
        raise _logged(AnthropicMalformed("no record_classification tool call in the answer"))
    data = block.input if isinstance(block.input, dict) else {}
    label = data.get("label")
    confidence = data.get("confidence")
    rationale = data.get("rationale", "")
    unsubscribe = data.get("unsubscribe", False)
    if (
        label not in LABELS
        or isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 <= confidence <= 1
        or not isinstance(rationale, str)
        or not isinstance(unsubscribe, bool)
    ):
        raise _logged(AnthropicMalformed("the tool input does not match the schema"))
    usage = getattr(message, "usage", None)
    usage_figures = {
        key: int(getattr(usage, key) or 0)
        for key in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        if usage is not None and getattr(usage, key, None) is not None
    }
    return AnthropicVerdict(
        label=label,
        confidence=float(confidence),
        rationale=rationale.strip()[:500],
        unsubscribe=unsubscribe,
        model=getattr(message, "model", model) or model,
        usage=usage_figures,
    )


def _error_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:300]
    return str(exc)[:300]


def _logged(error: AnthropicUnavailable, cause: Exception | None = None) -> AnthropicUnavailable:
    logger.warning(
        "classify.anthropic_unavailable",
        extra={
            "error": type(error).__name__,
            "status_code": getattr(cause, "status_code", None),
            "request_id": getattr(cause, "request_id", None),
        },
    )
    return error
