"""Regression: with the broker unreachable, a webhook is still stored and answered 200 (the row is
committed before the task is queued; the dispatcher's webhook_sweep queues it later). Before the
fix the sender got a 500 for a delivery we had in fact stored."""

from __future__ import annotations

import json
import socket

import pytest
from celery import current_app

from clientsflow.models import WebhookEvent
from clientsflow.signatures import hmac_sha256_hex

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_down():
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = current_app.conf
    previous = (conf.broker_url, conf.task_always_eager, conf.broker_transport_options)
    conf.broker_url, conf.task_always_eager = f"redis://127.0.0.1:{port}/0", False
    conf.broker_transport_options = {"socket_connect_timeout": 0.5}
    current_app._pool = None
    current_app.amqp._producer_pool = None
    yield
    conf.broker_url, conf.task_always_eager, conf.broker_transport_options = previous
    current_app._pool = None
    current_app.amqp._producer_pool = None


def test_webhook_is_stored_and_answered_while_the_broker_is_down(client, settings, broker_down, caplog):
    settings.LEAD_WEBHOOK_SECRET = "broker-down-secret"
    body = json.dumps({"email": "ada@example.com"}).encode()
    response = client.post(
        "/webhooks/leads/website/",
        data=body,
        content_type="application/json",
        headers={"X-Signature": hmac_sha256_hex("broker-down-secret", body)},
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.RECEIVED  # waiting for the sweep
    assert any(record.getMessage() == "webhook.enqueue_failed" for record in caplog.records)
