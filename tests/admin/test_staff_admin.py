"""Staff administration: deactivating someone with cases, who lists staff, admins scoped to their
agency, and a second `harbour init` with other names."""

from __future__ import annotations

from sqlalchemy import func, select

from harbour.app import App
from harbour.cases import intake
from harbour.db.models import Agency, AuditEvent, Case, OutboxMessage, Staff
from tests.db.helpers import row_counts
from tests.support import invoke, referral


def _caseworkers(app: App) -> list[str | None]:
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(Staff.handle)
            .select_from(Case)
            .outerjoin(Staff, Staff.id == Case.caseworker_id)
            .order_by(Case.created_at, Case.id)
        )
        return [handle for (handle,) in rows]


def _active(app: App, handle: str) -> bool:
    with app.engine.connect() as conn:
        return bool(conn.scalar(select(Staff.active).where(Staff.handle == handle)))


def test_deactivating_someone_with_open_cases_is_refused_until_they_are_reassigned(
    seeded: App,
) -> None:
    for marker in ("Da", "Db"):
        intake.refer(seeded, "coord", referral(marker, caseworker="cw1"), None)
    counts = row_counts(seeded)
    refused = invoke(seeded, "staff", "deactivate", "cw1", "--as", "adm")
    assert refused.exit_code == 1
    assert "2 open case(s)" in refused.stderr and "harbour assign" in refused.stderr
    assert "--reassign-to" in refused.stderr
    assert _active(seeded, "cw1") and _caseworkers(seeded) == ["cw1", "cw1"]
    assert {k: v for k, v in row_counts(seeded).items() if k != "audit_events"} == {
        k: v for k, v in counts.items() if k != "audit_events"
    }

    for bad in ("cw1", "coord", "cw3", "nobody"):  # itself, no caseworker, other agency, none
        wrong = invoke(seeded, "staff", "deactivate", "cw1", "--reassign-to", bad, "--as", "adm")
        assert wrong.exit_code == 2 and "--reassign-to" in wrong.stderr, bad
    assert _active(seeded, "cw1")

    moved = invoke(
        seeded, "staff", "deactivate", "cw1", "--reassign-to", "cw2", "--as", "adm", "--json"
    )
    assert moved.exit_code == 0, moved
    assert moved.json() == {
        "handle": "cw1",
        "active": False,
        "reassigned": 2,
        "reassigned_to": "cw2",
        "dead_lettered": 0,
    }
    assert not _active(seeded, "cw1") and _caseworkers(seeded) == ["cw2", "cw2"]
    with seeded.engine.connect() as conn:
        told = conn.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "case_assigned", OutboxMessage.recipient == "cw2")
        )
        assigned = conn.execute(
            select(AuditEvent.case_id).where(
                AuditEvent.action == "case.assign", AuditEvent.actor_handle == "adm"
            )
        ).all()
    assert told == 2  # each reassignment tells the new caseworker, as `harbour assign` does
    assert len({case_id for (case_id,) in assigned}) == 2


def test_deactivating_someone_without_open_cases_needs_no_reassignment(seeded: App) -> None:
    done = invoke(seeded, "staff", "deactivate", "cw2", "--as", "adm", "--json")
    assert done.exit_code == 0 and done.json()["reassigned"] == 0
    assert not _active(seeded, "cw2")


def test_coordinators_and_supervisors_list_their_agencys_active_staff(seeded: App) -> None:
    assert invoke(seeded, "staff", "deactivate", "cw2", "--as", "adm").exit_code == 0
    for handle in ("coord", "sup"):
        listed = invoke(seeded, "staff", "list", "--as", handle, "--json")
        assert listed.exit_code == 0, listed
        assert listed.json() == [
            {"handle": "adm", "role": "admin"},
            {"handle": "coord", "role": "coordinator"},
            {"handle": "cw1", "role": "caseworker"},
            {"handle": "sup", "role": "supervisor"},
        ]
    human = invoke(seeded, "staff", "list", "--as", "coord")
    assert "cw1" in human.stdout and "cw2" not in human.stdout and "cw3" not in human.stdout
    refused = invoke(seeded, "staff", "list", "--as", "cw1")
    assert refused.exit_code == 1 and "not_permitted" in refused.stderr


def test_admins_manage_their_own_agencys_staff_only(seeded: App) -> None:
    listed = invoke(seeded, "staff", "list", "--as", "adm", "--json").json()
    assert {row["agency"] for row in listed} == {"north"}
    assert {"cw2", "cw1"} <= {row["handle"] for row in listed}
    assert "cw3" not in {row["handle"] for row in listed}

    counts = row_counts(seeded)
    other = invoke(
        seeded, "staff", "add", "intruder", "--agency", "south", "--role", "admin", "--as", "adm"
    )
    assert other.exit_code == 1 and "not_permitted" in other.stderr
    gone = invoke(seeded, "staff", "deactivate", "cw3", "--as", "adm")
    missing = invoke(seeded, "staff", "deactivate", "nobody", "--as", "adm")
    assert (gone.exit_code, gone.stderr) == (missing.exit_code, missing.stderr)
    assert _active(seeded, "cw3")
    assert row_counts(seeded)["staff"] == counts["staff"]
    with seeded.engine.connect() as conn:
        denied = conn.scalar(
            select(func.count()).where(
                AuditEvent.actor_handle == "adm",
                AuditEvent.action == "staff.manage",
                AuditEvent.outcome == "denied",
            )
        )
    assert denied == 1

    # A new agency comes with its own admin, who adds its staff.
    made = invoke(seeded, "agency", "add", "east", "--admin", "eadm", "--as", "adm", "--json")
    assert made.exit_code == 0 and made.json()["admin"] == "eadm"
    added = invoke(
        seeded, "staff", "add", "ecw", "--agency", "east", "--role", "caseworker", "--as", "eadm"
    )
    assert added.exit_code == 0, added
    east = invoke(seeded, "staff", "list", "--as", "eadm", "--json").json()
    assert {(r["handle"], r["agency"]) for r in east} == {("eadm", "east"), ("ecw", "east")}


def test_a_second_init_with_other_names_is_refused(app: App) -> None:
    assert invoke(app, "init", "--agency", "north", "--admin", "adm").exit_code == 0
    assert invoke(app, "init", "--agency", "north", "--admin", "adm").exit_code == 0  # same: ok
    for agency, admin in (("south", "adm2"), ("north", "adm2"), ("south", "adm")):
        again = invoke(app, "init", "--agency", agency, "--admin", admin)
        assert again.exit_code == 1, (agency, admin)
        assert "already_initialised" in again.stderr
        assert "harbour agency add" in again.stderr and "harbour staff add" in again.stderr
    with app.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Agency)) == 1
        assert conn.scalar(select(func.count()).select_from(Staff)) == 1
