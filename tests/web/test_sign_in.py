"""Enrolment and sign-in over HTTP: cookies, one-time links, passwords, TOTP, lockout, throttle.
Each test runs on SQLite and PostgreSQL (the ``seeded`` fixture)."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from harbour.app import App
from harbour.auth import signin
from harbour.clock import FixedClock
from harbour.db.models import AuditEvent, Credential, Enrolment, Staff, WebSession
from tests.web.helpers import (
    BASE,
    PASSWORD,
    autofocused,
    client,
    code,
    enrol,
    enrolment_path,
    form_token,
    key_page,
    next_step,
    secret_on,
    server_log,
    sign_in,
    signed_in,
)


def audit_rows(app: App, action: str) -> list[AuditEvent]:
    return list(
        app.run(
            lambda uow: uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            ).all()
        )
    )


def session_cookie(response: object) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith("__Host-harbour-session=")]
    assert len(found) == 1, headers
    return found[0]


def test_cookie_is_host_only_strict_secure_and_new_at_each_sign_in(
    seeded: App, clock: FixedClock
) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    next_step(clock)
    first = sign_in(seeded, web, "cw1", secret)
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = session_cookie(first)
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags
    assert not any(f.startswith("domain") for f in flags)
    token = cookie.split(";")[0].split("=", 1)[1]
    next_step(clock)
    second = sign_in(seeded, web, "cw1", secret)
    assert session_cookie(second).split(";")[0].split("=", 1)[1] != token

    def stored(uow: object) -> list[WebSession]:
        return list(uow.session.scalars(select(WebSession)).all())  # type: ignore[attr-defined]

    sessions = seeded.run(stored)
    assert len(sessions) == 2
    assert all(token not in (s.token_hash, s.id) for s in sessions)
    assert sum(s.ended_at is None for s in sessions) == 1  # the old one ended at sign-in


def test_on_loopback_the_cookie_is_not_secure(seeded: App, clock: FixedClock) -> None:
    local = App(seeded.settings.model_copy(update={"base_url": "http://127.0.0.1:8080"}), clock)
    web = client(local, "http://127.0.0.1:8080")
    secret = enrol(local, web, "cw1")
    next_step(clock)
    answer = sign_in(local, web, "cw1", secret)
    cookies = answer.headers.get_list("set-cookie")
    ours = [c for c in cookies if c.startswith("harbour-session=")]
    assert ours and "secure" not in ours[0].lower() and "samesite=strict" in ours[0].lower()
    local.dispose()


def test_an_enrolment_link_works_once_and_expires(seeded: App, clock: FixedClock) -> None:
    web = client(seeded)
    enrol(seeded, web, "cw1")
    used = seeded.run(lambda uow: uow.session.scalars(select(Enrolment)).all())
    path = f"/enrol/{'x' * 43}"
    assert web.get(path).status_code == 404
    assert all(row.used_at is not None for row in used)
    stale = enrolment_path(seeded, "cw2")
    clock.advance(timedelta(hours=24, seconds=1))
    assert web.get(stale).status_code == 404
    fresh = enrolment_path(seeded, "cw2")
    assert web.get(fresh).status_code == 200
    newer = enrolment_path(seeded, "cw2")  # a new link retires the one before
    assert web.get(fresh).status_code == 404 and web.get(newer).status_code == 200


def test_a_plain_visit_to_an_enrolment_link_shows_no_key_and_writes_none(seeded: App) -> None:
    """Mail and chat services fetch the links they carry (to scan them, to preview them) and
    may keep what they were shown: the code app's key, a second factor, is shown only to the
    form the page's button sends, and a plain visit generates none."""
    web = client(seeded)
    path = enrolment_path(seeded, "cw1")
    visit = web.get(path)
    assert visit.status_code == 200 and "cw1" in visit.text
    assert 'class="secret"' not in visit.text and "otpauth" not in visit.text
    assert 'name="show_key"' in visit.text
    pending = seeded.run(
        lambda uow: [r.pending_totp_sealed for r in uow.session.scalars(select(Enrolment))]
    )
    assert pending == [None]
    secret = secret_on(key_page(web, path).text)
    assert secret_on(key_page(web, path).text) == secret  # the same key until enrolment completes
    assert web.get(path).status_code == 200 and secret not in web.get(path).text.replace(" ", "")


