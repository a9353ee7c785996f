"""How the demo's progress lines put things: counts, decisions, deliveries."""

from __future__ import annotations

from collections import Counter

from harbour.demo.inbox import Delivered
from harbour.demo.staffwork import Review


def decisions(review: Review) -> str:
    done = [f"{count(review.steps_done, 'step')} done"] if review.steps_done else []
    if not (review.accepted or review.rejected or review.added):
        return ", ".join(["earlier decisions carried over", *done])
    parts = [f"{review.accepted} suggestions accepted"] if review.accepted else []
    parts += [f"{review.rejected} declined"] if review.rejected else []
    parts += [f"{review.added} written in"] if review.added else []
    return ", ".join(parts + done)


def count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def sent(messages: list[Delivered]) -> str:
    if not messages:
        return ""
    by_channel = Counter(m.channel for m in messages)
    to = sorted({m.to for m in messages})
    names = {"email": "email", "chat": "chat post"}
    shown = ", ".join(count(n, names[channel]) for channel, n in sorted(by_channel.items()))
    return f"; delivered {shown} to {', '.join(to)}"
