"""Real delivery targets on 127.0.0.1: an SMTP server and a chat webhook receiver.

The demo delivers every notification to them through Apprise; the tests and benchmarks use them
with fault injection. Faults are scripted per recipient: each request takes the next fault from
its script, and once the script is used up the target answers normally. Only accepted messages
are recorded.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

SLOW = 2.5  # a "timeout" fault answers after this many seconds
WEBHOOK_TOKEN = "tok3nSECRETpath"  # a webhook secret lives in the URL path: never logged
MAIL_DOMAIN = "staff.test"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mail:
    to: str
    subject: str
    text: str  # every text part, the plain one and the HTML
    plain: str = ""  # the text/plain part alone


@dataclass
class SmtpServer:
    port: int
    received: list[Mail] = field(default_factory=list)
    scripts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, address: str, replies: list[str]) -> None:
        """The next replies to DATA for ``address`` (e.g. "451 4.3.0 Try later")."""
        self.scripts[address] = list(replies)

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.received if m.to == address]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0]
        with self.lock:
            script = self.scripts[address]
            if script:
                return script.pop(0)
            self.received.append(_parse_mail(address, envelope.content))
        return "250 OK"


def _parse_mail(address: str, content: bytes) -> Mail:
    message = email.message_from_bytes(content, policy=email.policy.default)
    texts = [part for part in message.walk() if part.get_content_maintype() == "text"]
    plain = [part.get_content() for part in texts if part.get_content_subtype() == "plain"]
    parts = [part.get_content() for part in texts]
    return Mail(address, str(message["Subject"]), "\n".join(parts), "\n".join(plain))


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class Receiver:
    port: int
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    scripts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    hits: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    timeline: list[tuple[str, str]] = field(default_factory=list)  # (what happened, path)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, path: str, faults: list[str]) -> None:
        """The next faults for ``path``: "500", "429", "timeout", "reset" or "redirect"."""
        self.scripts[path] = list(faults)

    def settle(self, event: tuple[str, str], within: float = 15.0) -> int:
        """The timeline position of ``event``, once it has happened."""
        deadline = time.monotonic() + within
        while event not in self.timeline and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.timeline.index(event)

    def at(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.received if p == path]

    def next_fault(self, path: str, body: dict[str, Any]) -> str | None:
        with self.lock:
            self.hits[path] += 1
            script = self.scripts[path]
            if script:
                return script.pop(0)
            self.received.append((path, body))
            self.timeline.append(("accepted", path))
            return None


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path = self.path.split("?")[0]
            fault = receiver.next_fault(path, json.loads(raw or b"{}"))
            if fault is None:
                self._answer(200)
            elif fault in ("500", "429"):
                self._answer(int(fault))
            elif fault == "timeout":
                time.sleep(SLOW)
                receiver.timeline.append(("slow_done", path))
                self._answer(503)
            elif fault == "redirect":
                self.send_response(307)
                self.send_header("Location", "/redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif fault == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()

        def _answer(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    state = Receiver(0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class RouteBook:
    """Builds an Apprise YAML routes file that delivers to these two targets."""

    path: Path
    smtp: SmtpServer
    receiver: Receiver
    lines: list[str] = field(default_factory=list)

    def email(self, tag: str, *extra: str, port: int | None = None) -> RouteBook:
        address = f"{tag}@{MAIL_DOMAIN}"
        url = f"mailto://127.0.0.1:{port or self.smtp.port}?from=harbour@relay.test&to={address}"
        return self.add(url, tag, "email", *extra)

    def chat(self, tag: str, *extra: str) -> RouteBook:
        url = f"json://127.0.0.1:{self.receiver.port}/{WEBHOOK_TOKEN}/{tag}"
        return self.add(url, tag, "chat", *extra)

    def add(self, url: str, *tags: str) -> RouteBook:
        self.lines.append(f"  - {url}:\n      - tag: {', '.join(tags)}")
        self.path.touch(mode=0o600)  # owner-only, as Harbour requires of a routes file
        self.path.write_text("version: 1\nurls:\n" + "\n".join(self.lines) + "\n")
        return self

    @staticmethod
    def chat_path(tag: str) -> str:
        return f"/{WEBHOOK_TOKEN}/{tag}"
