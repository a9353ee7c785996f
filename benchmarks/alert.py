"""An imminent alert through the CLI, as staff type it: when the email reaches a local SMTP
server, counted from `harbour assess` returning (it is sent before the command returns, so the
wait is zero) and from the command's start, against a bare Apprise send of the same email to the
same server (warm in this process, and from a fresh Python process).

The fresh-process baseline imports Apprise alone, while an alert that is recorded before it is
sent cannot do without the database layer (SQLAlchemy and the driver), the cipher that seals what
it records, and the templates that word it: a second baseline row times a fresh process that
first imports the third-party modules `harbour assess` had loaded when its alert went out (found
by running it once), then makes the same bare Apprise send. What lies between that row's figure
and its baseline is Harbour's own work: its modules, settings and reference data, the
transaction, and the relay's claim before the send.

Both orchestration modes are timed: embedded (``inline``: the command also runs the lifecycle
steps) and ``prefect`` (the command records and sends the urgent lane; the flows do the rest).
No Prefect server is needed: the CLI never imports Prefect.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import Row, byte_compiled, cli_env, seed_agency, temp_store
from harbour.app import App
from harbour.cases.intake import refer
from harbour.db.models import Case
from harbour.demo.receivers import (
    MAIL_DOMAIN,
    Mail,
    RouteBook,
    SmtpServer,
    smtp_server,
    webhook_receiver,
)
from harbour.orchestration import pipeline

SUP = f"sup@{MAIL_DOMAIN}"


def run(size: int = 5) -> list[Row]:
    """``size`` alerts per mode (medians)."""
    if size < 1:
        return []
    return _imminent_alert(size)


@dataclass(frozen=True)
class AlertTimes:
    """One `harbour assess` of an imminent threat, in seconds from its start."""

    arrived: float  # the email at the SMTP server
    returned: float  # the command's exit


def _imminent_alert(times: int) -> list[Row]:
    """The email's arrival after `harbour assess` returned (in each mode), and the whole command
    from its start, against a bare Apprise send to the same server."""
    byte_compiled()
    rows = []
    with temp_store("sqlite") as app, smtp_server() as smtp, webhook_receiver() as receiver:
        seed_agency(app)
        book = RouteBook(app.settings.home / "routes.yaml", smtp, receiver)
        for handle in ("sup", "cw1", "coord"):
            book.email(handle)
        answers = app.settings.home / "imminent.json"
        answers.write_text(json.dumps(_safest(app, immediate_danger="yes")))
        url = _sup_url(smtp)
        loaded = _loaded_at_send(app, cli_env(app, book.path, "prefect"), answers, smtp)
        warm = statistics.median(_bare_send(smtp, url) for _ in range(times))
        cold = statistics.median(_bare_send_fresh(smtp, url) for _ in range(times))
        same = statistics.median(_bare_send_fresh(smtp, url, loaded) for _ in range(times))
        for mode in ("inline", "prefect"):
            env = cli_env(app, book.path, mode)
            runs = [_alert_once(app, env, answers, smtp) for _ in range(times)]
            after = [t.arrived - t.returned for t in runs]
            early = sum(a <= 0 for a in after)
            rows.append(
                Row(
                    f"imminent alert: email after assess returned, {mode}",
                    statistics.median(max(a, 0.0) for a in after),
                    warm,
                    "s waited",
                    "bare Apprise send",
                    f"in {early} of {times} runs already there, median "
                    f"{-statistics.median(after):.2f} s before the return",
                )
            )
            rows.append(
                Row(
                    f"imminent alert: assess start to email, {mode}",
                    statistics.median(t.arrived for t in runs),
                    cold,
                    "s",
                    "bare Apprise send, fresh process",
                    f"command returned after {statistics.median(t.returned for t in runs):.2f} s",
                )
            )
            rows.append(
                Row(
                    f"imminent alert: assess start to email, {mode}, same imports",
                    statistics.median(t.arrived for t in runs),
                    same,
                    "s",
                    "bare Apprise send, fresh process importing the same third-party modules",
                    f"{len(loaded)} modules: those loaded when the alert was sent",
                )
            )
    return rows


def _sup_url(smtp: SmtpServer) -> str:
    return f"mailto://127.0.0.1:{smtp.port}?from=harbour@relay.test&to={SUP}"


def _bare_send(smtp: SmtpServer, url: str) -> float:
    """Seconds from an Apprise call (warm, in this process) to the email's arrival."""
    import apprise

    seen = len(smtp.to(SUP))
    started = time.perf_counter()
    sender = apprise.Apprise()  # a new one each time: Apprise spaces emails 5.5 s per instance
    sender.add(url)
    sender.notify(body="Bench alert", title="Urgent alert, please acknowledge")
    return _arrived(smtp, SUP, seen, started) - started


