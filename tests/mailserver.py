"""Real message sources for tests: Debian's Dovecot IMAP server and a fake of Slack's Web API, on 127.0.0.1.

Dovecot runs in the foreground (`dovecot -F`) as a process the fixture starts and stops by PID, with a maildir and a
passwd-file user in a temporary directory. Slack's servers cannot be reached from here: the fake speaks the three
Web API methods rebrowse calls, checks the bearer token, and answers as Slack documents it.
"""

from __future__ import annotations

import contextlib
import imaplib
import json
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.serving import stop_group
from tests.waiting import free_port

DOVECOT = "/usr/sbin/dovecot"
MAIL_USER = "codes@example.test"
MAIL_PASSWORD = "mailbox-secret-pw"
START_DEADLINE_S = 20.0

DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = home={root}/mail/%u
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


@dataclass
class Mailbox:
    """A Dovecot server with one user; `deliver` appends a mail as a mail server would."""

    port: int
    process: subprocess.Popen[bytes]

    def deliver(self, sender: str, to: str, subject: str, body: str, *, at: datetime | None = None) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, to, subject
        mail.set_content(body)
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            client.login(MAIL_USER, MAIL_PASSWORD)
            when = imaplib.Time2Internaldate(at) if at is not None else None
            status, _ = client.append("INBOX", None, when, mail.as_bytes())
            assert status == "OK"
        finally:
            client.logout()


def ready(port: int) -> bool:
    """Whether the user can sign in: Dovecot listens before its auth process answers ("[UNAVAILABLE] Temporary
    authentication failure" until then)."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
    try:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    except OSError:
        return False
    try:
        client.login(MAIL_USER, MAIL_PASSWORD)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


@pytest.fixture
def dovecot() -> Iterator[Mailbox]:
    """Dovecot on a free port of 127.0.0.1, stopped (by PID) and its directory removed afterwards."""
    if not Path(DOVECOT).exists():
        pytest.fail("dovecot-imapd is not installed (make test installs it: see SYSTEM_PACKAGES in the Makefile)")
    root = Path(tempfile.mkdtemp(prefix="rebrowse-dovecot-"))
    root.chmod(0o755)
    account = pwd.getpwnam("dovecot")
    for name in ("run", "state", "mail"):
        (root / name).mkdir()
    shutil.chown(root / "mail", account.pw_uid, account.pw_gid)
    (root / "passwd").write_text(f"{MAIL_USER}:{{PLAIN}}{MAIL_PASSWORD}\n")
    (root / "passwd").chmod(0o644)  # Dovecot's auth process reads it as the dovecot user, whatever the umask
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(root=root, uid=account.pw_uid, gid=account.pw_gid, port=port))
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], start_new_session=True)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not ready(port):
            assert process.poll() is None, (root / "dovecot.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "dovecot did not let its user sign in in time: " + (
                root / "dovecot.log"
            ).read_text(errors="replace")
            time.sleep(0.05)  # polling a condition with a deadline
        yield Mailbox(port, process)
    finally:
        stop_group(process)
        shutil.rmtree(root, ignore_errors=True)


# --- Slack -----------------------------------------------------------------------------------------------

SLACK_TOKEN = "xoxb-test-token"


@dataclass
class SlackFake:
    """Slack's conversations.list, conversations.history and users.info over one workspace's messages."""

    channels: dict[str, str] = field(default_factory=lambda: {"C100": "security-codes", "C200": "general"})
    users: dict[str, str] = field(default_factory=lambda: {"U1": "Okta Verify", "U2": "Mallory"})
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def post(self, channel_id: str, text: str, *, user: str | None = None, bot: str | None = None) -> None:
        item: dict[str, Any] = {"type": "message", "text": text, "ts": f"{time.time():.6f}"}
        if user:
            item["user"] = user
        if bot:
            item.update(bot_id="B1", bot_profile={"name": bot})
        with self.lock:
            self.messages.setdefault(channel_id, []).insert(0, item)  # Slack lists the newest first

    def answer(self, method: str, params: dict[str, str], token: str) -> dict[str, Any]:
        with self.lock:
            self.calls.append(method)
            if token != f"Bearer {SLACK_TOKEN}":
                return {"ok": False, "error": "invalid_auth"}
            if method == "conversations.list":
                channels = [{"id": id_, "name": name} for id_, name in self.channels.items()]
                return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
            if method == "conversations.history":
                if params.get("channel") not in self.channels:
                    return {"ok": False, "error": "channel_not_found"}
                oldest = float(params.get("oldest", "0"))
                found = [m for m in self.messages.get(params["channel"], []) if float(m["ts"]) > oldest]
                return {"ok": True, "messages": found, "has_more": False}
            if method == "users.info":
                name = self.users.get(params.get("user", ""))
                return (
                    {"ok": True, "user": {"id": params["user"], "real_name": name}}
                    if name
                    else {
                        "ok": False,
                        "error": "user_not_found",
                    }
                )
            return {"ok": False, "error": "unknown_method"}


@pytest.fixture
def slack() -> Iterator[SlackFake]:
    fake = SlackFake()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {key: values[0] for key, values in parse_qs(parts.query).items()}
            body = json.dumps(fake.answer(parts.path.rsplit("/", 1)[-1], params, self.headers.get("Authorization", "")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
