"""Keys: rotation that survives a kill, reads that never fail during one, and clear key errors."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from harbour.admin.keys import rotate, stale_count
from harbour.app import App
from harbour.cases import intake
from harbour.crypto import Keyring, key_check_value
from harbour.db import storekeys
from harbour.db.models import Person
from harbour.errors import CryptoError
from harbour.settings import Settings
from tests.db.helpers import row_counts, sealed_snapshot
from tests.support import invoke, referral

CASES = 40


def _fill(app: App, cases: int = CASES) -> dict[tuple[str, str, str], str]:
    for i in range(cases):
        intake.refer(app, "coord", referral(f"Kr{i}-"), None)
    return sealed_snapshot(app)


def _fresh(app: App, **changes: object) -> App:
    """Another process's view of the same store: keys read from their source anew."""
    return App(app.settings.model_copy(update=changes), app.clock)


def _primary(app: App) -> int:
    """The primary key version in the key file now."""
    return Keyring.load(app.settings.resolved_key_file).primary


def _rotate_env(app: App, batch: int = 1) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBOUR_")}
    env |= {
        "HARBOUR_HOME": str(app.settings.home),
        "HARBOUR_DATABASE_URL": app.settings.resolved_database_url,
        "HARBOUR_KEY_FILE": str(app.settings.resolved_key_file),
        "HARBOUR_KEY_ROTATION_BATCH": str(batch),
        "HARBOUR_ACTOR": "adm",
    }
    return env


