"""The journal's part of the config and journal errors: what the fault campaign found crashing with a traceback.

A read-only data dir, a garbage or truncated journal file, a zero-byte journal: `kiosk simulate`,
`kiosk report` and `kiosk status` (real subprocesses) answer with a clear English error and exit
2, never a traceback, and never change the file (nothing confirmed is lost). Two processes
opening a new journal at once both succeed ("database is locked" at schema creation)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from kiosk.wire.journal import Journal, JournalError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_LINES = [
    {"at": "2026-11-23T08:00:00+01:00", "cmd": "login", "operator": "ANNA"},
    {"at": "2026-11-23T08:01:00+01:00", "cmd": "sort", "pile": "faktura"},
    {"at": "2026-11-23T08:02:00+01:00", "cmd": "sort", "pile": "dodsbo"},
]


def kiosk(*args: str, user: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "kiosk", *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=str(ROOT), env=full_env)


def script(folder: Path) -> Path:
    path = folder / "day.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in SCRIPT_LINES), encoding="utf-8")
    return path


def config(folder: Path, data_dir: Path) -> Path:
    path = folder / "kiosk.toml"
    path.write_text(f'[kiosk]\nsite = "demo"\nid = "kiosk-1"\ndata_dir = "{data_dir}"\n'
                    "[mqtt]\nenabled = false\n", encoding="utf-8")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_clear_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def a_journal(folder: Path, events: int = 400) -> Path:
    path = folder / "journal.db"
    j = Journal(path, "demo", "kiosk-1")
    import datetime as dt

    from kiosk.core.clock import TZ

    at = dt.datetime(2026, 11, 23, 8, tzinfo=TZ)
    for i in range(events // 20):
        j.append([("sorted", {"pile": "faktura"})] * 20, at, at.date(), "ANNA")
    j.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    j.close()
    return path


# -- damaged files ------------------------------------------------------------------------------------
def damaged(kind: str, folder: Path) -> Path:
    if kind == "garbage":
        path = folder / "journal.db"
        path.write_bytes(os.urandom(3000))
    elif kind == "text":
        path = folder / "journal.db"
        path.write_text("this is not a journal\n" * 50)
    elif kind == "truncated":
        path = a_journal(folder)
        size = path.stat().st_size
        with open(path, "r+b") as fh:
            fh.truncate(size // 2)
    else:  # a header with a garbage body
        path = a_journal(folder)
        with open(path, "r+b") as fh:
            fh.seek(4096)
            fh.write(os.urandom(path.stat().st_size - 4096))
    return path


@pytest.mark.parametrize("kind", ["garbage", "text", "truncated", "scribbled"])
def test_a_damaged_journal_is_a_clear_error_and_is_left_as_it_was(tmp_path, kind):
    path = damaged(kind, tmp_path)
    before = digest(path)
    cfg = config(tmp_path, tmp_path)
    for args in (("simulate", str(script(tmp_path)), "--db", str(path), "--out", str(tmp_path / "out")),
                 ("report", "--db", str(path)),
                 ("status", "--db", str(path))):
        done = kiosk("--config", str(cfg), *args)
        assert_clear_error(done, str(path))
        assert "damaged" in done.stderr or "not a kiosk journal" in done.stderr, done.stderr
        assert digest(path) == before, args  # never repaired, truncated or overwritten
    with pytest.raises(JournalError) as exc:
        Journal(path, "demo", "kiosk-1")
    assert "Journalen" in exc.value.screen and "Kontakta tekniker" in exc.value.screen  # Swedish, for the screen


def test_a_zero_byte_journal_starts_a_new_journal_and_report_says_it_is_empty(tmp_path):
    path = tmp_path / "journal.db"
    path.write_bytes(b"")
    cfg = config(tmp_path, tmp_path)
    done = kiosk("--config", str(cfg), "report", "--db", str(path))
    assert_clear_error(done, "empty")
    done = kiosk("--config", str(cfg), "simulate", str(script(tmp_path)), "--db", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert "empty file" in done.stderr  # logged
    j = Journal(path, "demo", "kiosk-1")
    assert j.last_seq == 3 and j.journal_id
    j.close()
    status = kiosk("--config", str(cfg), "status", "--db", str(path))
    assert status.returncode == 0 and json.loads(status.stdout)["last_seq"] == 3


# -- a read-only data dir ---------------------------------------------------------------------------
@pytest.fixture
def readonly_dir():
    """A folder the kiosk's process may read but not write: as root, the child runs as nobody."""
    base = Path(tempfile.mkdtemp(prefix="kiosk-ro-"))
    os.chmod(base, 0o755)
    data = base / "data"
    data.mkdir()
    user = None
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv is needed to drop root for a read-only directory")
        user = "65534"  # nobody
    yield base, data, user
    os.chmod(data, 0o755)
    shutil.rmtree(base, ignore_errors=True)


