"""The IMAP reply poll against a real Debian dovecot-imapd on loopback, started by the test."""

# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support)
from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from leads.models import Stage
from outreach.models import ImapCursor, InboundReply
from outreach.services.replies import replies_poll_imap
from outreach.services.sending import outbound_send
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import approver, make_approved, make_enrollment, open_window  # noqa: F401

pytestmark = pytest.mark.django_db

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
USER, PASSWORD = "replies", "imap-test-pass"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dovecot():
    if DOVECOT is None:
        pytest.skip("dovecot is not installed: apt-get install -y dovecot-imapd (CI installs it)")
    try:
        dovecot_user = pwd.getpwnam("dovecot")
        pwd.getpwnam("dovenull")
    except KeyError:
        pytest.skip("the dovecot/dovenull system users are missing (install dovecot-imapd)")
    if os.geteuid() != 0:
        pytest.skip("starting dovecot on a private config needs root here")
    # Not pytest's tmp_path: its parents are 0700, and dovecot's auth and mail processes run as
    # the `dovecot` user, which must reach the passwd file and the maildir.
    root = Path(tempfile.mkdtemp(prefix="cf-dovecot-"))
    os.chmod(root, 0o755)  # noqa: S103  (dovecot's unprivileged processes must traverse it)
    for sub in ("run", "mail"):
        (root / sub).mkdir()
    os.chown(root / "mail", dovecot_user.pw_uid, dovecot_user.pw_gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = _free_port()
    config = root / "dovecot.conf"
    config.write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/run/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = {dovecot_user.pw_uid}
first_valid_gid = {dovecot_user.pw_gid}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
"""
    )
    (root / "run" / "state").mkdir()
    # -F: stay in the foreground, so the test owns exactly this process and stops it by its pid.
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        for _ in range(200):
            if process.poll() is not None:
                pytest.fail(f"dovecot did not start: {process.stderr.read() if process.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield {"port": port, "url": f"imap://{USER}:{PASSWORD}@127.0.0.1:{port}/INBOX"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if not os.environ.get("KEEP_DOVECOT_DIR"):
            shutil.rmtree(root, ignore_errors=True)


def append(port: int, message: EmailMessage) -> None:
    """Put a message in the mailbox the way a mail server's delivery would: IMAP APPEND."""
    conn = imaplib.IMAP4("127.0.0.1", port, timeout=5)
    conn.login(USER, PASSWORD)
    typ, _ = conn.append("INBOX", "", imaplib.Time2Internaldate(time.time()), message.as_bytes())
    assert typ == "OK"
    conn.logout()


def reply(
    *, sender: str, subject: str, message_id: str, in_reply_to: str = "", body: str = "Yes, let's talk."
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "owner@agency.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = "Tue, 24 Nov 2026 10:15:00 +0000"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message


def test_poll_reads_each_reply_once_and_acts_on_it(dovecot, settings, open_window, approver):
    settings.IMAP_URL = dovecot["url"]
    lead = LeadFactory(email="ada@client.example")
    enrollment = make_enrollment(lead)
    sent = make_approved(approver, lead, enrollment=enrollment)
    assert outbound_send(message_id=sent.pk, trigger="human", actor=approver).sent
    sent.refresh_from_db()

    append(
        dovecot["port"],
        reply(
            sender="Ada <ada@client.example>",
            subject="Re: hi",
            message_id="<r1@client.example>",
            in_reply_to=sent.message_id,
        ),
    )
    append(
        dovecot["port"], reply(sender="stranger@nowhere.example", subject="Hello?", message_id="<r2@nowhere.example>")
    )

    assert replies_poll_imap() == {"read": 2, "stored": 2, "duplicates": 0}
    matched = InboundReply.objects.get(message_id="<r1@client.example>")
    assert matched.lead == lead and matched.matched_by == "in_reply_to" and matched.source == "imap"
    assert "Yes, let's talk." in matched.body
    assert InboundReply.objects.get(message_id="<r2@nowhere.example>").lead is None
    lead.refresh_from_db()
    enrollment.refresh_from_db()
    assert lead.stage == Stage.REPLIED and enrollment.status == "stopped"

    # Nothing is read twice: the cursor remembers the last UID.
    cursor = ImapCursor.objects.get()
    assert cursor.last_uid == 2 and cursor.uidvalidity > 0
    assert replies_poll_imap() == {"read": 0, "stored": 0, "duplicates": 0}

    append(dovecot["port"], reply(sender="ada@client.example", subject="Also", message_id="<r3@client.example>"))
    assert replies_poll_imap() == {"read": 1, "stored": 1, "duplicates": 0}
    assert InboundReply.objects.count() == 3


def test_wrong_password_is_reported_not_swallowed(dovecot, settings):
    from outreach.clients.imap import ImapError

    settings.IMAP_URL = dovecot["url"].replace(PASSWORD, "wrong-password")
    with pytest.raises(ImapError):
        replies_poll_imap()
    assert InboundReply.objects.count() == 0


def test_poll_is_off_without_imap_url(settings):
    settings.IMAP_URL = ""
    assert replies_poll_imap() == {"skipped": 1}
