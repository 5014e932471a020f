"""A small HTTP server for the demo portal, the engine's fixture pages and the replay benchmark.

It serves the static files of one page set (index.html for directories, no listings) and these routes,
shared by every page set:

* GET  /api/search?q=TEXT      {"query", "results": [{"id", "title", "href"}]}, after SEARCH_LATENCY
* GET  /api/record?id=N        one catalogue record with its labelled fields (404 when unknown)
* POST /api/submit             urlencoded or multipart form: recorded, answered with a "Thank you" page
* GET  /api/submissions        the recorded submissions: {"id", "fields", "files": [{"field", "filename",
                               "content_type", "size", "sha256"}]}
* POST /api/login              303 to /dashboard.html with a session cookie for ada/lovelace (counted in
                               SiteState.logins), else 303 to /login.html?error=1
* GET  /api/session            {"user": "ada"} with a valid session cookie, else 401 {"user": null}
* GET  /download/<name>        an attachment with deterministic bytes
* GET  /files/<name>.pdf       a small valid PDF, inline, deterministic
* GET  /api/recent             {"items": [...], "server_time": ISO 8601}
* GET  /api/job?id=X           {"id", "status"}: "pending" for the first PENDING_POLLS polls, then "done"
* GET  /echo-headers           the request headers, names in lower case
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from functools import partial
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

DEMO_USERNAME = "ada"
DEMO_PASSWORD = "lovelace"
SESSION_COOKIE = "rebrowse_session"

SEARCH_LATENCY = 0.15  # seconds: results must arrive after the page settles, as with a real backend
PENDING_POLLS = 2  # a job reports "pending" this many times before "done"
MAX_BODY_BYTES = 16 * 1024 * 1024
IDLE_CONNECTION_TIMEOUT = 60.0  # seconds a kept-alive connection may sit idle
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

FieldValue = str | list[str]
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Record:
    """One record of the built-in catalogue that search and record pages show."""

    id: int
    document: str
    customer: str
    status: str
    owner: str
    amount: str

    @property
    def title(self) -> str:
        """The title search results show."""
        return f"{self.document} - {self.customer}"

    def as_json(self) -> JsonObject:
        """The record with its title, as the record API returns it."""
        return {**asdict(self), "title": self.title}


CATALOGUE = (
    Record(1, "Invoice 1042", "Acme Robotics", "Paid", "Grace Hopper", "$12,400.00"),
    Record(2, "Invoice 1043", "Globex Logistics", "Overdue", "Alan Turing", "$8,150.00"),
    Record(3, "Service contract", "Acme Robotics", "Active", "Grace Hopper", "$48,000.00"),
    Record(4, "Invoice 1044", "Initech", "Open", "Katherine Johnson", "$2,310.50"),
    Record(5, "Support ticket 311", "Initech", "Resolved", "Alan Turing", "$0.00"),
    Record(6, "Service contract", "Umbrella Health", "Pending signature", "Ada Lovelace", "$96,500.00"),
    Record(7, "Invoice 1045", "Umbrella Health", "Open", "Ada Lovelace", "$15,980.00"),
    Record(8, "Purchase order 77", "Stark Industries", "Approved", "Katherine Johnson", "$230,000.00"),
    Record(9, "Invoice 1046", "Stark Industries", "Paid", "Katherine Johnson", "$41,200.00"),
    Record(10, "Support ticket 312", "Globex Logistics", "Open", "Grace Hopper", "$0.00"),
    Record(11, "Service contract", "Wayne Enterprises", "Active", "Alan Turing", "$120,000.00"),
    Record(12, "Invoice 1047", "Wayne Enterprises", "Overdue", "Ada Lovelace", "$19,075.25"),
)


def search_catalogue(query: str) -> list[Record]:
    """Records whose title or customer contains every word of the query (case-insensitive)."""
    words = query.casefold().split()
    return [r for r in CATALOGUE if all(w in r.title.casefold() for w in words)]


def find_record(record_id: str) -> Record | None:
    """The catalogue record with this id, if any."""
    return next((r for r in CATALOGUE if str(r.id) == record_id.strip()), None)


@dataclass(frozen=True)
class UploadedFile:
    """What the server keeps of an uploaded file: never the content, only its name, size and digest."""

    field: str
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ParsedForm:
    """A decoded form body: field values by name (in order) and uploaded files."""

    fields: dict[str, list[str]]
    files: list[UploadedFile]


class FormError(ValueError):
    """The request body is not a form this server understands."""


def parse_form(content_type: str, body: bytes) -> ParsedForm:
    """Decode an urlencoded or multipart/form-data body."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return ParsedForm(parse_qs(body.decode("utf-8"), keep_blank_values=True), [])
    if media_type == "multipart/form-data":
        return _parse_multipart(content_type, body)
    raise FormError(f"unsupported content type {media_type!r}")


