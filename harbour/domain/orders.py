"""Protective orders that run out: when the caseworker is reminded, and when the plan gains a
step to renew or extend the order. Plain values in, plain values out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

# Reminder thresholds, days before the expiry: each fires once per expiry date.
REMINDERS: dict[str, int] = {"order_30_days": 30, "order_7_days": 7}
RENEW_WITHIN = timedelta(days=30)  # an order expiring this soon puts the renewal step on the plan
RENEWAL_LEAD = timedelta(days=7)  # the step is due this long before the order runs out
EXPIRING = "protective_order_expiring"  # the catalogue's rule name, and a digest item's kind


def passed(expires_on: date, today: date) -> list[str]:
    """The reminder thresholds reached by ``today``, earliest first; none once it expired."""
    if expires_on < today:
        return []
    return [name for name, days in REMINDERS.items() if expires_on - timedelta(days=days) <= today]


def expiring(expiries: Iterable[date | None], today: date) -> list[date]:
    """The expiry dates that call for a renewal: within ``RENEW_WITHIN``, or already past."""
    return sorted(day for day in expiries if day is not None and day - today <= RENEW_WITHIN)


def renewal_due(expiries: Iterable[date | None], today: date) -> date | None:
    """When the renewal step is due: a week before the earliest order expiring soon (today if
    that is past); None when no order expires within ``RENEW_WITHIN``."""
    soon = expiring(expiries, today)
    return max(today, soon[0] - RENEWAL_LEAD) if soon else None


def renewal_window(expiries: Iterable[date | None], today: date) -> date | None:
    """The day the renewal of the order running out now became due for a plan (its expiry less
    ``RENEW_WITHIN``): the earliest order expiring soon that has not run out yet, else the last
    one to have run out; None when no order expires within it. A renewal done, or due, before
    that day was for an earlier expiry: the order has been renewed since. (Not simply the
    earliest: another order that ran out long ago, and was let go, would date every renewal
    done since as this one's.)"""
    soon = expiring(expiries, today)
    if not soon:
        return None
    running_out = next((day for day in soon if day >= today), soon[-1])
    return running_out - RENEW_WITHIN


def expired(expires_on: date | None, today: date) -> bool:
    return expires_on is not None and expires_on < today
