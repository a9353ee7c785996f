"""``harbour demo``: five fictional youth through 27 simulated weeks of Harbour on this machine.

A fresh SQLite store under ``home``, a mail server and a chat receiver on 127.0.0.1 that every
notification really reaches through Apprise, the lifecycle's background work run inline or as
Prefect flow runs against a temporary local server, then the output folder, the summary and a
self-check that no delivered message identifies a youth.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harbour.admin.init import init
from harbour.admin.staffing import add_staff
from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.base import ids_from
from harbour.demo import cast, leaks, output, summary
from harbour.demo.failure import DemoFailure
from harbour.demo.inbox import Inbox
from harbour.demo.orchestrator import Inline, Orchestrator
from harbour.demo.receivers import RouteBook, smtp_server, webhook_receiver
from harbour.demo.seeded import seeded_ids, seeded_references
from harbour.demo.story import DAYS, START, Story
from harbour.domain.vocab import OutboxStatus
from harbour.errors import ConfigError
from harbour.settings import Settings
from harbour.shipped import shipped_templates

MARKER = ".harbour-demo"  # a folder holding this was made by the demo: --reset may empty it
DEFAULT_SEED = 2026
ORCHESTRATIONS = ("inline", "prefect")


@dataclass(frozen=True)
class Options:
    home: Path = Path("var/demo")
    output: Path = Path("demo-output")
    seed: int = DEFAULT_SEED
    orchestration: str = "prefect"
    reset: bool = False
    days: int = DAYS


def run_demo(options: Options, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the whole demo; its summary. Raises DemoFailure if a check fails (a leak above all)."""
    if options.orchestration not in ORCHESTRATIONS:
        raise ConfigError("bad_option", "--orchestration: inline or prefect")
    progress: list[str] = []

    def tell(line: str) -> None:
        progress.append(line)
        say(line)

    _prepare(options)
    with ids_from(seeded_ids(options.seed)), smtp_server() as smtp, webhook_receiver() as receiver:
        book = _routes(RouteBook(options.home / "apprise.yaml", smtp, receiver))
        clock = FixedClock(Story.at(0, "08:00"))
        app = App(_settings(options, book.path), clock, references=seeded_references(options.seed))
        try:
            _agency(app)
            tell(
                f"agency {cast.AGENCY}: coordinator {cast.COORDINATOR}, caseworkers "
                f"{' and '.join(cast.CASEWORKERS)}, supervisor {cast.SUPERVISOR}, admin "
                f"{cast.ADMIN}; on-call chat route {cast.ON_CALL}/{cast.AGENCY}; a mail server "
                "and a chat receiver on 127.0.0.1 receive every notification through Apprise"
            )
            inbox = Inbox(smtp, receiver)
            with _orchestrator(options, app, tell) as orchestrator:
                story = Story(app, clock, orchestrator, inbox, tell, days=options.days)
                story.run()
                runs = dict(sorted(getattr(orchestrator, "runs", {}).items()))
            result = _finish(app, options, story, inbox, runs, progress)
        finally:
            app.dispose()
    return result


