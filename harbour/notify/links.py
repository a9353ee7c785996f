"""An enrolment link sent to a person's own route. The token is a credential: whoever holds it
can set the account's password and code app. So the outbox row (kept, as every row is, after it
is sent) names the enrolment, not the token; the token is sealed on the enrolment row and put
into the message only as the relay composes it, while the link still works."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harbour.app import UnitOfWork
from harbour.db.models import Enrolment
from harbour.errors import NotFound

PATH = "/enrol/"


def with_link(uow: UnitOfWork, context: Mapping[str, Any]) -> dict[str, Any]:
    """An enrolment message's ``context`` as it is composed: the enrolment it names replaced by
    its link's path. NotFound if the link was used, replaced or ran out meanwhile."""
    row = uow.session.get(Enrolment, context.get("enrolment", ""))
    token = uow.unseal(row, "token") if row is not None else None
    if row is None or token is None or row.used_at is not None or row.expires_at <= uow.now():
        raise NotFound("enrolment_not_found", "the link was used, replaced or ran out")
    return {k: v for k, v in context.items() if k != "enrolment"} | {"path": PATH + token}