def _bare_send_fresh(smtp: SmtpServer, url: str, modules: tuple[str, ...] = ()) -> float:
    """Seconds from starting a Python process that sends the same email with Apprise to its
    arrival: what any command that sends an alert at least costs. With ``modules``, the
    process imports them first (those a record-then-send command has loaded by its send)."""
    seen = len(smtp.to(SUP))
    imports = "".join(f"try:\n    import {name}\nexcept Exception:\n    pass\n" for name in modules)
    code = imports + (
        "import apprise, sys; a = apprise.Apprise(); a.add(sys.argv[1]); "
        "a.notify(body='Bench alert', title='Urgent alert, please acknowledge')"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, url], check=True, capture_output=True)
    return _arrived(smtp, SUP, seen, started) - started


def _arrived(
    smtp: SmtpServer, address: str, seen: int, started: float, within: float = 60
) -> float:
    """The moment (perf_counter) a new email to ``address`` was first seen, polled every 2 ms."""
    while time.perf_counter() < started + within:
        if len(smtp.to(address)) > seen:
            return time.perf_counter()
        time.sleep(0.002)
    raise TimeoutError("no email arrived")


# Runs `harbour assess` in this interpreter; at its first email, notes the third-party modules
# loaded so far, in order, and prints them at the end.
_LOADED_AT_SEND = """
import smtplib, sys, sysconfig
site = sysconfig.get_paths()["purelib"]
seen = []
original = smtplib.SMTP.sendmail
def sendmail(self, *args, **kwargs):
    if not seen:
        seen.extend(n for n, m in list(sys.modules.items())
                    if site in (getattr(m, "__file__", None) or "")
                    and not n.startswith("__editable__"))
    return original(self, *args, **kwargs)
smtplib.SMTP.sendmail = sendmail
from harbour.cli import main
sys.argv = ["harbour", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("\\n" + "\\n".join(seen))
"""


def _loaded_at_send(
    app: App, env: dict[str, str], answers: Path, smtp: SmtpServer
) -> tuple[str, ...]:
    """The third-party modules `harbour assess` has loaded when it sends its imminent alert."""
    seen = len(_alerts(smtp))
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_AT_SEND, *_assess_argv(app, answers)[3:]],
        env=env,
        cwd=app.settings.home,
        capture_output=True,
        text=True,
        check=True,
    )
    if len(_alerts(smtp)) == seen:
        raise RuntimeError("the alert was not sent: no modules to note")
    return tuple(done.stdout.rsplit("\n\n", 1)[-1].split())


def _assess_argv(app: App, answers: Path) -> list[str]:
    """`harbour assess` of an imminent threat on a new case (its referral's steps done)."""
    case_id = _referral(app)
    pipeline.process_pending(app)  # the referral's own steps, as `harbour refer` would have run
    reference = _reference(app, case_id)
    return [sys.executable, "-m", "harbour", "assess", reference, "--point", "initial_contact",
            "--answers", str(answers), "--as", "cw1"]  # fmt: skip


def _alert_once(app: App, env: dict[str, str], answers: Path, smtp: SmtpServer) -> AlertTimes:
    """Start `harbour assess` on a new case; note when the alert arrives and when it exits."""
    command = _assess_argv(app, answers)
    seen = len(_alerts(smtp))
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    arrived = returned = None
    while arrived is None or returned is None:
        if returned is None and process.poll() is not None:
            returned = time.perf_counter() - started
        if arrived is None and len(_alerts(smtp)) > seen:
            arrived = time.perf_counter() - started
        if time.perf_counter() - started > 60:
            process.kill()
            raise TimeoutError("no alert within a minute")
        time.sleep(0.002)
    _, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"harbour assess failed: {errors.decode()[-2000:]}")
    return AlertTimes(arrived, returned)


def _alerts(smtp: SmtpServer) -> list[Mail]:
    return [m for m in smtp.to(SUP) if "acknowledge" in m.subject.lower()]


def _reference(app: App, case_id: str) -> str:
    return app.run(lambda uow: uow.session.get_one(Case, case_id).reference)


def _referral(app: App) -> str:
    data = {"youth": {"name": "Bench Youth"}, "situation": "just_left", "caseworker": "cw1"}
    return refer(app, "coord", data, None, allow_duplicate=True).id


def _safest(app: App, **changed: str) -> dict[str, Any]:
    questions = app.reference.instrument.questions.values()
    return {q.id: q.answers()[0] for q in questions if q.type != "text"} | changed
