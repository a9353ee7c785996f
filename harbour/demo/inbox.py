"""Every message the local mail server and chat receiver accepted, in arrival order, each stamped
with the simulated moment it arrived (the receivers run in threads of this process)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from harbour.demo.receivers import MAIL_DOMAIN, WEBHOOK_TOKEN, Receiver, SmtpServer


@dataclass(frozen=True)
class Delivered:
    number: int
    channel: str  # email or chat
    to: str  # the routing tag: a staff handle, or oncall
    at: datetime  # simulated
    subject: str
    text: str  # the body as received (a chat post: its JSON)

    @property
    def searchable(self) -> str:
        return f"{self.subject}\n{self.text}"


@dataclass
class Inbox:
    smtp: SmtpServer
    receiver: Receiver
    messages: list[Delivered] = field(default_factory=list)
    _seen: tuple[int, int] = (0, 0)

    def collect(self, at: datetime) -> list[Delivered]:
        """Messages that arrived since the last call, stamped ``at``."""
        mails, posts = self.smtp.received[self._seen[0] :], self.receiver.received[self._seen[1] :]
        self._seen = (self._seen[0] + len(mails), self._seen[1] + len(posts))
        arrived = [
            ("email", mail.to.removesuffix(f"@{MAIL_DOMAIN}"), mail.subject, mail.text)
            for mail in mails
        ]
        arrived += [
            (
                "chat",
                path.removeprefix(f"/{WEBHOOK_TOKEN}/"),
                str(body.get("title", "")),
                json.dumps(body, indent=2, sort_keys=True),
            )
            for path, body in posts
        ]
        # The relay sends in parallel, so arrivals within one step come in any order: number
        # them in a fixed one, so a seed repeats the messages folder too.
        return [
            self._add(channel, to, at, subject, text)
            for channel, to, subject, text in sorted(arrived)
        ]

    def _add(self, channel: str, to: str, at: datetime, subject: str, text: str) -> Delivered:
        message = Delivered(len(self.messages) + 1, channel, to, at, subject, text)
        self.messages.append(message)
        return message
