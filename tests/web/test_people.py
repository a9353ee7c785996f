"""A case's people and threat sources in the console, as ``harbour case person|threat add|edit``
change them: the same checks (the services'), the same audit rows; an edit sends only what
changed and what was emptied; refusals beside their field write nothing. Each test runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient

from harbour.app import App
from harbour.cases.details import edit_person, edit_threat
from harbour.cases.reads import show_case
from harbour.clock import FixedClock
from harbour.domain.refs import short_form
from tests.notify.helpers import new_case
from tests.web.forming import counts, form_fields
from tests.web.helpers import csrf_of, refusals, signed_in
from tests.web.test_workbench import actions


def beside(page: str, field: str) -> str:
    found = re.search(rf'id="f-{field}-error">([^<]*)<', page)
    assert found, (field, page[-2500:])
    return html.unescape(found.group(1))


def shown_on(web: TestClient, path: str) -> str:
    """The fingerprint an edit form carries of the entry it showed."""
    found = re.search(r'name="shown" value="([0-9a-f]+)"', web.get(path).text)
    assert found, path
    return found.group(1)


def cw1_on_a_new_case(app: App, clock: FixedClock) -> tuple[TestClient, str, str]:
    """A new case (its referral's people and threat source), cw1 signed in on the console: the
    client, the case's reference, and the case as pages name it."""
    reference = new_case(app).reference
    web, _ = signed_in(app, clock, "cw1")
    return web, reference, short_form(reference)


def test_add_and_edit_people_and_threats(seeded: App, clock: FixedClock) -> None:
    web, reference, case = cw1_on_a_new_case(seeded, clock)
    details = web.post(f"/cases/{case}", data={"csrf": csrf_of(web, f"/cases/{case}")})
    assert f'href="/cases/{case}/people/new"' in details.text
    assert f'href="/cases/{case}/threats/0"' in details.text
    csrf = csrf_of(web, f"/cases/{case}/people/new")
    added = web.post(
        f"/cases/{case}/people/new",
        data={
            "csrf": csrf,
            "kind": "trusted_contact",
            "name": "MKCOACH",
            "relationship": "coach",
            "phone": "555-0199",
            "approved_by_youth": "on",
        },
    )
    assert added.status_code == 303, added.text[-1500:]
    people = show_case(seeded, "cw1", reference).people
    coach = next(p for p in people if p.get("name") == "MKCOACH")
    assert coach["kind"] == "trusted_contact" and coach["approved_by_youth"] is True
    number = coach["person"]

    form = web.get(f"/cases/{case}/people/{number}")
    assert form.status_code == 200 and 'value="MKCOACH"' in form.text
    shown = shown_on(web, f"/cases/{case}/people/{number}")
    edited = web.post(
        f"/cases/{case}/people/{number}",
        data={
            "csrf": csrf,
            "shown": shown,
            "name": "MKCOACH",
            "relationship": "",
            "phone": "555-0100",
        },
    )
    assert edited.status_code == 303, edited.text[-1500:]
    after = next(p for p in show_case(seeded, "cw1", reference).people if p["person"] == number)
    assert after.get("relationship") is None and after["phone"] == "555-0100"
    assert after["approved_by_youth"] is False  # unticked
    # A form whose fingerprint is not one (any text may come in a form) is stale, not a 500.
    odd = web.post(
        f"/cases/{case}/people/{number}",
        data={"csrf": csrf, "shown": "ünïcode", "name": "MKODD", "phone": "555-0100"},
    )
    assert odd.status_code != 500 and "MKODD" not in str(show_case(seeded, "cw1", reference))

    threat = web.post(
        f"/cases/{case}/threats/new",
        data={
            "csrf": csrf,
            "kind": "network",
            "name": "MKGANG",
            "protective_order": "on",
            "protective_order_expires_on": "2027-06-30",
        },
    )
    assert threat.status_code == 303, threat.text[-1500:]
    changed = web.post(
        f"/cases/{case}/threats/0",
        data={
            "csrf": csrf,
            "shown": shown_on(web, f"/cases/{case}/threats/0"),
            "kind": "trafficker",
            "name": "MKtraffickername",
            "description": "MKdesc",
        },
    )
    assert changed.status_code == 303, changed.text[-1500:]
    assert [
        a for a in actions(seeded, "case.") if a.startswith(("case.person", "case.threat"))
    ] == [
        "case.person.add",
        "case.person.edit",
        "case.threat.add",
        "case.threat.edit",
    ]


def test_refusals_beside_their_field_write_nothing(seeded: App, clock: FixedClock) -> None:
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    csrf = csrf_of(web, f"/cases/{case}/people/new")
    other, _ = signed_in(seeded, clock, "cw2")  # not this case's caseworker
    other_csrf = csrf_of(other)
    before = counts(seeded)
    for path, data, field in (
        ("people/new", {"kind": "family_member", "name": ""}, "name"),
        ("people/new", {"kind": "family_member", "name": "MKX", "phone": "x" * 1_000_000}, "phone"),
        ("people/new", {"kind": "family_member", "name": "MK\x00X"}, "name"),
        ("people/new", {"kind": "spouse", "name": "MKX"}, "kind"),
        ("threats/new", {"kind": "dragon"}, "kind"),
        (
            "threats/new",
            {"kind": "network", "protective_order_expires_on": "soon"},
            "protective_order_expires_on",
        ),
        ("people/0", {"name": "MKY", "date_of_birth": "2999-01-01"}, "date_of_birth"),
    ):
        if not path.endswith("new"):
            data |= {"shown": shown_on(web, f"/cases/{case}/{path}")}
        refused = web.post(f"/cases/{case}/{path}", data={"csrf": csrf} | data)
        assert refused.status_code == 400, (path, data, refused.text[-800:])
        assert re.search(rf'id="f-{field}-error"', refused.text), (
            path,
            field,
            refused.text[-2500:],
        )
    assert counts(seeded) == before
    assert web.get(f"/cases/{case}/people/77").status_code == 404
    assert web.get(f"/cases/{case}/threats/x").status_code == 404
    refused = other.post(
        f"/cases/{case}/people/new",
        data={"csrf": other_csrf, "kind": "family_member", "name": "MKZ", "relationship": "x"},
    )
    assert refused.status_code == 403
    assert counts(seeded) == before


def test_a_relative_without_relationship_is_told_beside_it(seeded: App, clock: FixedClock) -> None:
    # As `case person add` says it: the field and the kind that requires it, not "Field required".
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    form = web.get(f"/cases/{case}/people/new?kind=family_member")
    assert re.search(r'Relationship <span class="req">\(required\)</span>', form.text)
    contact = web.get(f"/cases/{case}/people/new?kind=trusted_contact")
    assert not re.search(r'Relationship <span class="req">', contact.text)
    csrf = csrf_of(web, f"/cases/{case}/people/new")
    before = counts(seeded)
    for kind, whose in (("family_member", "a family member"), ("caretaker", "a caretaker")):
        refused = web.post(
            f"/cases/{case}/people/new", data={"csrf": csrf, "kind": kind, "name": "MKREL"}
        )
        assert refused.status_code == 400, refused.text[-800:]
        beside = re.search(r'id="f-relationship-error"[^>]*>([^<]*)<', refused.text)
        assert beside and f"is required for {whose}" in beside.group(1), refused.text[-2500:]
        assert "Field required" not in refused.text
    assert counts(seeded) == before


def test_a_relative_whose_relationship_is_emptied_is_told_beside_it(
    seeded: App, clock: FixedClock
) -> None:
    # It went to the summary at the top, as "--clear: --relationship cannot be cleared for a
    # family_member": the CLI's option and the kind's code, away from the field.
    web, reference, case = cw1_on_a_new_case(seeded, clock)
    csrf = csrf_of(web, f"/cases/{case}/people/new")
    added = web.post(
        f"/cases/{case}/people/new",
        data={"csrf": csrf, "kind": "family_member", "name": "MKUNCLE", "relationship": "MKunc"},
    )
    assert added.status_code == 303, added.text[-1500:]
    people = show_case(seeded, "cw1", reference).people
    uncle = next(p for p in people if p.get("name") == "MKUNCLE")["person"]
    aunt = next(p for p in people if p["kind"] == "caretaker")["person"]
    before = counts(seeded)
    for number, whose in ((uncle, "a family member"), (aunt, "a caretaker")):
        path = f"/cases/{case}/people/{number}"
        opened = web.get(path).text
        typed = dict(re.findall(r'name="([a-z_]+)" [^>]*value="([^"]*)"', opened))
        typed |= {n: "on" for n in re.findall(r'name="([a-z_]+)"[^>]*checked', opened)}
        refused = web.post(path, data=typed | {"relationship": "", "phone": "555-0177"})
        assert refused.status_code == 400, refused.text[-800:]
        beside = re.search(r'id="f-relationship-error"[^>]*>([^<]*)<', refused.text)
        assert beside and f"is required for {whose}" in beside.group(1), refused.text[-2500:]
        assert "--clear" not in refused.text and "family_member" not in refused.text
        assert "MKunc" not in refused.text
    assert counts(seeded) == before
    kept = {p["person"]: p for p in show_case(seeded, "sup", reference).people}
    assert kept[uncle]["relationship"] == "MKunc" and kept[uncle].get("phone") is None


def test_a_form_sent_after_a_colleague_changed_the_entry_undoes_nothing(
    seeded: App, clock: FixedClock
) -> None:
    # The caseworker opens the aunt's form; a supervisor then gives her a new phone number. The
    # caseworker's form, which changes only the relationship, would have put the old number
    # back: it is refused, and shows the entry as it is now; sent again from there, it applies.
    reference = new_case(seeded).reference
    case = short_form(reference)
    aunt = next(p for p in show_case(seeded, "cw1", reference).people if p["kind"] != "youth")
    path = f"/cases/{case}/people/{aunt['person']}"
    web, _ = signed_in(seeded, clock, "cw1")
    opened = web.get(path).text
    typed = dict(re.findall(r'name="([a-z_]+)" [^>]*value="([^"]*)"', opened))
    typed |= {name: "on" for name in re.findall(r'name="([a-z_]+)"[^>]*checked', opened)}
    edit_person(seeded, "sup", reference, aunt["person"], {"phone": "555-0142"})
    before = counts(seeded)

    refused = web.post(path, data=typed | {"relationship": "MKaunt, maternal"})
    assert refused.status_code == 400
    assert "someone changed this entry since the form was opened" in refused.text
    assert 'value="555-0142"' in refused.text and "MKaunt, maternal" not in refused.text
    after = next(
        p for p in show_case(seeded, "sup", reference).people if p["person"] == aunt["person"]
    )
    assert after["phone"] == "555-0142" and after.get("relationship") == aunt.get("relationship")
    assert counts(seeded) == before

    again = dict(re.findall(r'name="([a-z_]+)" [^>]*value="([^"]*)"', refused.text))
    again |= {name: "on" for name in re.findall(r'name="([a-z_]+)"[^>]*checked', refused.text)}
    sent = web.post(path, data=again | {"relationship": "MKaunt, maternal"})
    assert sent.status_code == 303, sent.text[-1500:]
    after = next(
        p for p in show_case(seeded, "sup", reference).people if p["person"] == aunt["person"]
    )
    assert after["phone"] == "555-0142" and after["relationship"] == "MKaunt, maternal"


def test_a_stale_form_neither_reapproves_a_contact_nor_restores_an_order(
    seeded: App, clock: FixedClock
) -> None:
    # The youth withdrew their approval of a contact, and the protective order was lifted, after
    # the caseworker opened both forms: sending them as they were changes nothing.
    reference = new_case(seeded).reference
    case = short_form(reference)
    details = show_case(seeded, "cw1", reference)
    friend = next(p for p in details.people if p["kind"] == "trusted_contact")
    web, _ = signed_in(seeded, clock, "cw1")
    forms = {}
    for path in (f"/cases/{case}/people/{friend['person']}", f"/cases/{case}/threats/0"):
        opened = web.get(path).text
        typed = dict(re.findall(r'name="([a-z_]+)" [^>]*value="([^"]*)"', opened))
        forms[path] = typed | {n: "on" for n in re.findall(r'name="([a-z_]+)"[^>]*checked', opened)}
    edit_person(seeded, "sup", reference, friend["person"], {"approved_by_youth": False})
    edit_threat(
        seeded,
        "sup",
        reference,
        0,
        {"protective_order": False},
        ["protective_order_expires_on", "protective_order_details"],
    )
    before = counts(seeded)
    for path, typed in forms.items():
        assert web.post(path, data=typed | {"name": "MKrenamed"}).status_code == 400
    assert counts(seeded) == before
    now = show_case(seeded, "sup", reference)
    assert (
        next(p for p in now.people if p["person"] == friend["person"])["approved_by_youth"] is False
    )
    assert now.threats[0]["protective_order"] is False
    assert all(p.get("name") != "MKrenamed" for p in (*now.people, *now.threats))


def test_a_kind_chosen_without_showing_its_fields_loses_nothing_typed(
    seeded: App, clock: FixedClock
) -> None:
    # The form opens on a family member; the kind was changed to trusted contact and Add pressed
    # (not "Show this kind's fields"): the address and the tick a trusted contact has no place
    # for were dropped without a word, and the contact added as if they had not been typed.
    # Now refused, what was typed kept in the page: back with its kind, or left out when added
    # again as the kind chosen.
    web, reference, case = cw1_on_a_new_case(seeded, clock)
    path = f"/cases/{case}/people/new"
    typed = form_fields(web.get(path).text, path) | {
        "kind": "trusted_contact",
        "name": "MKNEIGHBOUR",
        "relationship": "MKneighbour",
        "phone": "555-0142",
        "address": "MKaddress",
        "non_offending": "on",
        "approved_by_youth": "on",
    }
    before = counts(seeded)
    shown = web.post(path, data=typed)
    assert shown.status_code == 400, shown.text[-1500:]
    assert counts(seeded) == before
    said = beside(shown.text, "kind")
    assert "address" in said and "non-offending" in said and "trusted contact" in said
    assert re.search(r'<option value="trusted_contact" selected', shown.text)
    assert 'id="f-address"' not in shown.text and 'id="f-non_offending"' not in shown.text
    for kept in ("MKNEIGHBOUR", "MKneighbour", "555-0142"):
        assert f'value="{kept}"' in shown.text
    # The kind was the mistake: chosen back, its fields come back as typed.
    back = web.post(
        path, data=form_fields(shown.text, path) | {"kind": "family_member", "refresh": "1"}
    )
    assert back.status_code == 200 and 'value="MKaddress"' in back.text
    assert re.search(r'id="f-non_offending"[^>]*checked', back.text), back.text[-3000:]

    # "Show this kind's fields" on the refusal, or from a family member's form with an address
    # typed: what the kind chosen has no place for stays in the page, and Add is refused again
    # saying so, never added without it unsaid.
    for page in (shown, back):
        refreshed = web.post(
            path, data=form_fields(page.text, path) | {"kind": "trusted_contact", "refresh": "1"}
        )
        assert refreshed.status_code == 200 and 'value="MKaddress"' in refreshed.text
        again = web.post(path, data=form_fields(refreshed.text, path))
        assert again.status_code == 400 and "address" in beside(again.text, "kind")
        assert counts(seeded) == before

    added = web.post(path, data=form_fields(shown.text, path))  # added again as a trusted contact
    assert added.status_code == 303, added.text[-1500:]
    people = show_case(seeded, "cw1", reference).people
    contact = next(p for p in people if p.get("name") == "MKNEIGHBOUR")
    assert contact["kind"] == "trusted_contact" and contact["phone"] == "555-0142"
    assert contact["relationship"] == "MKneighbour" and contact["approved_by_youth"] is True


def test_an_add_sent_twice_adds_once(seeded: App, clock: FixedClock) -> None:
    # A double click without the script, a retried POST, back and submit again: each added the
    # entry again. The form's key makes the second the first; with other values it is refused.
    web, reference, case = cw1_on_a_new_case(seeded, clock)
    for what, typed in (
        ("people", {"kind": "trusted_contact", "name": "MKTWICE", "phone": "555-0100"}),
        ("threats", {"kind": "network", "name": "MKTWICE"}),
    ):
        path = f"/cases/{case}/{what}/new"
        form = form_fields(web.get(path).text, path) | typed
        assert form.get("idempotency_key"), what
        refused = web.post(path, data=form | {"kind": "dragon"})  # then put right
        assert refused.status_code == 400, refused.text[-1500:]
        shown = web.post(path, data=form | {"refresh": "1"})
        for page in (refused, shown):
            assert form_fields(page.text, path)["idempotency_key"] == form["idempotency_key"]
        sent = [web.post(path, data=form) for _ in range(2)]
        assert [s.status_code for s in sent] == [303, 303], sent[1].text[-1500:]
        before = counts(seeded)
        other = web.post(path, data=form | {"name": "MKOTHER"})
        assert other.status_code == 400
        assert "already submitted with other values" in refusals(other.text)
        assert counts(seeded) == before
    now = show_case(seeded, "cw1", reference)
    assert [p.get("name") for p in now.people].count("MKTWICE") == 1
    assert [t.get("name") for t in now.threats].count("MKTWICE") == 1
    assert [a for a in actions(seeded, "case.") if ".add" in a] == [
        "case.person.add",
        "case.person.add.replayed",
        "case.threat.add",
        "case.threat.add.replayed",
    ]


def test_an_edit_refused_says_so_in_the_forms_words(seeded: App, clock: FixedClock) -> None:
    # The page said the command line's words: "(options): nothing to change: give a field or
    # --clear" for a form sent as it was, and for an emptied name "--clear: names a field that
    # cannot be cleared (address, date-of-birth, ...)", at the top, not beside the name.
    web, reference, case = cw1_on_a_new_case(seeded, clock)
    before = counts(seeded)
    for person in show_case(seeded, "cw1", reference).people:
        path = f"/cases/{case}/people/{person['person']}"
        opened = form_fields(web.get(path).text, path)
        unchanged = web.post(path, data=opened)
        assert unchanged.status_code == 400, unchanged.text[-1500:]
        said = refusals(unchanged.text)
        assert "nothing" in said and "--" not in said and "(options)" not in said, said
        emptied = web.post(path, data=opened | {"name": ""})
        assert emptied.status_code == 400, emptied.text[-1500:]
        assert beside(emptied.text, "name") == "is required"
        assert "--" not in refusals(emptied.text), refusals(emptied.text)
    threat = f"/cases/{case}/threats/0"
    unchanged = web.post(threat, data=form_fields(web.get(threat).text, threat))
    assert unchanged.status_code == 400 and "(options)" not in refusals(unchanged.text)
    assert counts(seeded) == before


def test_a_protective_order_refused_is_said_in_the_forms_words(
    seeded: App, clock: FixedClock
) -> None:
    # "describes a protective order: say --protective-order too", and with the order unticked
    # "describes the order being taken off: empty it too (--clear protective-order-expires-on)".
    web, _, case = cw1_on_a_new_case(seeded, clock)
    path = f"/cases/{case}/threats/new"
    dated = form_fields(web.get(path).text, path) | {
        "name": "MKT",
        "protective_order_expires_on": "2027-09-01",
    }
    before = counts(seeded)
    refused = web.post(path, data=dated)
    assert refused.status_code == 400, refused.text[-1500:]
    said = beside(refused.text, "protective_order_expires_on")
    assert "describes a protective order" in said and "There is a protective order" in said
    assert "--" not in said
    assert counts(seeded) == before

    path = f"/cases/{case}/threats/0"  # the referral's, with its order
    opened = form_fields(web.get(path).text, path)
    assert opened["protective_order"] == "on" and opened["protective_order_expires_on"]
    del opened["protective_order"]
    refused = web.post(path, data=opened)
    assert refused.status_code == 400, refused.text[-1500:]
    said = beside(refused.text, "protective_order_expires_on")
    assert said == "describes the order being taken off: empty it too"
    assert counts(seeded) == before


def test_an_edit_leaving_a_contact_on_the_final_plan_says_to_assess_again(
    seeded: App, clock: FixedClock
) -> None:
    """The console's person edit that makes a contact of the case's current final version no
    longer one says that version's copies still list them, and what to do; the workbench marks
    the contact. An edit that leaves them a contact answers as before (back to the case)."""
    from harbour.domain.vocab import ItemState, PlanSection
    from harbour.plans.actions import decide, finalize, show
    from harbour.plans.store import Undecided
    from tests.cli.helpers import assess_just_left

    web, reference, case = cw1_on_a_new_case(seeded, clock)
    assess_just_left(seeded, reference, "initial_contact")
    aunt = next(
        i
        for i in show(seeded, "cw1", reference).section(PlanSection.CONTACTS)
        if i.staff_text == "MKNOTEauntname"
    )
    decide(seeded, "cw1", reference, aunt.key, ItemState.ACCEPTED)
    finalize(seeded, "cw1", reference, Undecided(accept_rest=True))
    path = f"/cases/{case}/people/1"

    def sent(**changes: str | None) -> dict[str, str]:
        form = form_fields(web.get(path).text, path) | changes
        return {k: v for k, v in form.items() if v is not None}

    kept = web.post(path, data=sent(caretaker=None))  # still a contact: nothing more to say
    assert kept.status_code == 303, kept.text[-1500:]
    workbench = html.unescape(web.get(f"/cases/{case}/plan").text)
    assert "no longer approved" not in workbench

    edited = web.post(path, data=sent(approved_by_youth=None))
    # Post/redirect/get: to the page, where the warning is said once, so that a refresh neither
    # sends the form again nor says it again.
    assert edited.status_code == 303, edited.text[-1500:]
    assert edited.headers["location"] == path
    assert "MKNOTEaunt" not in str(edited.headers)  # the notice's cookie names the version only
    elsewhere = web.get(f"/cases/{case}/people/0")  # another page: not said there
    assert elsewhere.status_code == 200 and "Saved." not in elsewhere.text
    sup, _ = signed_in(seeded, clock, "sup")
    notices = [c for c in web.cookies.jar if "notice" in c.name]
    assert len(notices) == 1
    for kept in notices:
        sup.cookies.set(kept.name, kept.value, domain=kept.domain, path=kept.path)
    assert "Saved." not in sup.get(path).text  # another session's: not said to it
    before = counts(seeded)
    page = web.get(path)
    assert page.status_code == 200 and counts(seeded) == before  # no read of the entry
    said = html.unescape(page.text)
    assert "Saved." in said and "Final plan version 1 still lists them" in said
    assert "assess again to give the youth a plan without them" in said
    assert f'href="/cases/{case}/assess"' in said
    assert "MKNOTEaunt" not in said  # no identifying value: the answer names the version only
    assert show_case(seeded, "cw1", reference).people[1]["approved_by_youth"] is False
    refreshed = html.unescape(web.get(path).text)  # said once: then the entry, as it is now
    assert "Saved." not in refreshed and 'value="MKNOTEauntname"' in refreshed

    workbench = html.unescape(web.get(f"/cases/{case}/plan").text)
    row = workbench[workbench.index('id="n-', workbench.index("MKNOTEauntname") - 80) :]
    assert (
        "no longer approved, yet still on this final version's youth and family copies"
        in (row[: row.index("</li>")])
    )
