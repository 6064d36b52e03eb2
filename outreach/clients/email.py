"""Building and handing over outbound email: Django's email API, with django-anymail's errors
and status read here and nowhere else.

Whether a message may go is decided before this module is called (`outreach.services.sending`);
this module only turns the approved copy into an email and says what the provider answered.
"""

from __future__ import annotations

import smtplib
import socket
from typing import Any

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core.mail import EmailMessage, get_connection

from clientsflow.site import lead_from_email

# Errors that mean the provider definitely did not take the message.
_REFUSED = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPHeloError,
    smtplib.SMTPNotSupportedError,
    ConnectionRefusedError,
    socket.gaierror,
    AnymailRecipientsRefused,
)


def connection() -> Any:
    """A connection to the configured backend (`EMAIL_URL`); errors are raised, never swallowed."""
    return get_connection(fail_silently=False)


def build_message(
    *,
    subject: str,
    body: str,
    to_email: str,
    message_id: str,
    public_id: str,
    unsubscribe_url: str,
    in_reply_to: str = "",
    references: str = "",
    connection: Any = None,
) -> EmailMessage:
    headers = {
        "Message-ID": message_id,
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",  # RFC 8058 one-click
        "X-ClientsFlow-Message": public_id,
    }
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
        headers["References"] = references
    # The footer is fixed boilerplate added to every email, outside the approved copy.
    text = f"{body.rstrip()}\n\n--\nTo stop receiving these emails: {unsubscribe_url}\n"
    return EmailMessage(
        subject=subject,
        body=text,
        from_email=lead_from_email(),
        to=[to_email],
        headers=headers,
        connection=connection,
    )


def provider_refused(exc: BaseException) -> bool:
    """True when the provider definitely did not accept the message (safe to call it failed)."""
    if isinstance(exc, _REFUSED):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(exc, AnymailAPIError) and status is not None and 400 <= int(status) < 500


def provider_message_id(message: EmailMessage) -> str:
    """The provider's id for a sent message (anymail sets it; plain SMTP has none)."""
    status = getattr(message, "anymail_status", None)
    if status is not None and getattr(status, "message_id", None):
        return str(status.message_id)[:255]
    return ""
