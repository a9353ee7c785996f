"""Routes handed in as YAML text (what the flows read from a Prefect Secret block)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from harbour.app import App
from harbour.clock import FixedClock
from harbour.demo.receivers import Receiver, RouteBook
from harbour.domain.vocab import Lane, NotificationKind
from harbour.notify.outbox import enqueue
from harbour.notify.relay import deliver
from harbour.settings import Settings
from tests.notify.conftest import FAST
from tests.notify.helpers import new_case
from tests.support import invoke


@pytest.fixture
def yaml_app(
    seeded: App, settings: Settings, clock: FixedClock, routes: RouteBook
) -> Iterator[App]:
    routes.chat("cw1").chat("sup")
    text = SecretStr(routes.path.read_text())
    routes.path.unlink()  # no file anywhere: the text is all there is
    app = App(settings.model_copy(update={"apprise_config": None, "apprise_yaml": text}), clock)
    yield app
    app.dispose()


def test_routes_from_yaml_text_deliver_and_check(yaml_app: App, receiver: Receiver) -> None:
    case = new_case(yaml_app)
    yaml_app.run(
        lambda uow: enqueue(
            uow,
            NotificationKind.CASE_ASSIGNED,
            recipients=["cw1"],
            case=case,
            dedupe="yaml",
            context={},
            lane=Lane.NORMAL,
        )
    )
    assert deliver(yaml_app, config=FAST).sent == 1
    assert len(receiver.at(RouteBook.chat_path("cw1"))) == 1
    check = invoke(yaml_app, "notify", "check", "--as", "adm", "--json")
    assert check.exit_code == 0, check.stderr
    assert len(check.json()["routes"]) == 2
