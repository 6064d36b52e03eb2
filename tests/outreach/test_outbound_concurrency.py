"""At most one send per approval, with real concurrency on PostgreSQL."""

# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support)
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections

from outreach.models import OutboundMessage
from outreach.services.sending import outbound_send
from tests.outreach.outbound_support import approver, make_approved, open_window  # noqa: F401

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def test_two_workers_sending_the_same_message_send_one_email(open_window, approver):
    message = make_approved(approver)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(outbound_send(message_id=message.pk, trigger="human", actor=approver).outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.send_attempts == 1


class Collect:
    def __init__(self) -> None:
        self.envelopes: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.envelopes.append(envelope)
        return "250 OK"


def test_dispatch_once_twice_at_the_same_moment_sends_each_approved_message_at_most_once():
    import email

    import outreach.demo  # noqa: F401  (registers the outbound seeder, as leads/demo.py does)

    call_command("seed_demo", leads=60, seed=3, stdout=open(os.devnull, "w"))  # noqa: SIM115
    approved = set(OutboundMessage.objects.filter(status="approved").values_list("message_id", flat=True))
    never = set(
        OutboundMessage.objects.exclude(status="approved").exclude(status="sent").values_list("message_id", flat=True)
    )
    assert approved, "the demo data has approved messages"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": "",  # tasks in-process, like the embedded default
        "AUTOSEND_ENABLED": "1",
        "OUTBOUND_SEND_DAYS": "mon,tue,wed,thu,fri,sat,sun",
        "OUTBOUND_SEND_HOURS": "0-24",
        "OUTBOUND_DAILY_CAP": "1000",
        "SEND_ALLOWLIST": "",
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "NOTIFY_VIA": "none",  # the owner's notifications and digest are not what this counts
        "DEFAULT_FROM_EMAIL": "owner@agency.example",
    }
    try:
        processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "dispatch", "--once"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [p.communicate(timeout=120) for p in processes]
    finally:
        controller.stop()
    for process, (_out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err[-2000:]
    received = [email.message_from_bytes(e.original_content)["Message-ID"] for e in handler.envelopes]
    assert len(received) == len(set(received)), "a message was sent twice"
    # Other due jobs may mail too (a demo booking's reminder): only outbound copy is counted here.
    outbound_ids = set(OutboundMessage.objects.values_list("message_id", flat=True))
    assert {r for r in received if r in outbound_ids} == approved
    assert not set(received) & never
    assert OutboundMessage.objects.filter(message_id__in=approved, status="sent").count() == len(approved)
