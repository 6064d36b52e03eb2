"""A real Celery worker, started here and consuming from Redis, processes a webhook event.

The chain under test is the production one: signed POST -> WebhookEvent stored -> the task is
queued with `delay_on_commit` -> Redis -> `celery worker` (another process) -> the lead exists.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import current_app
from django.db import connection

from clientsflow.models import WebhookEvent
from clientsflow.signatures import hmac_sha256_hex
from leads.models import Lead

ROOT = Path(__file__).resolve().parents[2]
SECRET = "real-worker-test-secret-0123456789"


@pytest.fixture
def celery_worker_process(settings):
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    queue = f"cf-test-{os.getpid()}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,  # the test database, which this test commits to
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": queue,
        "LEAD_WEBHOOK_SECRET": SECRET,
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clientsflow",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    previous = (current_app.conf.task_default_queue, current_app.conf.task_always_eager)
    current_app.conf.task_default_queue = queue
    current_app.amqp.__dict__.pop("queues", None)
    current_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        current_app.conf.task_default_queue, current_app.conf.task_always_eager = previous
        current_app.amqp.__dict__.pop("queues", None)
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_processes_a_webhook_queued_on_commit(client, settings, celery_worker_process):
    settings.LEAD_WEBHOOK_SECRET = SECRET
    body = json.dumps({"id": "worker-1", "name": "Wren Okafor", "email": "wren@okafor.example"}).encode()

    response = client.post(
        "/webhooks/leads/website/",
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE="sha256=" + hmac_sha256_hex(SECRET, body),
    )
    assert response.status_code == 200

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        event = WebhookEvent.objects.get(event_id="worker-1")
        if event.status == WebhookEvent.Status.PROCESSED:
            break
        assert celery_worker_process.poll() is None, celery_worker_process.stdout.read()
        time.sleep(0.2)
    else:
        pytest.fail(f"the worker did not process the event in 60 s (status {event.status}, error {event.last_error!r})")

    lead = Lead.objects.get(email_normalized="wren@okafor.example")
    assert lead.name == "Wren Okafor"
    assert event.attempts == 1

    # The same worker runs a task queued with `delay_on_commit` (sent to Redis when the
    # transaction commits).
    from django.db import transaction

    from clientsflow.tasks import process_webhook_event

    with transaction.atomic():
        direct = WebhookEvent.objects.create(
            provider="leads:website", event_id="worker-2", body=json.dumps({"email": "kai@example.com"})
        )
        process_webhook_event.delay_on_commit(direct.pk)
    wait_until = time.monotonic() + 60
    while time.monotonic() < wait_until:
        direct.refresh_from_db()
        if direct.status == WebhookEvent.Status.PROCESSED:
            break
        time.sleep(0.2)
    assert direct.status == WebhookEvent.Status.PROCESSED
    assert Lead.objects.filter(email_normalized="kai@example.com").exists()