def test_weak_passwords_and_wrong_codes_are_refused_at_enrolment(
    seeded: App, clock: FixedClock
) -> None:
    web = client(seeded)
    path = enrolment_path(seeded, "cw1")
    secret = secret_on(key_page(web, path).text)
    for password, again, typed in [
        ("short pass", "short pass", code(seeded, secret)),
        ("password1234", "password1234", code(seeded, secret)),
        ("cw1 is my long password", "cw1 is my long password", code(seeded, secret)),
        (PASSWORD, PASSWORD + "x", code(seeded, secret)),
        (PASSWORD, PASSWORD, "000000" if code(seeded, secret) != "000000" else "111111"),
    ]:
        answer = web.post(path, data={"password": password, "password_again": again, "code": typed})
        assert answer.status_code == 400
        assert password not in answer.text
    # The same secret is offered again after a refusal, and the link still works.
    assert secret_on(key_page(web, path).text) == secret


def test_a_refused_sign_in_or_enrolment_takes_the_focus_to_its_message(
    seeded: App, clock: FixedClock
) -> None:
    """A refusal's message takes the focus as the page loads, so a screen reader says it at
    once; the form as first shown (even one saying its session ended) takes none."""
    web = client(seeded)
    path = enrolment_path(seeded, "cw1")
    first = key_page(web, path)
    assert autofocused(first.text) == []
    secret = secret_on(first.text)
    refused = web.post(path, data={"password": "short", "password_again": "short", "code": "1"})
    assert refused.status_code == 400
    [message] = autofocused(refused.text)
    assert 'role="alert"' in message and 'tabindex="-1"' in message, message
    done = {"password": PASSWORD, "password_again": PASSWORD, "code": code(seeded, secret)}
    assert web.post(path, data=done).status_code == 200
    assert autofocused(web.get("/sign-in?ended=yes").text) == []
    next_step(clock)
    answer = sign_in(seeded, web, "cw1", secret, password="not the password " + PASSWORD)
    assert answer.status_code == 400
    [message] = autofocused(answer.text)
    assert 'role="alert"' in message and 'tabindex="-1"' in message, message