def _parse_multipart(content_type: str, body: bytes) -> ParsedForm:
    # The email package parses MIME multipart bodies; it needs the Content-Type as a header line.
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(EmailMessage, policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise FormError("multipart body without parts")
    fields: dict[str, list[str]] = {}
    files: list[UploadedFile] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise FormError("multipart part without a field name")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            fields.setdefault(name, []).append(content.decode("utf-8"))
        elif filename:  # an empty filename is a file input left empty
            digest = hashlib.sha256(content).hexdigest()
            files.append(UploadedFile(name, filename, part.get_content_type(), len(content), digest))
    return ParsedForm(fields, files)


def render_pdf(title: str) -> bytes:
    """A one-page PDF that shows `title`; the same title always gives the same bytes."""
    text = title.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def download_bytes(name: str) -> bytes:
    """The deterministic content of /download/<name>."""
    return f"rebrowse download {name}\n".encode() * 32


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def render_thank_you(form: ParsedForm) -> str:
    """The HTML page answered to a form submission, listing what was received."""
    rows = "".join(
        f'<dt>{html.escape(name)}</dt><dd id="field-{html.escape(name)}">{html.escape(", ".join(vals))}</dd>'
        for name, vals in form.fields.items()
    )
    files = "".join(
        f'<li id="file-{html.escape(f.field)}">{html.escape(f.filename)} ({f.size} bytes)</li>' for f in form.files
    )
    summary = f"We received {_plural(len(form.fields), 'field')} and {_plural(len(form.files), 'file')}."
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Thank you</title>'
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2937}"
        "dt{font-weight:600}dd{margin:0 0 .5rem 0}</style></head><body><main>"
        '<h1 id="thanks">Thank you</h1>'
        f'<p id="confirmation">Thank you! {summary}</p>'
        f'<dl id="fields">{rows}</dl><ul id="files">{files}</ul>'
        '<p id="status">submitted</p></main></body></html>'
    )


