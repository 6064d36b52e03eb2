"""Reading a mailbox over IMAP (stdlib imaplib), by UID, for the reply poll.

`IMAP_URL` is `imap://user:password@host:143/INBOX` (STARTTLS when offered) or
`imaps://user:password@host:993/INBOX`; empty means the poll is off (local mode).
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)

UIDVALIDITY_RE = re.compile(rb"UIDVALIDITY (\d+)")


class ImapError(Exception):
    """The mailbox could not be read (unreachable, refused login, unexpected answer)."""


@dataclass(frozen=True)
class ImapConfig:
    scheme: str
    host: str
    port: int
    user: str
    password: str
    folder: str

    @property
    def mailbox_key(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str) -> ImapConfig:
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ImapError("IMAP_URL must look like imaps://user:password@host:993/INBOX.")
    return ImapConfig(
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or (993 if parts.scheme == "imaps" else 143),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


def enabled() -> bool:
    return bool(settings.IMAP_URL)


def config() -> ImapConfig:
    return parse_imap_url(settings.IMAP_URL)


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes


class Mailbox:
    """One logged-in session on one folder. Use as a context manager."""

    def __init__(self, cfg: ImapConfig, timeout: float | None = None) -> None:
        self.cfg = cfg
        self.timeout = timeout if timeout is not None else settings.IMAP_TIMEOUT_SECONDS
        self.conn: imaplib.IMAP4 | None = None
        self.uidvalidity = 0

    def __enter__(self) -> Mailbox:
        try:
            if self.cfg.scheme == "imaps":
                self.conn = imaplib.IMAP4_SSL(
                    self.cfg.host, self.cfg.port, ssl_context=ssl.create_default_context(), timeout=self.timeout
                )
            else:
                self.conn = imaplib.IMAP4(self.cfg.host, self.cfg.port, timeout=self.timeout)
                if "STARTTLS" in self.conn.capabilities:
                    self.conn.starttls(ssl_context=ssl.create_default_context())
            self.conn.login(self.cfg.user, self.cfg.password)
            typ, _ = self.conn.select(_quote(self.cfg.folder), readonly=True)
            if typ != "OK":
                raise ImapError(f"The folder {self.cfg.folder!r} could not be opened.")
            typ, data = self.conn.response("UIDVALIDITY")
            self.uidvalidity = int(data[0]) if data and data[0] else 0
        except (imaplib.IMAP4.error, OSError) as exc:
            self._logout()
            logger.warning("imap.connect_failed", extra={"error_type": type(exc).__name__, "host": self.cfg.host})
            raise ImapError(f"Could not read the mailbox ({type(exc).__name__}).") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self._logout()

    def _logout(self) -> None:
        if self.conn is not None:
            try:
                self.conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
            self.conn = None

    def uids_after(self, last_uid: int) -> list[int]:
        assert self.conn is not None
        try:
            typ, data = self.conn.uid("SEARCH", f"UID {last_uid + 1}:*")
        except (imaplib.IMAP4.error, OSError) as exc:
            raise ImapError(f"UID SEARCH failed ({type(exc).__name__}).") from exc
        if typ != "OK":
            raise ImapError("UID SEARCH was refused.")
        # `n:*` always matches the highest UID, even when it is below n: filter it out.
        return sorted(uid for uid in (int(x) for x in (data[0] or b"").split()) if uid > last_uid)

    def fetch(self, uids: list[int]) -> Iterator[FetchedMessage]:
        assert self.conn is not None
        for uid in uids:
            try:
                typ, data = self.conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
            except (imaplib.IMAP4.error, OSError) as exc:
                raise ImapError(f"UID FETCH failed ({type(exc).__name__}).") from exc
            if typ != "OK":
                raise ImapError("UID FETCH was refused.")
            raw = next((item[1] for item in data if isinstance(item, tuple) and len(item) > 1), None)
            if raw is not None:
                yield FetchedMessage(uid=uid, raw=raw)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
