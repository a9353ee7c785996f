"""The admin's staff page over HTTP: the list, adding an account with its enrolment link, a new
link, deactivating with the open cases reassigned; as ``harbour staff`` does, refusals beside
their field writing nothing. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Case, Staff
from tests.notify.helpers import new_case
from tests.web.forming import counts
from tests.web.helpers import csrf_of, signed_in
from tests.web.test_workbench import actions


def test_staff_add_reset_and_deactivate(seeded: App, clock: FixedClock) -> None:
    web, _ = signed_in(seeded, clock, "adm")
    page = web.get("/staff")
    assert page.status_code == 200 and "cw1" in page.text and "cw3" not in page.text
    csrf = csrf_of(web, "/staff")
    before = counts(seeded)
    for data, field in (
        ({"handle": "", "role": "caseworker"}, "handle"),
        ({"handle": "Jane Doe", "role": "caseworker"}, "handle"),
        ({"handle": "x" * 100_000, "role": "caseworker"}, "handle"),
        ({"handle": "newcw", "role": "king"}, "role"),
    ):
        refused = web.post("/staff", data={"csrf": csrf} | data)
        assert refused.status_code == 400 and f'id="f-{field}-error"' in refused.text, data
    assert counts(seeded) == before
    added = web.post("/staff", data={"csrf": csrf, "handle": "newcw", "role": "caseworker"})
    assert added.status_code == 200 and "newcw added as caseworker" in added.text
    assert "/enrol/" in added.text  # no route of their own: the link to hand over

    case = new_case(seeded)  # cw1's
    busy = web.post("/staff/cw1/deactivate", data={"csrf": csrf})
    assert busy.status_code == 400 and "open case(s)" in busy.text
    before = counts(seeded)
    for nobody in ("cw3", "nobody", "cw2\x00"):
        refused = web.post("/staff/cw1/deactivate", data={"csrf": csrf, "reassign_to": nobody})
        assert refused.status_code == 400 and "no active caseworker" in refused.text, nobody
    assert counts(seeded) == before
    moved = web.post("/staff/cw1/deactivate", data={"csrf": csrf, "reassign_to": "cw2"})
    assert moved.status_code == 200
    worker = seeded.run(
        lambda uow: uow.session.scalar(
            select(Staff.handle)
            .join(Case, Case.caseworker_id == Staff.id)
            .where(Case.id == case.id)
        )
    )
    assert worker == "cw2"
    fresh = web.post("/staff/cw2/reset", data={"csrf": csrf})
    assert fresh.status_code == 200 and "Sign-in cleared" in fresh.text
    assert web.post("/staff/cw3/reset", data={"csrf": csrf}).status_code == 404  # another agency's
    assert [a for a in actions(seeded, "staff.") if a in ("staff.add", "staff.deactivate")] == [
        "staff.add",
        "staff.deactivate",
    ]
    sup, _ = signed_in(seeded, clock, "sup")
    listed = sup.get("/staff")  # supervisors see who is there to take cases, and no more
    assert listed.status_code == 200 and "/deactivate" not in listed.text
    assert 'action="/staff"' not in listed.text
    assert (
        sup.post("/staff", data={"csrf": csrf_of(sup), "handle": "x1", "role": "admin"}).status_code
        == 403
    )