@dataclass
class SiteState:
    """What the server remembers between requests; shared by every handler thread."""

    submissions: list[JsonObject] = field(default_factory=list)
    job_polls: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    logins: int = 0  # successful sign-ins: a warm session's run skips its login and adds none
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record_submission(self, form: ParsedForm) -> JsonObject:
        """Remember a submission; a field sent once is recorded as a string, a repeated one as a list."""
        fields: dict[str, FieldValue] = {k: v[0] if len(v) == 1 else v for k, v in form.fields.items()}
        with self.lock:
            entry: JsonObject = {
                "id": len(self.submissions) + 1,
                "fields": fields,
                "files": [asdict(f) for f in form.files],
            }
            self.submissions.append(entry)
        return entry

    def poll_job(self, job_id: str) -> str:
        """The status of a job: pending for the first polls of an id, done afterwards."""
        with self.lock:
            self.job_polls[job_id] = polls = self.job_polls.get(job_id, 0) + 1
        return "pending" if polls <= PENDING_POLLS else "done"

    def open_session(self, user: str) -> str:
        """A new session token for `user`."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.sessions[token] = user
            self.logins += 1
        return token

    def session_user(self, token: str | None) -> str | None:
        """The user a session token belongs to, if it is one of ours."""
        if token is None:
            return None
        with self.lock:
            return self.sessions.get(token)


class _HTTPServer(ThreadingHTTPServer):
    """A threading server that can end its kept-alive connections, so that stop() never hangs."""

    block_on_close = True  # server_close() joins the handler threads once their connections are closed

    def __init__(self, address: tuple[str, int], handler: partial[_Handler], state: SiteState) -> None:
        self.state = state
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def end_connections(self) -> None:
        """Shut every open client connection down so that the handler threads return."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer closed it first

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that goes away mid-response is normal here; anything else is worth the traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_TIMEOUT
    # Headers and body go out as separate writes; with Nagle's algorithm on, a kept-alive connection
    # then waits for the client's delayed ACK (~40 ms) on every response.
    disable_nagle_algorithm = True
    wbufsize = -1  # buffer each response; the base handler flushes it once the request is handled

    @property
    def state(self) -> SiteState:
        return cast(_HTTPServer, self.server).state

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and the benchmark read their own output."""

    def list_directory(self, path: str | Any) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "No index in this directory")
        return None

    def guess_type(self, path: str | Any) -> str:
        guessed = super().guess_type(path)
        textual = guessed.startswith("text/") or guessed in ("application/javascript", "application/json")
        return f"{guessed}; charset=utf-8" if textual else guessed

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        route = _GET_ROUTES.get(url.path)
        if route is not None:
            route(self, query)
        elif url.path.startswith("/download/"):
            self._download(url.path.removeprefix("/download/"))
        elif url.path.startswith("/files/") and url.path.endswith(".pdf"):
            self._pdf(url.path.removeprefix("/files/").removesuffix(".pdf"))
        else:
            super().do_GET()

    def do_POST(self) -> None:
        route = _POST_ROUTES.get(urlsplit(self.path).path)
        if route is None:
            self._send_json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            return
        form = self._read_form()
        if form is not None:
            route(self, form)

    def _read_form(self) -> ParsedForm | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._send_json({"error": "Content-Length required"}, HTTPStatus.LENGTH_REQUIRED)
            return None
        if int(length) > MAX_BODY_BYTES:
            self._send_json({"error": "body too large"}, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            self.close_connection = True
            return None
        body = self.rfile.read(int(length))
        try:
            return parse_form(self.headers.get("Content-Type", ""), body)
        except (FormError, UnicodeDecodeError) as exc:
            self._send_json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
            return None

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, data: object, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", {})

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {"Location": location, **(headers or {})})

    def _search(self, query: dict[str, str]) -> None:
        text = query.get("q", "")
        time.sleep(SEARCH_LATENCY)
        found = search_catalogue(text)
        results = [{"id": r.id, "title": r.title, "href": f"record.html?id={r.id}"} for r in found]
        self._send_json({"query": text, "results": results})

    def _record(self, query: dict[str, str]) -> None:
        record = find_record(query.get("id", ""))
        if record is None:
            self._send_json({"error": "no such record"}, HTTPStatus.NOT_FOUND)
        else:
            self._send_json(record.as_json())

    def _submissions(self, query: dict[str, str]) -> None:
        with self.state.lock:
            data = list(self.state.submissions)
        self._send_json(data)

    def _session(self, query: dict[str, str]) -> None:
        user = self.state.session_user(self._cookie(SESSION_COOKIE))
        self._send_json({"user": user}, HTTPStatus.OK if user else HTTPStatus.UNAUTHORIZED)

    def _recent(self, query: dict[str, str]) -> None:
        items = [{"id": r.id, "title": r.title, "status": r.status} for r in CATALOGUE[:5]]
        self._send_json({"items": items, "server_time": datetime.now(UTC).isoformat()})

    def _job(self, query: dict[str, str]) -> None:
        job_id = query.get("id", "")
        if not job_id:
            self._send_json({"error": "id is required"}, HTTPStatus.BAD_REQUEST)
            return
        self._send_json({"id": job_id, "status": self.state.poll_job(job_id)})

    def _echo_headers(self, query: dict[str, str]) -> None:
        self._send_json({name.lower(): value for name, value in self.headers.items()})

    def _download(self, name: str) -> None:
        if not SAFE_NAME.fullmatch(name):
            self._send_json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            return
        content_type = self.guess_type(name)
        disposition = f'attachment; filename="{name}"'
        self._send(HTTPStatus.OK, download_bytes(name), content_type, {"Content-Disposition": disposition})

    def _pdf(self, stem: str) -> None:
        if not SAFE_NAME.fullmatch(stem):
            self._send_json({"error": "not found"}, HTTPStatus.NOT_FOUND)
            return
        disposition = f'inline; filename="{stem}.pdf"'
        body = render_pdf(f"rebrowse report: {stem}")
        self._send(HTTPStatus.OK, body, "application/pdf", {"Content-Disposition": disposition})

    def _submit(self, form: ParsedForm) -> None:
        self.state.record_submission(form)
        self._send(HTTPStatus.OK, render_thank_you(form).encode(), "text/html; charset=utf-8", {})

    def _login(self, form: ParsedForm) -> None:
        username = form.fields.get("username", [""])[0]
        password = form.fields.get("password", [""])[0]
        valid_user = secrets.compare_digest(username.encode(), DEMO_USERNAME.encode())
        valid_password = secrets.compare_digest(password.encode(), DEMO_PASSWORD.encode())
        if not (valid_user and valid_password):
            self._redirect("/login.html?error=1")
            return
        token = self.state.open_session(username)
        cookie = f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"
        self._redirect("/dashboard.html", {"Set-Cookie": cookie})

    def _cookie(self, name: str) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None


_GET_ROUTES = {
    "/api/search": _Handler._search,
    "/api/record": _Handler._record,
    "/api/submissions": _Handler._submissions,
    "/api/session": _Handler._session,
    "/api/recent": _Handler._recent,
    "/api/job": _Handler._job,
    "/echo-headers": _Handler._echo_headers,
}
_POST_ROUTES = {
    "/api/submit": _Handler._submit,
    "/api/login": _Handler._login,
}


class SiteServer:
    """Serves a page set (static files under `root`) and the shared dynamic routes from a daemon thread.

    Usage: `with SiteServer(Path("tests/site")) as site: page.goto(site.url + "/form.html")`.
    """

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = root
        self.host = host
        self.port = port
        self.state = SiteState()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, such as http://127.0.0.1:41234 (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("the site server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def submissions(self) -> list[JsonObject]:
        """The form submissions received so far, oldest first."""
        with self.state.lock:
            return list(self.state.submissions)

    def start(self) -> None:
        """Bind the port and serve in a background thread."""
        if self._httpd is not None:
            raise RuntimeError("the site server is already running")
        if not self.root.is_dir():
            raise FileNotFoundError(f"site root {self.root} is not a directory")
        handler = partial(_Handler, directory=str(self.root))
        httpd = _HTTPServer((self.host, self.port), handler, self.state)
        thread = threading.Thread(target=httpd.serve_forever, name="site-server", daemon=True)
        thread.start()
        self._httpd, self._thread = httpd, thread

    def stop(self) -> None:
        """Stop serving, end open connections and join the server thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.shutdown()
        httpd.end_connections()
        httpd.server_close()
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> SiteServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