def _start_rotation(app: App) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "harbour", "keys", "rotate"]
    return subprocess.Popen(
        command, env=_rotate_env(app), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _kill_at_random(app: App, rng: random.Random) -> None:
    """Start `harbour keys rotate` and SIGKILL it at any moment: start-up, key save, a batch."""
    process = _start_rotation(app)
    threading.Event().wait(rng.uniform(0.1, 1.5))
    process.send_signal(signal.SIGKILL)
    process.communicate()


def _kill_mid_rotation(app: App, rng: random.Random) -> None:
    """Start `harbour keys rotate`, let it re-encrypt a little, then SIGKILL it."""
    process = _start_rotation(app)
    assert process.stderr is not None
    line = process.stderr.readline()  # the first progress line: values are moving
    assert line.startswith("re-encrypting: "), line
    threading.Event().wait(rng.uniform(0.0, 0.1))  # one row a batch: far from done by then
    process.send_signal(signal.SIGKILL)
    process.communicate()


def _finish_rotation(app: App) -> None:
    """If the random kill left a rotation unfinished, finish it (a rerun resumes it)."""
    if stale_count(_fresh(app)):
        finished = subprocess.run(
            [sys.executable, "-m", "harbour", "keys", "rotate"],
            env=_rotate_env(app, batch=500),
            capture_output=True,
            text=True,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr


def _read_continuously(app: App, stop: threading.Event, seen: list[object]) -> None:
    # A read every 0.2 s: each opens every sealed value of the store (tens of milliseconds of
    # CPU), so at 0.05 s the reader took most of a core for as long as the rotations ran (7 s
    # of CPU under load). Each rotation with one row a batch still lasts several reads.
    while not stop.wait(0.2):
        try:
            seen.append(sealed_snapshot(app))
        except Exception as exc:
            seen.append(exc)


@pytest.mark.slow  # three `harbour keys rotate` processes, and a reader all along
def test_rotation_killed_then_resumed_keeps_every_value_readable(seeded: App) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    before = _fill(seeded)
    reader = _fresh(seeded)  # holds only key 1: must pick up key 2 when it meets it
    stop, seen = threading.Event(), []  # type: list[object]
    thread = threading.Thread(target=_read_continuously, args=(reader, stop, seen))
    thread.start()
    try:
        _kill_at_random(seeded, rng)
        assert sealed_snapshot(_fresh(seeded)) == before, seed
        _finish_rotation(seeded)  # so the next kill lands in a rotation with every value to move
        _kill_mid_rotation(seeded, rng)
        killed = _fresh(seeded)
        # The kill landed mid-rotation: of the values and of each case's blind index.
        assert 0 < stale_count(killed) < len(before) + CASES, seed
        assert sealed_snapshot(killed) == before, seed
        resumed = subprocess.run(
            [sys.executable, "-m", "harbour", "keys", "rotate", "--json"],
            env=_rotate_env(seeded, batch=500),
            capture_output=True,
            text=True,
        )
    finally:
        stop.set()
        thread.join()
        reader.dispose()
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["primary_key"] == killed.cipher.primary  # no new key
    done = _fresh(seeded)
    assert (stale_count(done), sealed_snapshot(done)) == (0, before)
    assert seen and all(s == before for s in seen), [s for s in seen if s != before][:1]


def test_rotation_failing_after_some_batches_resumes(seeded: App) -> None:
    before = _fill(seeded, 10)
    seeded.settings = seeded.settings.model_copy(update={"key_rotation_batch": 3})
    batches = []

    def crash_after_three(done: int, total: int) -> None:
        batches.append(done)
        if len(batches) == 3:
            raise KeyboardInterrupt

    first = _primary(seeded)
    with pytest.raises(KeyboardInterrupt):
        rotate(seeded, crash_after_three)
    second = _primary(seeded)
    assert sealed_snapshot(_fresh(seeded)) == before
    assert stale_count(_fresh(seeded)) > 0
    assert rotate(seeded)[0] == second != first
    assert stale_count(_fresh(seeded)) == 0
    third = rotate(seeded)[0]  # nothing left to resume: a new rotation
    assert third == _primary(seeded) not in (first, second)
    assert sealed_snapshot(_fresh(seeded)) == before


def test_rotate_cli_shows_progress_and_is_audited(seeded: App) -> None:
    _fill(seeded, 3)
    result = invoke(seeded, "keys", "rotate", "--as", "adm")
    assert result.exit_code == 0, result.stderr
    assert "re-encrypting: " in result.stderr and f"version {_primary(seeded)}" in result.stdout
    quiet = invoke(seeded, "keys", "rotate", "--as", "adm", "--json")
    assert quiet.stderr == "" and quiet.json()["primary_key"] == _primary(seeded)
    denied = invoke(seeded, "keys", "rotate", "--as", "sup")
    assert denied.exit_code == 1 and "not_permitted" in denied.stderr


def test_wrong_key_is_a_clear_error_never_garbage(seeded: App, tmp_path: Path) -> None:
    ref = intake.refer(seeded, "coord", referral("Wk"), None).reference
    other = tmp_path / "other-keys.json"
    Keyring.generate().save(other)
    wrong = _fresh(seeded, key_file=other)
    result = invoke(wrong, "case", "show", ref, "--as", "cw1")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: wrong_keyring: ") and "none of" in result.stderr
    assert "restore the store's keyring from its backup" in result.stderr
    assert result.stdout == ""
    missing = invoke(
        _fresh(seeded, key_file=tmp_path / "nope.json"), "case", "show", ref, "--as", "cw1"
    )
    assert missing.exit_code == 1 and missing.stderr.startswith("error: key_missing: ")
    assert "restore it from the keyring backup" in missing.stderr
    assert "harbour init" not in missing.stderr


def test_a_value_opens_only_in_its_own_row_and_field(seeded: App) -> None:
    intake.refer(seeded, "coord", referral("Sw"), None)

    def swap(uow: object) -> None:
        session = uow.session  # type: ignore[attr-defined]
        youth, aunt = session.scalars(select(Person).order_by(Person.position)).all()[:2]
        session.execute(
            update(Person).where(Person.id == aunt.id).values(name_sealed=youth.name_sealed)
        )
        session.execute(
            update(Person).where(Person.id == youth.id).values(phone_sealed=youth.name_sealed)
        )

    seeded.run(swap)
    with pytest.raises(CryptoError) as raised:
        sealed_snapshot(seeded)
    assert raised.value.code == "decrypt_failed"


def test_a_token_relabelled_to_another_key_version_fails(seeded: App) -> None:
    intake.refer(seeded, "coord", referral("Rl"), None)
    rotate(seeded)
    token = seeded.run(lambda uow: uow.session.scalars(select(Person)).first().name_sealed)
    first, second = sorted(seeded.cipher.keyring.keys, key=lambda v: v == _primary(seeded))
    relabelled = token.replace(f"hb1:{second}:", f"hb1:{first}:", 1)
    assert relabelled != token
    seeded.run(
        lambda uow: uow.session.execute(
            update(Person).where(Person.name_sealed == token).values(name_sealed=relabelled)
        )
    )
    with pytest.raises(CryptoError):
        sealed_snapshot(_fresh(seeded))


def test_keys_from_the_environment(seeded: App) -> None:
    before = _fill(seeded, 2)
    keyring = Keyring.load(seeded.settings.resolved_key_file)
    in_env = _fresh(seeded, encryption_keys=SecretStr(keyring.to_json()), key_file=None)
    refused = invoke(in_env, "keys", "rotate", "--as", "adm")
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: keys_from_environment: ")
    assert "HARBOUR_ENCRYPTION_KEYS" in refused.stderr and keyring.to_json() not in refused.stderr
    assert Keyring.load(seeded.settings.resolved_key_file) == keyring  # no file was touched
    added = keyring.with_new_key()  # the operator adds a key there and makes it primary
    moved = invoke(
        _fresh(seeded, encryption_keys=SecretStr(added.to_json())), "keys", "rotate", "--as", "adm"
    )
    assert moved.exit_code == 0, moved.stderr
    after = _fresh(seeded, encryption_keys=SecretStr(added.to_json()))
    assert (stale_count(after), sealed_snapshot(after)) == (0, before)


def test_one_rotation_at_a_time(seeded: App) -> None:
    key_file = seeded.settings.resolved_key_file
    before = Keyring.load(key_file)
    with open(key_file.with_name(key_file.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = invoke(seeded, "keys", "rotate", "--as", "adm")
    assert result.exit_code == 1 and "rotation_running" in result.stderr
    assert Keyring.load(key_file) == before


def test_init_makes_a_private_keyring_once(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    app = App(Settings(home=home))
    try:
        first = invoke(app, "init", "--agency", "north", "--admin", "adm", "--json")
        again = invoke(app, "init", "--agency", "north", "--admin", "adm", "--json")
    finally:
        app.dispose()
    assert (first.exit_code, again.exit_code) == (0, 0), first.stderr + again.stderr
    assert (first.json()["keys_created"], again.json()["keys_created"]) == (True, False)
    assert (home / "keys.json").stat().st_mode & 0o777 == 0o600
    assert home.stat().st_mode & 0o777 == 0o700
    assert len(Keyring.load(home / "keys.json").keys) == 1


def test_a_key_file_open_to_group_or_others_is_refused(seeded: App) -> None:
    ref = intake.refer(seeded, "coord", referral("Km"), None).reference
    key_file = seeded.settings.resolved_key_file
    key_file.chmod(0o640)
    result = invoke(_fresh(seeded), "case", "show", ref, "--as", "cw1")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: key_file_exposed: ")
    assert "mode 0640" in result.stderr and f"chmod 600 {key_file}" in result.stderr
    key_file.chmod(0o600)
    assert invoke(_fresh(seeded), "case", "show", ref, "--as", "cw1").exit_code == 0


def test_init_makes_an_existing_open_home_owner_only_and_says_so(tmp_path: Path) -> None:
    home = tmp_path / "trial"
    home.mkdir(mode=0o755)  # what `mkdir -p $HARBOUR_HOME` makes
    home.chmod(0o755)
    app = App(Settings(home=home))
    try:
        result = invoke(app, "init", "--agency", "north", "--admin", "adm")
        again = invoke(app, "init", "--agency", "north", "--admin", "adm")
    finally:
        app.dispose()
    assert result.exit_code == 0, result.stderr
    assert home.stat().st_mode & 0o777 == 0o700
    assert f"{home} had mode 0755" in result.stderr and "made it 0700" in result.stderr
    assert again.exit_code == 0 and "mode" not in again.stderr


def _store_keys(app: App) -> list[tuple[int, str]]:
    rows = app.run(lambda uow: storekeys.recorded(uow.session))
    return [(row.key_id, row.check_value) for row in rows]


def test_the_store_records_check_values_never_keys(seeded: App) -> None:
    intake.refer(seeded, "coord", referral("Fp"), None)
    keyring = Keyring.load(seeded.settings.resolved_key_file)
    recorded = _store_keys(seeded)
    assert recorded == [(keyring.primary, key_check_value(keyring.keys[keyring.primary]))]
    key = keyring.keys[keyring.primary]
    assert all(form not in recorded[0][1] for form in (key.hex(), base64.b64encode(key).decode()))
    rotate(seeded)
    rotated = Keyring.load(seeded.settings.resolved_key_file)
    assert _store_keys(seeded) == [
        *recorded,
        (rotated.primary, rotated.check_values()[rotated.primary]),
    ]


def test_key_ids_are_random_not_a_counter() -> None:
    made = [Keyring.generate() for _ in range(8)]
    assert len({keyring.primary for keyring in made}) > 1
    grown = made[0].with_new_key().with_new_key()
    assert len(grown.keys) == 3 and sorted(grown.keys) != [1, 2, 3]


def test_another_stores_keyring_neither_writes_nor_reads(seeded: App, tmp_path: Path) -> None:
    ref = intake.refer(seeded, "coord", referral("Os"), None).reference
    other = tmp_path / "other-keys.json"
    Keyring.generate().save(other)
    before = row_counts(seeded)
    # A supervisor's read unseals (a coordinator's summary of an assigned case would not).
    for command, actor in (
        (("refer", "--file", str(_referral_file(tmp_path))), "coord"),
        (("case", "show", ref), "sup"),
    ):
        result = invoke(_fresh(seeded, key_file=other), *command, "--as", actor)
        assert result.exit_code == 1 and result.stderr.startswith("error: wrong_keyring: ")
    assert row_counts(seeded) == before


def test_a_keyring_from_before_the_last_rotation_cannot_write(seeded: App, tmp_path: Path) -> None:
    intake.refer(seeded, "coord", referral("Ol"), None)
    backup = tmp_path / "old-keys.json"
    Keyring.load(seeded.settings.resolved_key_file).save(backup)
    rotate(seeded)
    before = row_counts(seeded)
    result = invoke(
        _fresh(seeded, key_file=backup),
        "refer",
        "--file",
        str(_referral_file(tmp_path)),
        "--as",
        "coord",
    )
    assert result.exit_code == 1 and result.stderr.startswith("error: wrong_keyring: ")
    assert "primary key" in result.stderr and row_counts(seeded) == before


def test_keys_status_with_a_keyring_not_the_stores_refuses_rather_than_misreport(
    seeded: App, tmp_path: Path
) -> None:
    """`keys status` named the keyring's primary as the store's and counted every value as
    "still under an older key: run `harbour keys rotate` to finish", which then refused: a key
    file from another store, or from before the last rotation, is wrong_keyring here too."""
    intake.refer(seeded, "coord", referral("Ks"), None)
    other = tmp_path / "other-keys.json"
    Keyring.generate().save(other)
    backup = tmp_path / "old-keys.json"
    Keyring.load(seeded.settings.resolved_key_file).save(backup)
    rotate(seeded)
    for keys in (other, backup):
        result = invoke(_fresh(seeded, key_file=keys), "keys", "status", "--as", "adm")
        assert result.exit_code == 1, (keys.name, result)
        assert result.stderr.startswith("error: wrong_keyring: "), (keys.name, result)
        assert "keys rotate" not in result.stdout
    assert invoke(seeded, "keys", "status", "--as", "adm").exit_code == 0


def test_a_process_started_before_a_rotation_seals_under_the_new_key(seeded: App) -> None:
    writer = _fresh(seeded)  # `harbour web`, say: started, and has written, before the rotation
    intake.refer(writer, "coord", referral("Early"), None)
    first = writer.cipher.primary
    primary, _ = rotate(seeded)
    assert primary != first
    intake.refer(writer, "coord", referral("Later"), None)
    assert writer.cipher.primary == primary
    assert stale_count(_fresh(seeded)) == 0  # the old key may be retired: nothing needs it


def test_values_sealed_under_the_old_key_during_a_rotation_are_moved_too(seeded: App) -> None:
    _fill(seeded, 3)
    # A process that asked the store for its primary just before the rotation recorded a new
    # one: it seals under the old key until it asks again.
    writer = _fresh(seeded, key_recheck_seconds=60)
    intake.refer(writer, "coord", referral("Before"), None)
    old = writer.cipher.primary
    written: list[int] = []

    def write_meanwhile(done: int, total: int) -> None:
        if done == total and not written:  # behind every table's pass
            intake.refer(writer, "coord", referral("During"), None)
            written.append(writer.cipher.primary)

    rotate(seeded, write_meanwhile)
    assert written == [old]
    after = _fresh(seeded)
    assert stale_count(after) == 0
    assert "During" in str(sealed_snapshot(after).values())


def test_a_value_sealed_under_the_old_key_and_committed_late_is_moved_too(seeded: App) -> None:
    """A writer's transaction that sealed under the old key before its process moved on, and
    commits only after the rotation's passes: PostgreSQL's last count would not see it."""
    if seeded.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's count takes the write lock, after any writer")
    _fill(seeded, 2)
    person, old_token = seeded.run(
        lambda uow: uow.session.execute(select(Person.id, Person.name_sealed).limit(1)).one()
    )
    late = seeded.engine.connect()
    late.execute(select(Person.id).limit(1))  # its transaction begins before the rotation ends
    rotation = threading.Thread(target=rotate, args=(seeded,))
    rotation.start()
    try:
        rotation.join(timeout=1.0)  # the rotation's passes are done; it waits for this one
        late.execute(update(Person).where(Person.id == person).values(name_sealed=old_token))
        late.commit()
    finally:
        late.close()
        rotation.join()
    assert stale_count(_fresh(seeded)) == 0


def test_init_on_an_existing_store_never_makes_keys(tmp_path: Path) -> None:
    home = tmp_path / "store"
    app = App(Settings(home=home))
    key_file = home / "keys.json"
    try:
        assert invoke(app, "init", "--agency", "north", "--admin", "adm").exit_code == 0
        keys = key_file.read_bytes()
        key_file.rename(tmp_path / "moved.json")
        again = invoke(App(Settings(home=home)), "init", "--agency", "north", "--admin", "adm")
        assert again.exit_code == 1 and again.stderr.startswith("error: key_missing: ")
        assert "restore it from the keyring backup" in again.stderr
        assert not key_file.exists()
        (tmp_path / "moved.json").rename(key_file)
        restored = invoke(App(Settings(home=home)), "init", "--agency", "north", "--admin", "adm")
        assert restored.exit_code == 0, restored.stderr
        assert key_file.read_bytes() == keys
    finally:
        app.dispose()


def _referral_file(folder: Path) -> Path:
    path = folder / "referral.json"
    path.write_text(json.dumps(referral("Kn")))
    return path


def test_a_rotation_writes_through_a_key_file_that_is_a_link(seeded: App, tmp_path: Path) -> None:
    """HARBOUR_KEY_FILE may be a link to where the keyring is kept (and backed up from): the
    new key lands there, not in a file put where the link was, with the old keyring left
    behind where the operator keeps it."""
    kept = tmp_path / "vault" / "keys.json"
    kept.parent.mkdir(mode=0o700)
    kept.write_bytes(seeded.settings.resolved_key_file.read_bytes())
    kept.chmod(0o600)
    link = tmp_path / "linked-keys.json"
    link.symlink_to(kept)
    linked = _fresh(seeded, key_file=link)
    _fill(linked, 1)
    result = invoke(linked, "keys", "rotate", "--as", "adm")
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and link.resolve() == kept
    assert (
        Keyring.load(kept).primary
        == _primary(linked)
        != Keyring.load(seeded.settings.resolved_key_file).primary
    )
    assert kept.stat().st_mode & 0o777 == 0o600