def test_a_read_only_data_dir_is_a_clear_error(readonly_dir):
    base, data, user = readonly_dir
    existing = a_journal(data, events=40)
    os.chmod(existing, 0o644)
    os.chmod(data, 0o555)
    before = digest(existing)
    cfg = config(base, data)
    os.chmod(cfg, 0o644)
    script_path = script(base)
    os.chmod(script_path, 0o644)
    out = base / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    env = {"HOME": str(out)}
    new = data / "new.db"
    for args, path in ((("simulate", str(script_path), "--db", str(new), "--out", str(out)), new),
                       (("simulate", str(script_path), "--db", str(existing), "--out", str(out)), existing),
                       (("status", "--db", str(existing)), existing)):
        done = kiosk("--config", str(cfg), *args, user=user, env=env)
        assert_clear_error(done, str(path))
        assert "cannot write" in done.stderr and "writable" in done.stderr, done.stderr
    assert not new.exists() and digest(existing) == before
    report = kiosk("--config", str(cfg), "report", "--db", str(existing), user=user, env=env)
    assert "Traceback" not in report.stderr
    assert report.returncode == 0 or "journal" in report.stderr
    if user is None:  # the same refusal in-process, with the screen's text
        with pytest.raises(JournalError) as exc:
            Journal(new, "demo", "kiosk-1")
        assert "skrivskyddad" in exc.value.screen


# -- two processes open a new journal at once -----------------------------------------------------------
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from kiosk.wire.journal import Journal
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    j = Journal(sys.argv[1], "demo", "kiosk-1")
    print(j.journal_id)
    j.close()
""")


def test_processes_opening_a_new_journal_at_once_all_succeed(tmp_path):
    for round_ in range(4):
        path, go = tmp_path / f"j{round_}.db", tmp_path / f"go{round_}"
        children = [subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(go), str(ROOT)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for _ in range(6)]
        time.sleep(1.0)  # let every child import and wait at the start line (its speed does not matter)
        go.touch()
        results = [c.communicate(timeout=120) for c in children]
        codes = [c.returncode for c in children]
        assert codes == [0] * len(children), [err for _, err in results]
        ids = {out.strip() for out, _ in results}
        assert len(ids) == 1  # one journal, one id
        j = Journal(path, "demo", "kiosk-1")
        assert j.journal_id in ids and j.last_seq == 0
        j.close()


def test_the_screen_text_for_each_kind_of_failure_is_swedish(tmp_path):
    import sqlite3

    path = tmp_path / "journal.db"
    cases = {PermissionError(13, "Permission denied"): "skrivskyddad",
             sqlite3.OperationalError("attempt to write a readonly database"): "skrivskyddad",
             sqlite3.DatabaseError("file is not a database"): "skadad",
             sqlite3.DatabaseError("database disk image is malformed"): "skadad",
             sqlite3.OperationalError("database or disk is full"): "full",
             sqlite3.OperationalError("disk I/O error"): "kan inte öppnas"}
    for exc, word in cases.items():
        err = JournalError.from_exception(path, exc)
        assert word in err.screen and "Kontakta tekniker" in err.screen, (exc, err.screen)
        assert str(path) in str(err)