def _finish(
    app: App,
    options: Options,
    story: Story,
    inbox: Inbox,
    runs: dict[str, int],
    progress: list[str],
) -> dict[str, Any]:
    out = options.output
    documents, diffs = output.write_plans(app, out / "plans", story.cases)
    output.write_messages(out / "messages", inbox.messages)
    found = summary.summarize(app, story.cases, inbox.messages)
    _check_delivery(found)
    found_leaks = leaks.find_leaks(inbox.messages, cast.YOUTH)
    prefect_home = options.home / "prefect"
    in_prefect = leaks.find_in_files(prefect_home, cast.YOUTH) if runs else []
    found = {
        "seed": options.seed,
        "orchestration": options.orchestration,
        "simulated": {
            "from": START.isoformat(),
            "to": story.end.astimezone(app.settings.zone).date().isoformat(),
            "days": options.days,
            "zone": cast.ZONE,
        },
        **found,
        "run": {
            "sweeps": story.counts["sweeps"],
            "plan_documents_written": documents,
            "plan_diffs_written": diffs,
            **({"prefect_flow_runs": runs} if runs else {}),
        },
        "leak_check": {
            "messages": len(inbox.messages),
            "values": leaks.needle_count(cast.YOUTH),
            "leaks": len(found_leaks),
            **({"prefect_home_searched": True, "prefect_leaks": len(in_prefect)} if runs else {}),
        },
        "output": {
            "summary.txt, .json": "this summary",
            "progress.log": "one line per step, with its simulated time",
            "plans/": "<case>-<youth>/v<N>/{staff,youth,family}.{html,txt} as stored",
            "plans/*/diffs/": "v<N-1>-v<N>-<point>.{txt,html}: what each meeting changed",
            "messages/": "every email and chat post as received; index.tsv lists them",
        },
    }
    (out / "progress.log").write_text("\n".join(progress) + "\n", encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    (out / "summary.txt").write_text(summary.as_text(found), encoding="utf-8")
    if in_prefect:
        shown = ", ".join(f"{file} ({youth} {field})" for file, youth, field in in_prefect[:10])
        raise DemoFailure("leak", f"identifying data in Prefect's home: {shown}")
    if found_leaks:
        shown = ", ".join(f"message {k.message} ({k.youth} {k.field})" for k in found_leaks[:10])
        raise DemoFailure("leak", f"identifying data in delivered messages: {shown}")
    return found


def _check_delivery(found: dict[str, Any]) -> None:
    notes = found["notifications"]
    sent = {ch: sum(kinds.values()) for ch, kinds in notes["delivered_by_channel_and_kind"].items()}
    # Bundled pages are records an escalation digest carried, never sent themselves.
    settled = set(notes["by_status"]) - {OutboxStatus.BUNDLED.value}
    if sent != notes["received_by_local_servers"] or settled != {"sent"}:
        raise DemoFailure("delivery", "the outbox and the local servers disagree")


# -- set-up ---------------------------------------------------------------------------------------


def _prepare(options: Options) -> None:
    for folder in (options.home, options.output):
        if folder.exists() and any(folder.iterdir()):
            if not options.reset:
                raise ConfigError("demo_exists", f"{folder} is not empty: run with --reset")
            if not (folder / MARKER).exists():
                raise ConfigError("not_a_demo_folder", f"{folder} was not made by the demo")
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).write_text("made by `harbour demo`; --reset deletes this folder\n")


def _settings(options: Options, routes: Path) -> Settings:
    """The embedded default, whatever HARBOUR_* says: the demo never touches a real store."""
    return Settings(
        home=options.home / "store",
        database_url=None,
        key_file=None,
        encryption_keys=None,
        timezone=cast.ZONE,
        base_url="http://localhost:8080",
        apprise_config=routes,
        policy_file=None,
        catalogue_file=None,
        instrument_file=None,
        resources_file=None,
        actor=None,
        orchestration=options.orchestration,  # type: ignore[arg-type]
        templates_dir=shipped_templates(),
        frozen_time=None,
    )


def _routes(book: RouteBook) -> RouteBook:
    """Email for every member of staff; chat for the supervisor and the on-call route."""
    for handle in (cast.ADMIN, cast.COORDINATOR, *cast.CASEWORKERS, cast.SUPERVISOR):
        book.email(handle)
    book.chat(cast.SUPERVISOR)
    book.chat(cast.ON_CALL, cast.AGENCY)
    return book


def _agency(app: App) -> None:
    init(app, cast.AGENCY, cast.ADMIN)
    for handle, role in cast.STAFF:
        add_staff(app, cast.ADMIN, handle=handle, agency=cast.AGENCY, role=role)


def _orchestrator(
    options: Options, app: App, tell: Callable[[str], None]
) -> AbstractContextManager[Orchestrator]:
    if options.orchestration == "inline":
        tell("orchestration: inline (Harbour's embedded pipeline, no Prefect)")
        return nullcontext(Inline())
    return _prefect(options, app, tell)


@contextmanager
def _prefect(options: Options, app: App, tell: Callable[[str], None]) -> Iterator[Orchestrator]:
    # Before Prefect is first imported: its home in the demo folder, and its logs off the
    # console (the progress lines name each flow run instead).
    client_home = (options.home / "prefect" / "client").resolve()
    client_home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(client_home)
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    from harbour.demo.prefect_runs import prefect_runs

    tell("orchestration: prefect; starting a temporary local Prefect server ...")
    with prefect_runs(app, (options.home / "prefect").resolve()) as runs:
        tell("Prefect server up; lifecycle work runs as flow runs in this process")
        yield runs