def test_a_link_that_runs_out_while_its_form_is_refused_answers_404(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harbour.auth import enrolment

    web = client(seeded)
    path = enrolment_path(seeded, "cw1")
    secret = secret_on(key_page(web, path).text)
    refuse = enrolment.complete

    def refused_then_expired(*args: object) -> None:  # the refusal, then the link's last second
        try:
            refuse(*args)  # type: ignore[arg-type]
        finally:
            clock.advance(timedelta(days=2))

    monkeypatch.setattr(enrolment, "complete", refused_then_expired)
    answer = web.post(
        path, data={"password": "short", "password_again": "short", "code": code(seeded, secret)}
    )
    assert answer.status_code == 404 and "unknown, used or expired" in answer.text


def test_sign_in_needs_password_and_a_fresh_code(seeded: App, clock: FixedClock) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    # The code used at enrolment cannot sign in: each step is accepted once.
    assert sign_in(seeded, web, "cw1", secret).status_code == 400
    next_step(clock)
    assert sign_in(seeded, web, "cw1", secret, password="wrong " + PASSWORD).status_code == 400
    next_step(clock)
    assert sign_in(seeded, web, "cw1", secret, code_text="12345").status_code == 400
    clock.advance(timedelta(minutes=2))  # past the growing delay
    good = sign_in(seeded, web, "cw1", secret)
    assert good.status_code == 303
    assert sign_in(seeded, client(seeded), "cw1", secret).status_code == 400  # same code again


# The digits of other scripts, which str.isdigit takes as it takes 0-9.
OTHER_DIGITS = (
    "".join(chr(0x0660 + n) for n in range(10)),  # Arabic-Indic
    "\u2070\u00b9\u00b2\u00b3" + "".join(chr(0x2074 + n) for n in range(6)),  # superscript
    "".join(chr(0xFF10 + n) for n in range(10)),  # full-width
)


def written_in(digits: str, ascii_code: str) -> str:
    return ascii_code.translate(str.maketrans("0123456789", digits))


def failed_streak(app: App, handle: str) -> int:
    streak = select(Credential.failed_streak).join(Staff).where(Staff.handle == handle)
    return int(app.run(lambda uow: uow.session.scalar(streak)))


def test_a_code_in_other_digits_is_a_wrong_code_counted_and_audited(
    seeded: App, clock: FixedClock
) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    answers = []
    for digits in OTHER_DIGITS:
        for password in (PASSWORD, "not the password"):
            clock.advance(signin.DELAY_MAX)  # past the growing delay: each attempt is checked
            typed = written_in(digits, code(seeded, secret))
            answers.append(sign_in(seeded, web, "cw1", secret, password, code_text=typed))
    # The same answer whether the password was right or not: no password oracle.
    assert {answer.status_code for answer in answers} == {400}
    assert len({body(answer) for answer in answers}) == 1
    reasons = [r.details["reason"] for r in audit_rows(seeded, "sign_in")]
    assert reasons == ["code", "password"] * len(OTHER_DIGITS)
    assert failed_streak(seeded, "cw1") == 2 * len(OTHER_DIGITS)
    clock.advance(signin.DELAY_MAX)
    assert sign_in(seeded, web, "cw1", secret).status_code == 303  # the same code, in 0-9


def test_a_code_in_other_digits_is_refused_at_enrolment(seeded: App, clock: FixedClock) -> None:
    web = client(seeded)
    path = enrolment_path(seeded, "cw1")
    secret = secret_on(key_page(web, path).text)
    for digits in OTHER_DIGITS:
        typed = written_in(digits, code(seeded, secret))
        answer = web.post(
            path, data={"password": PASSWORD, "password_again": PASSWORD, "code": typed}
        )
        assert answer.status_code == 400 and "code: the code does not match" in answer.text
    assert not audit_rows(seeded, "staff.enrol")
    done = {"password": PASSWORD, "password_again": PASSWORD, "code": code(seeded, secret)}
    assert web.post(path, data=done).status_code == 200  # the link still works


def test_the_answer_never_says_whether_the_handle_exists(seeded: App, clock: FixedClock) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    next_step(clock)
    known = sign_in(seeded, web, "cw1", secret, password="not the password at all")
    unknown = sign_in(seeded, web, "nosuchperson", secret, password="not the password at all")
    not_enrolled = sign_in(seeded, web, "cw2", secret, password="not the password at all")
    assert known.status_code == unknown.status_code == not_enrolled.status_code == 400
    assert body(known) == body(unknown) == body(not_enrolled)
    failed = [r for r in audit_rows(seeded, "sign_in") if r.outcome == "failed"]
    assert [r.actor_handle for r in failed] == ["cw1", "unknown", "cw2"]
    assert "nosuchperson" not in repr([(r.actor_handle, r.details) for r in failed])


def test_a_handle_no_one_could_have_is_answered_as_an_unknown_one(
    seeded: App, clock: FixedClock
) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    next_step(clock)
    unknown = sign_in(seeded, web, "nosuchperson", secret)
    for typed in ("cw1\x00", "cw1\x00x", "CW1", "cw1" + "x" * 100):
        answer = sign_in(seeded, web, typed, secret)
        assert answer.status_code == 400 and body(answer) == body(unknown), repr(typed)
    failed = [r.actor_handle for r in audit_rows(seeded, "sign_in") if r.outcome == "failed"]
    assert failed == ["unknown"] * 5
    assert sign_in(seeded, web, "cw1", secret).status_code == 303


def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 checks a password against from now on, one entry per check."""
    checked: list[str] = []
    verify = PasswordHasher.verify

    def counted(hasher: PasswordHasher, stored: str, password: str) -> bool:
        checked.append(stored)
        return verify(hasher, stored, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    return checked


def test_every_refusal_costs_one_password_check_so_its_time_tells_nothing(
    seeded: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    checked = password_checks(monkeypatch)
    # Enough wrong guesses for every refusal: checked, too soon, locked, and then throttled,
    # which is by address, whatever the handle, and spends none (not a check for every
    # request of an address already refused).
    for _ in range(signin.ADDRESS_LIMIT // 2 + 1):
        for handle in ("cw1", "nosuchperson"):
            before = len(checked)
            assert sign_in(seeded, web, handle, secret, "wrong password!").status_code == 400
            reason = audit_rows(seeded, "sign_in")[-1].details["reason"]
            assert len(checked) == before + (reason != "throttled"), reason
    reasons = {r.details["reason"] for r in audit_rows(seeded, "sign_in")}
    assert reasons == {"password", "too_soon", "locked", "unknown", "throttled"}


def body(response: object) -> str:
    """A page without its one-time form token, nor the handle typed (kept in its field)."""
    page = re.sub(r'name="form_token" value="[^"]+"', "", response.text)  # type: ignore[attr-defined]
    return re.sub(r'(<input id="handle"[^>]*) value="[^"]*"', r"\1", page)


def typed_handle(page: str) -> str | None:
    """The value the sign-in page's handle field comes back with, if any."""
    field = re.search(r'<input id="handle"[^>]*>', page)
    assert field, page[-800:]
    value = re.search(r'value="([^"]*)"', field.group(0))
    return value.group(1) if value else None


def test_a_refused_sign_in_keeps_the_handle_typed_never_the_password_or_code(
    seeded: App, clock: FixedClock
) -> None:
    """Found by review: the handle field came back empty, to be typed again each time."""
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    assert typed_handle(web.get("/sign-in").text) is None
    next_step(clock)
    typed = code(seeded, secret)
    answer = sign_in(seeded, web, "cw1", secret, password="not the password at all")
    assert answer.status_code == 400 and typed_handle(answer.text) == "cw1"
    assert "not the password at all" not in answer.text and typed not in body(answer)
    # As typed (an upper-case handle is no one's), without what a field cannot hold.
    clock.advance(signin.DELAY_MAX)
    assert typed_handle(sign_in(seeded, web, "CW1", secret).text) == "CW1"
    assert typed_handle(sign_in(seeded, web, "cw1\x00", secret).text) == "cw1"
    assert typed_handle(sign_in(seeded, web, "<b>" + "x" * 99, secret).text) == (
        "&lt;b&gt;" + "x" * 61
    )
    expired = web.post("/sign-in", data={"form_token": "stale", "handle": "cw1"})
    assert expired.status_code == 403 and typed_handle(expired.text) == "cw1"


def test_ten_failures_in_an_hour_lock_the_account_until_time_or_an_admin(
    seeded: App, clock: FixedClock
) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    for _ in range(signin.LOCK_AFTER):
        clock.advance(signin.DELAY_MAX + timedelta(seconds=1))
        assert sign_in(seeded, web, "cw1", secret, password="wrong password!").status_code == 400
    assert [r.actor_handle for r in audit_rows(seeded, "sign_in.locked")] == ["cw1"]
    clock.advance(signin.DELAY_MAX + timedelta(seconds=1))
    locked = sign_in(seeded, web, "cw1", secret)
    assert locked.status_code == 400  # the right password and code, and still no
    assert audit_rows(seeded, "sign_in")[-1].details == {"reason": "locked"}
    # What to do, said to every refusal alike (found by review: only "wait before trying
    # again", which a locked person did, minute after minute).
    said = " ".join(re.sub(r"<[^>]+>", " ", locked.text).split())
    assert "locked for an hour" in said and "an admin" in said, said
    unknown = sign_in(seeded, web, "nobody", secret).text
    assert said == " ".join(re.sub(r"<[^>]+>", " ", unknown).split())
    clock.advance(signin.LOCK_FOR)
    assert sign_in(seeded, web, "cw1", secret).status_code == 303  # time lifted it


def test_an_admin_reset_lifts_a_lock_and_ends_sessions(seeded: App, clock: FixedClock) -> None:
    web, secret = signed_in(seeded, clock, "cw1")
    other = client(seeded)
    for _ in range(signin.LOCK_AFTER):
        clock.advance(signin.DELAY_MAX + timedelta(seconds=1))
        sign_in(seeded, other, "cw1", secret, password="wrong password!")
    assert web.get("/").status_code == 200  # a lock does not end a live session
    secret = enrol(seeded, other, "cw1")  # the admin's reset, and the person's new enrolment
    assert web.get("/").status_code == 303  # the old session ended
    next_step(clock)
    assert sign_in(seeded, other, "cw1", secret).status_code == 303


def test_growing_delay_between_failed_attempts(seeded: App, clock: FixedClock) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    for _ in range(signin.DELAY_FROM):
        next_step(clock)
        sign_in(seeded, web, "cw1", secret, password="wrong password!")
    next_step(clock)
    assert signin.delay_after(signin.DELAY_FROM) < timedelta(seconds=30)
    assert sign_in(seeded, web, "cw1", secret).status_code == 303
    delays = [signin.delay_after(n) for n in range(1, 12)]
    assert delays == sorted(delays) and delays[-1] == signin.DELAY_MAX > delays[3] > delays[2]
    for _ in range(signin.DELAY_FROM + 2):
        sign_in(seeded, web, "cw1", secret, password="wrong password!")
    # At once, with the right password and the next step's code (within the one-step window):
    upcoming = pyotp.TOTP(secret).at(clock.now() + timedelta(seconds=30))
    too_soon = sign_in(seeded, web, "cw1", secret, code_text=upcoming)
    assert too_soon.status_code == 400
    assert audit_rows(seeded, "sign_in")[-1].details == {"reason": "too_soon"}
    clock.advance(signin.delay_after(signin.DELAY_FROM + 3))
    assert sign_in(seeded, web, "cw1", secret, code_text=upcoming).status_code == 303


def at_once(base: str, forms: list[dict[str, str]]) -> list[int]:
    """Each sign-in form posted by a client of its own to the console served at ``base``, all
    at the same moment (a thread each): the answers' statuses, in order."""
    ready = threading.Barrier(len(forms), timeout=60)

    def post(form: dict[str, str]) -> int:
        with httpx.Client(base_url=base, follow_redirects=False) as web:
            token = form_token(web)
            ready.wait()
            return web.post("/sign-in", data={"form_token": token, **form}).status_code

    with ThreadPoolExecutor(len(forms)) as pool:
        return list(pool.map(post, forms))


def test_parallel_sign_ins_with_one_code_start_one_session(
    seeded: App, clock: FixedClock, console: tuple[App, str]
) -> None:
    _, base = console
    secret = enrol(seeded, client(seeded), "cw1")
    next_step(clock)
    form = {"handle": "cw1", "password": PASSWORD, "code": code(seeded, secret)}
    assert sorted(at_once(base, [form] * 12)) == [303] + [400] * 11
    assert [r.outcome for r in audit_rows(seeded, "sign_in")].count("ok") == 1
    assert len(seeded.run(lambda uow: uow.session.scalars(select(WebSession)).all())) == 1


def test_parallel_wrong_guesses_are_delayed_and_locked_as_one_after_another(
    seeded: App, clock: FixedClock, console: tuple[App, str]
) -> None:
    _, base = console
    enrol(seeded, client(seeded), "cw1")
    guesses = [{"handle": "cw1", "password": f"guess {n:02}", "code": "123456"} for n in range(20)]
    assert set(at_once(base, guesses)) == {400}
    # As one after another with the clock standing still: the first few passwords are checked,
    # then every attempt is too soon (unchecked), and the failures lock the account.
    reasons = Counter(r.details["reason"] for r in audit_rows(seeded, "sign_in"))
    assert reasons == {
        "password": signin.DELAY_FROM,
        "too_soon": signin.LOCK_AFTER - signin.DELAY_FROM,
        "locked": 20 - signin.LOCK_AFTER,
    }


def test_parallel_first_attempts_on_an_account_never_enrolled_are_refused_as_one(
    seeded: App, console: tuple[App, str]
) -> None:
    # cw2 has no credential row yet: each attempt's transaction would create it.
    _, base = console
    guesses = [{"handle": "cw2", "password": f"guess {n:02}", "code": "123456"} for n in range(8)]
    assert set(at_once(base, guesses)) == {400}
    credentials = seeded.run(lambda uow: uow.session.scalars(select(Credential)).all())
    assert len([c for c in credentials if c.failed_streak]) == 1
    assert len(audit_rows(seeded, "sign_in")) == 8


def test_parallel_posts_of_one_enrolment_link_enrol_once(
    seeded: App, clock: FixedClock, console: tuple[App, str]
) -> None:
    # Whoever holds a copy of the link (a forwarded message, a second tab) and sends the form
    # at the same moment as its owner must not set a password of their own after the owner's.
    _, base = console
    path = enrolment_path(seeded, "cw1")
    with httpx.Client(base_url=base) as web:
        secret = secret_on(key_page(web, path).text)
    typed = code(seeded, secret)
    passwords = [f"{PASSWORD} {n:02}" for n in range(6)]
    ready = threading.Barrier(len(passwords), timeout=60)

    def post(password: str) -> int:
        with httpx.Client(base_url=base, follow_redirects=False) as web:
            ready.wait()
            form = {"password": password, "password_again": password, "code": typed}
            return web.post(path, data=form).status_code

    with ThreadPoolExecutor(len(passwords)) as pool:
        statuses = list(pool.map(post, passwords))
    assert sorted(statuses) == [200] + [404] * (len(passwords) - 1)
    assert len(audit_rows(seeded, "staff.enrol")) == 1
    chosen = passwords[statuses.index(200)]
    next_step(clock)
    assert sign_in(seeded, client(seeded), "cw1", secret, password=chosen).status_code == 303


def test_one_address_is_throttled_whatever_handles_it_tries(seeded: App, clock: FixedClock) -> None:
    web = client(seeded)
    secret = enrol(seeded, web, "cw1")
    for n in range(signin.ADDRESS_LIMIT):
        sign_in(seeded, web, f"guess{n}", secret, password="wrong password!")
    next_step(clock)
    assert sign_in(seeded, web, "cw1", secret).status_code == 400
    assert audit_rows(seeded, "sign_in")[-1].details == {"reason": "throttled"}
    clock.advance(signin.ADDRESS_WINDOW)
    assert sign_in(seeded, web, "cw1", secret).status_code == 303


def test_no_token_password_or_code_reaches_the_logs(
    seeded: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    web = client(seeded)
    path = enrolment_path(seeded, "cw1")
    secret = secret_on(key_page(web, path).text)
    typed = code(seeded, secret)
    web.post(path, data={"password": PASSWORD, "password_again": PASSWORD, "code": typed})
    next_step(clock)
    sign_in(seeded, web, "cw1", secret)
    logged = server_log(caplog)
    assert "/enrol/[token]" in logged
    for secret_text in (path.rsplit("/", 1)[1], PASSWORD, secret):
        assert secret_text not in logged


def test_no_token_reaches_the_logs_from_a_mangled_enrolment_link(
    seeded: App, caplog: pytest.LogCaptureFixture
) -> None:
    # A link as a mail client, a proxy under a prefix, or a base URL ending in "/" makes it:
    # not one of the console's paths (a 404), and still the token in it.
    caplog.set_level(logging.DEBUG)
    web = client(seeded)
    token = enrolment_path(seeded, "cw1").rsplit("/", 1)[1]
    for path in (f"//enrol/{token}", f"/harbour/enrol/{token}", f"/enrol//{token}"):
        assert web.get(f"{BASE}{path}").status_code == 404, path
    logged = server_log(caplog)
    assert logged.count("GET [no such page] 404") == 3  # no path no route matched is shown
    assert token not in logged


def test_the_link_goes_to_the_persons_own_route_never_to_a_shared_one(seeded: App) -> None:
    from pydantic import SecretStr

    from harbour.db.models import OutboxMessage
    from harbour.notify import links
    from harbour.notify.messages import compose
    from tests.support import invoke

    routes = "version: 1\nurls:\n  - json://127.0.0.1:9/hook:\n      - tag: cw1, chat\n"
    routes += "  - json://127.0.0.1:9/team:\n      - tag: supervisor, north, chat\n"
    routed = App(
        seeded.settings.model_copy(update={"apprise_yaml": SecretStr(routes)}), seeded.clock
    )
    sent = invoke(routed, "staff", "reset", "cw1", "--as", "adm")
    assert sent.exit_code == 0 and "/enrol/" not in sent.stdout
    assert "went to their own route" in sent.stdout
    printed = invoke(routed, "staff", "reset", "sup", "--as", "adm")  # only a shared route
    assert printed.exit_code == 0 and "https://harbour.test/enrol/" in printed.stdout
    rows = routed.run(lambda uow: uow.session.scalars(select(OutboxMessage)).all())
    assert [(r.kind, r.recipient, r.channel) for r in rows] == [("enrolment", "cw1", "chat")]
    assert "path" not in rows[0].context  # the row names the enrolment; the relay adds the link
    context = routed.read(lambda uow: links.with_link(uow, rows[0].context))
    message = compose(routed.settings, "enrolment", context, "chat")
    assert "/enrol/" not in message.title and "https://harbour.test/enrol/" in message.body
    routed.dispose()


def test_installations_hash_passwords_with_argon2s_recommended_parameters() -> None:
    """The tests run with argon2's cheapest parameters (tests/conftest.py); an installation that
    sets nothing gets the strong ones, and the hashes it stores say so."""
    from argon2 import extract_parameters, profiles

    from harbour.auth import passwords
    from harbour.settings import Settings

    assert Settings.model_fields["password_hashing"].default == "standard"
    stored = passwords.hash_password(PASSWORD, "standard")
    assert extract_parameters(stored) == profiles.RFC_9106_LOW_MEMORY
    assert passwords.verify_password(stored, PASSWORD, "standard")
    assert not passwords.verify_password(stored, PASSWORD + "x", "standard")
    assert not passwords.verify_password(None, PASSWORD, "standard")
    assert Settings(home="unused").password_hashing == "tests_only_cheap"  # as tests run
