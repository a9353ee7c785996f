"""The same youth referred twice: a blind index finds the agency's likely duplicate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from harbour.admin.keys import rotate, stale_count
from harbour.app import App
from harbour.cases import details as case_details
from harbour.cases import duplicates, intake
from harbour.cases.duplicates import LikelyDuplicate
from harbour.db.models import AuditEvent, Case, YouthIndex
from harbour.domain.likeness import identity_text, loose_name
from harbour.errors import InvalidInput
from tests.db.helpers import refer
from tests.support import invoke, referral


def _youth(marker: str, name: str, born: str | None = "2009-04-01", **extra: Any) -> dict[str, Any]:
    data = referral(marker, **extra)
    data["youth"]["name"] = name
    data["youth"]["date_of_birth"] = born
    return data


def _cases(app: App) -> int:
    return app.run(lambda uow: uow.session.scalar(select(func.count()).select_from(Case)))


def test_loose_names_ignore_case_accents_spacing_and_punctuation() -> None:
    assert loose_name("  José   Ortiz-Ruiz ") == loose_name("jose ortiz ruiz") == "joseortizruiz"
    names = ("Ana O'Neil", "Ana O’Neil", "Ana ONeil", "ana o neil", "AnaO-Neil")
    assert len({loose_name(name) for name in names}) == 1
    assert loose_name("ＡＮＡ") == "ana"  # full-width letters fold too (NFKD)
    assert loose_name("Søren Łukasz Æsa") == loose_name("Soren Lukasz Aesa")  # no accent to strip
    assert loose_name("Ortiz, José") == loose_name("José Ortiz") == loose_name(" ortiz ,jose")
    assert loose_name("Ortiz Ruiz, Ana María") == loose_name("Ana Maria Ortiz-Ruiz")
    assert identity_text("Ana", None) != identity_text("Ana", "2009-04-01")


def test_a_generational_suffix_after_a_comma_is_not_a_family_name_first() -> None:
    """A name ending ", Jr." is the one without the comma (one youth before a comma was read as
    family name first), and family name first with the suffix last is them too."""
    same = ("José Ortiz, Jr.", "José Ortiz Jr.", "Ortiz, José, Jr.", "José Ortiz Jr")
    assert {loose_name(name) for name in same} == {"joseortizjr"}
    assert loose_name("Ana Ortiz, III") == loose_name("Ortiz, Ana III") == "anaortiziii"
    assert loose_name("Ortiz, Junior") == "juniorortiz"  # a given name, not a suffix


@pytest.mark.parametrize("name", ["???", "-", "'. ,"])
def test_a_name_of_punctuation_alone_is_refused(seeded: App, name: str) -> None:
    """It would be every other such name of the same birth date to the duplicate check."""
    before = _cases(seeded)
    with pytest.raises(InvalidInput) as refused:
        intake.refer(seeded, "coord", _youth("Pu", name), None)
    assert "youth.name: must have a letter or a digit" in str(refused.value)
    assert _cases(seeded) == before


def test_a_second_referral_of_the_same_youth_is_refused_naming_the_case(seeded: App) -> None:
    first = intake.refer(seeded, "coord", _youth("Da", "José Ortiz"), None)
    before = _cases(seeded)
    with pytest.raises(LikelyDuplicate) as refused:
        intake.refer(seeded, "coord", _youth("Db", "  jose  ORTIZ "), None)
    assert refused.value.code == "likely_duplicate"
    assert [e.reference for e in refused.value.existing] == [first.reference]
    assert first.reference in str(refused.value) and "Db" not in str(refused.value)
    assert _cases(seeded) == before  # nothing written
    rows = seeded.run(
        lambda uow: uow.session.execute(
            select(AuditEvent.outcome, AuditEvent.details).where(AuditEvent.action == "case.refer")
        ).all()
    )
    assert ("likely_duplicate", {"likely_duplicates": [first.reference]}) in rows


def test_a_name_written_with_or_without_its_apostrophe_is_the_same_youth(seeded: App) -> None:
    first = intake.refer(seeded, "coord", _youth("Da", "Ana O'Neil"), None)
    for typed in ("Ana ONeil", "Ana O’Neil", "ana o neil"):
        with pytest.raises(LikelyDuplicate) as refused:
            intake.refer(seeded, "coord", _youth("Db", typed), None)
        assert [e.reference for e in refused.value.existing] == [first.reference]


def test_allow_duplicate_refers_and_says_which_case_it_resembles(seeded: App) -> None:
    first = intake.refer(seeded, "coord", _youth("Da", "Ana Cruz"), None)
    second = intake.refer(seeded, "coord", _youth("Db", "Ana Cruz"), None, allow_duplicate=True)
    assert second.reference != first.reference
    assert [e.reference for e in second.duplicate_of] == [first.reference]
    assert second.as_json()["likely_duplicates"] == [
        {"case": first.reference, "status": "referred"}
    ]
    third = intake.refer(seeded, "coord", _youth("Dc", "Ana Cruz"), None, allow_duplicate=True)
    assert {e.reference for e in third.duplicate_of} == {first.reference, second.reference}


def test_another_birth_date_or_name_is_another_youth(seeded: App) -> None:
    intake.refer(seeded, "coord", _youth("Da", "Ana Cruz"), None)
    intake.refer(seeded, "coord", _youth("Db", "Ana Cruz", "2009-04-02"), None)
    intake.refer(seeded, "coord", _youth("Dc", "Ana Cruzo"), None)
    intake.refer(seeded, "coord", _youth("Dd", "Ana Cruz", None), None)
    with pytest.raises(LikelyDuplicate):  # two without a birth date match on the name
        intake.refer(seeded, "coord", _youth("De", "ana cruz", None), None)


def test_another_agencys_case_is_never_named(seeded: App) -> None:
    theirs = intake.refer(seeded, "coord2", _youth("Ds", "Ana Cruz"), None)
    ours = intake.refer(seeded, "coord", _youth("Dn", "Ana Cruz"), None)  # not refused
    assert ours.duplicate_of == ()
    with pytest.raises(LikelyDuplicate) as refused:
        intake.refer(seeded, "coord", _youth("Dm", "Ana Cruz"), None)
    assert theirs.reference not in str(refused.value)
    assert [e.reference for e in refused.value.existing] == [ours.reference]


def test_a_repeated_referral_with_its_key_is_its_own_case_not_a_duplicate(seeded: App) -> None:
    data = _youth("Dk", "Ana Cruz")
    first = intake.refer(seeded, "coord", data, "intake-7")
    again = intake.refer(seeded, "coord", data, "intake-7")
    assert (again.reference, again.duplicate_of) == (first.reference, ())
    with pytest.raises(LikelyDuplicate):  # another key is another referral of the same youth
        intake.refer(seeded, "coord", data, "intake-8")


def test_the_index_is_keyed_and_holds_no_name(seeded: App) -> None:
    case = intake.refer(seeded, "coord", _youth("Dx", "Ana Cruz"), None)
    row = seeded.run(lambda uow: uow.session.get_one(YouthIndex, case.id))
    text = identity_text("Ana Cruz", "2009-04-01")
    assert row.key_id == seeded.cipher.primary
    assert row.digest == seeded.cipher.blind_index(text)
    assert row.digest != hashlib.sha256(text.encode()).hexdigest()
    assert "cruz" not in row.digest.lower()


def test_rotation_recomputes_the_index_under_the_new_key(seeded: App) -> None:
    first = intake.refer(seeded, "coord", _youth("Dr", "Ana Cruz"), None)
    intake.refer(seeded, "coord", _youth("Ds", "Bea Diaz"), None)
    old = seeded.run(lambda uow: uow.session.get_one(YouthIndex, first.id)).digest
    primary, _ = rotate(seeded)
    rows = seeded.run(lambda uow: list(uow.session.scalars(select(YouthIndex))))
    assert {r.key_id for r in rows} == {primary} and old not in {r.digest for r in rows}
    assert stale_count(seeded) == 0
    with pytest.raises(LikelyDuplicate) as refused:
        intake.refer(seeded, "coord", _youth("Dt", "ana cruz"), None)
    assert [e.reference for e in refused.value.existing] == [first.reference]


def test_an_index_from_before_a_rotation_still_matches(seeded: App) -> None:
    """Midway through a rotation some indexes are under the old key: a lookup tries each key."""
    first = intake.refer(seeded, "coord", _youth("Dr", "Ana Cruz"), None)
    newer = seeded.cipher.keyring.with_new_key()
    newer.save(seeded.settings.resolved_key_file)
    seeded.reload_keys()
    seeded.run(lambda uow: uow.check_keys("write"))  # the store takes the new primary
    with pytest.raises(LikelyDuplicate) as refused:
        intake.refer(seeded, "coord", _youth("Dt", "Ana Cruz"), None)
    assert [e.reference for e in refused.value.existing] == [first.reference]


def test_the_index_follows_an_edit_of_the_youths_name(seeded: App) -> None:
    case = intake.refer(seeded, "coord", _youth("De", "Ana Cruz"), None)
    case_details.edit_person(seeded, "sup", case.reference, 0, {"name": "Ana Cruz Diaz"})
    intake.refer(seeded, "coord", _youth("Df", "Ana Cruz"), None)  # no longer alike
    with pytest.raises(LikelyDuplicate):
        intake.refer(seeded, "coord", _youth("Dg", "ana cruz diaz"), None)


def test_a_form_can_check_before_it_refers(seeded: App) -> None:
    from datetime import date

    case = intake.refer(seeded, "coord", _youth("Dq", "Ana Cruz"), None)
    found = duplicates.check(seeded, "coord", "ANA CRUZ", date(2009, 4, 1))
    assert found.as_json() == {
        "likely_duplicates": [{"case": case.reference, "status": "referred"}]
    }
    assert duplicates.check(seeded, "coord2", "Ana Cruz", date(2009, 4, 1)).existing == ()


def test_refer_at_the_command_line(seeded: App, tmp_path: Path) -> None:
    first = refer(seeded, tmp_path, _youth("Dc", "Ana Cruz")).json()["case"]
    refused = refer(seeded, tmp_path, _youth("Dd", "Ana Cruz"))
    assert refused.exit_code == 1 and refused.stdout == ""
    error = json.loads(refused.stderr)
    assert error["error"] == "likely_duplicate" and first in error["detail"]
    assert error["likely_duplicates"] == [{"case": first, "status": "referred"}]
    allowed = refer(seeded, tmp_path, _youth("Dd", "Ana Cruz"), "--allow-duplicate")
    assert allowed.exit_code == 0, allowed.stderr
    assert allowed.json()["likely_duplicates"] == [{"case": first, "status": "referred"}]


def test_refer_at_the_command_line_says_so_in_words(seeded: App, tmp_path: Path) -> None:
    from tests.db.helpers import write_referral
    from tests.support import invoke

    first = refer(seeded, tmp_path, _youth("Dh", "Ana Cruz")).json()["case"]
    again = str(write_referral(tmp_path, _youth("Di", "Ana Cruz")))
    refused = invoke(seeded, "refer", "--file", again, "--as", "coord")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: likely_duplicate: the agency has a case with")
    assert f"{first} (referred)" in refused.stderr and "--allow-duplicate" in refused.stderr
    allowed = invoke(seeded, "refer", "--file", again, "--allow-duplicate", "--as", "coord")
    assert allowed.exit_code == 0
    assert allowed.stderr == f"warning: likely the same youth as {first}; referred anyway\n"
    assert allowed.stdout.startswith("HB-")


def test_db_upgrade_rematches_youth_indexed_by_an_older_rule(seeded: App) -> None:
    """A Harbour that matched "Søren" as "sren" indexed its cases so; after the upgrade, "Søren"
    referred again must still find them."""
    first = intake.refer(seeded, "coord", _youth("Ua", "Søren Holm"), None)
    legacy = seeded.cipher.blind_index("youth|srenholm|2009-04-01")
    seeded.run(
        lambda uow: uow.session.execute(
            update(YouthIndex).where(YouthIndex.case_id == first.id).values(digest=legacy)
        )
    )
    upgraded = invoke(seeded, "db", "upgrade", "--json")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.json()["youth_indexes_recomputed"] == 1
    with pytest.raises(LikelyDuplicate):
        intake.refer(seeded, "coord", _youth("Ub", "Soren Holm"), None)
    assert invoke(seeded, "db", "upgrade", "--json").json()["youth_indexes_recomputed"] == 0
