"""Email backends that behave like a provider in trouble, for the failure tests.

They stand in for the provider (the far side of Django's email API), not for our code: the
services under test run unchanged and only see what a real backend would raise.
"""

from __future__ import annotations

import smtplib
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend

ACCEPTED: list[Any] = []


class RefusingBackend(BaseEmailBackend):
    """The server refuses the recipient: the message was definitely not taken."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({m.to[0]: (550, b"5.1.1 mailbox unavailable") for m in email_messages})


class AcceptThenDropBackend(BaseEmailBackend):
    """The provider takes the message, then the connection drops before it answers."""

    def send_messages(self, email_messages):
        ACCEPTED.extend(email_messages)
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class WorkerKilled(BaseException):
    """Like SIGKILL/SystemExit: nothing after this line of the worker runs."""


class AcceptThenDieBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        ACCEPTED.extend(email_messages)
        raise WorkerKilled
