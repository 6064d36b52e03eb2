"""Logs are JSON lines and never carry secrets or message bodies."""

from __future__ import annotations

import json
import logging

from clientsflow.logging import JsonFormatter, RedactSecretsFilter


def render(record_factory, settings, **extra) -> str:
    logger = logging.getLogger("clientsflow.test")
    record = logger.makeRecord("clientsflow.test", logging.INFO, __file__, 1, extra.pop("msg"), (), None, extra=extra)
    RedactSecretsFilter().filter(record)
    return JsonFormatter().format(record)


def test_lines_are_json_with_structured_fields(settings):
    line = render(None, settings, msg="webhook.stored", provider="leads:website", event_id="e-1")
    entry = json.loads(line)
    assert entry["event"] == "webhook.stored"
    assert (entry["provider"], entry["event_id"], entry["level"]) == ("leads:website", "e-1", "INFO")


def test_configured_secrets_are_masked_wherever_they_appear(settings):
    settings.LEAD_WEBHOOK_SECRET = "lead-secret-value-123456"
    settings.STRIPE_API_KEY = "sk_test_abcdefghijklmnop"
    line = render(
        None,
        settings,
        msg="calling with lead-secret-value-123456",
        detail="key=sk_test_abcdefghijklmnop",
    )
    assert "lead-secret-value-123456" not in line
    assert "sk_test_abcdefghijklmnop" not in line
    assert "[redacted]" in line


def test_content_fields_are_dropped_whatever_their_value(settings):
    line = render(
        None, settings, msg="email.sent", body="Hi Dana, our price is...", transcript="secret call", subject="Offer"
    )
    entry = json.loads(line)
    assert entry["body"] == entry["transcript"] == entry["subject"] == "[redacted]"
    assert "Hi Dana" not in line


def test_anymail_provider_credentials_are_masked(settings):
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "pm-token-abcdef"}
    line = render(None, settings, msg="sending with pm-token-abcdef")
    assert "pm-token-abcdef" not in line
