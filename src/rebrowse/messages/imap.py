"""An account's IMAP mailbox, checked for new mail while a two_fa_action waits for an email."""

from __future__ import annotations

import email
import imaplib
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from typing import Literal

from rebrowse.errors import RebrowseError
from rebrowse.messages.models import MAX_TEXT, Message

Security = Literal["tls", "starttls", "none"]
IMAP_TIMEOUT_S = 15.0
FETCHED = re.compile(rb"UID (\d+).*INTERNALDATE \"([^\"]+)\"")


class MailboxFailed(RebrowseError):
    """The account's mailbox could not be read."""


@dataclass(frozen=True)
class MailboxSettings:
    """Where an account's mail is read: the password is sealed at rest and never shown again."""

    host: str
    port: int
    username: str
    password: str
    security: Security = "tls"
    folder: str = "INBOX"


class PinnedImap(imaplib.IMAP4):
    """IMAP to the address the egress policy checked (the host name still serves TLS's SNI and certificate check),
    so a name that resolves elsewhere the second time cannot lead the worker to a denied address."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._address = address
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self._address, self.port), timeout)


class PinnedImapTls(imaplib.IMAP4_SSL, PinnedImap):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._address = address
        imaplib.IMAP4_SSL.__init__(self, host, port, timeout=timeout)


class MailboxReader:
    """One connection to a mailbox, kept open while a step waits: each check fetches the mail that arrived
    since the last one (blocking calls: run it in a thread). `address` is where the host was checked to be."""

    def __init__(self, settings: MailboxSettings, since: datetime, address: str) -> None:
        self._settings = settings
        self._since = since
        self._address = address
        self._client: imaplib.IMAP4 | None = None
        self._last_uid = 0
        self._validity = ""

    def check(self) -> list[tuple[str, Message]]:
        """(source key, message) of the mail that arrived since the last check."""
        try:
            client = self._client or self._connect()
            client.noop()  # makes the server report what arrived since the folder was selected
            fetched = [self._fetch(client, uid) for uid in self._new_uids(client)]
        except (imaplib.IMAP4.error, OSError, ssl.SSLError) as exc:
            self.close()
            raise MailboxFailed(f"the account's mailbox {self._where()} could not be read: {exc}") from None
        # The search has a day's precision: the mail of that day from before the window is not kept.
        return [(key, message) for key, message in fetched if message.received_at >= self._since]

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.logout()
            except (imaplib.IMAP4.error, OSError):
                pass  # the connection is gone already: nothing else to free
            self._client = None

    def _where(self) -> str:
        return f"{self._settings.username}@{self._settings.host}:{self._settings.port}"

    def _connect(self) -> imaplib.IMAP4:
        s = self._settings
        if s.security == "tls":
            client: imaplib.IMAP4 = PinnedImapTls(s.host, s.port, self._address, IMAP_TIMEOUT_S)
        else:
            client = PinnedImap(s.host, s.port, self._address, IMAP_TIMEOUT_S)
        self._client = client  # from now on, close() frees it whatever fails next
        if s.security == "starttls":
            client.starttls()
        client.login(s.username, s.password)
        status, _ = client.select(quote(s.folder), readonly=True)
        if status != "OK":
            raise imaplib.IMAP4.error(f"no folder {s.folder!r}")
        self._validity = self._uidvalidity(client)
        return client

    @staticmethod
    def _uidvalidity(client: imaplib.IMAP4) -> str:
        _, data = client.response("UIDVALIDITY")
        value = data[0] if data else None
        return value.decode() if isinstance(value, bytes) else ""

    def _new_uids(self, client: imaplib.IMAP4) -> list[int]:
        # SINCE has a day's precision: the window itself is applied to INTERNALDATE by the wait.
        status, data = client.uid("SEARCH", "SINCE", self._since.astimezone(UTC).strftime("%d-%b-%Y"))
        if status != "OK":
            raise imaplib.IMAP4.error("SEARCH failed")
        uids = sorted(int(uid) for uid in (data[0] or b"").split())
        new = [uid for uid in uids if uid > self._last_uid]
        if new:
            self._last_uid = new[-1]
        return new

    def _fetch(self, client: imaplib.IMAP4, uid: int) -> tuple[str, Message]:
        status, data = client.uid("FETCH", str(uid), "(UID INTERNALDATE BODY.PEEK[])")
        parts = [part for part in data if isinstance(part, tuple)]
        if status != "OK" or not parts:
            raise imaplib.IMAP4.error(f"FETCH of message {uid} failed")
        head, raw = parts[0]
        found = FETCHED.search(head)
        received = imaplib.Internaldate2tuple(b'INTERNALDATE "' + found.group(2) + b'"') if found else None
        # The server's arrival time (INTERNALDATE), not the sender's Date header, which the sender chooses.
        received_at = datetime.fromtimestamp(time.mktime(received), UTC) if received else datetime.now(UTC)
        parsed = email.message_from_bytes(raw, policy=default)
        return f"{self._validity}:{uid}", as_message(parsed, received_at)


def as_message(mail: EmailMessage, received_at: datetime) -> Message:
    """An email as a message: its subject and text (an HTML-only mail's tags removed)."""
    body = mail.get_body(preferencelist=("plain", "html"))
    content = body.get_content() if body is not None else ""
    if body is not None and body.get_content_type() == "text/html":
        content = re.sub(r"<[^>]+>", " ", content)
    text = f"{mail.get('Subject', '')}\n{content}"[:MAX_TEXT]
    return Message("email", str(mail.get("From", "")), str(mail.get("To", "")), text, received_at)


def quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
