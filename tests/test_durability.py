"""Durability: a kill -9 at any point loses nothing confirmed and never double-counts; a full disk
records nothing and says so."""

import dataclasses
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.core import routine
from kiosk.core.clock import FixedClock
from kiosk.core.config import load
from kiosk.shelf.controller import Controller, context_from
from kiosk.wire.journal import Journal

from .command_stream import stream
from .routine_harness import PureDay

ROOT = Path(__file__).resolve().parent.parent


def comparable(state):
    """The state without its alerts' event ids (random in the journal, counted in the model)."""
    from dataclasses import replace

    return replace(state, alerts=tuple({**a, "id": None} for a in state.alerts))


def controller_model() -> PureDay:
    """The pure model of the child's controller: no printer answers (the child has none, so its
    labels and slips stay queued), and the codes of earlier days known as the controller learns
    them from its journal (`seen_before`)."""
    day = PureDay(context_from(load(None)))
    day.printer_takes = None
    day.learn_codes = True
    return day


def model_states(commands) -> list:
    """full[i]: the pure model's whole state (not just the summary: the current pile and the
    operator count too) after the first i commands."""
    day = controller_model()
    full = [comparable(day.state)]
    for now, cmd in commands:
        day.run(dict(cmd), now)
        full.append(comparable(day.state))
    return full


def model_days(commands) -> dict:
    """Each day's whole state as replaying that day's events of the pure model gives it (the way
    `kiosk report` rebuilds a past day from the journal)."""
    day = controller_model()
    for now, cmd in commands:
        day.run(dict(cmd), now)
    return _days(day.events)


def _days(events) -> dict:
    by_day: dict[str, list[dict]] = {}
    for event in events:
        by_day.setdefault(event["day"], []).append(event)
    return {d: comparable(routine.replay(evs)) for d, evs in by_day.items()}


def _read(db: Path, sql: str, args=()) -> list:
    """Rows of the journal file, read without the Journal class (it would write its schema)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, list(args)).fetchall()
    finally:
        conn.close()


def journal_day_names(db: Path) -> list[str]:
    return [day for (day,) in _read(db, "select distinct day from events order by day")]


def journal_days(db: Path, days=None) -> dict:
    """The days of the journal file (all, or those named), each replayed from its own events."""
    days = journal_day_names(db) if days is None else list(days)
    rows = _read(db, f"select payload from events where day in ({','.join('?' * len(days))}) order by seq", days)
    return _days(json.loads(payload) for (payload,) in rows)


def midnight_states(commands) -> dict:
    """mid[i]: the state when command i-1 had its day change committed (its own commit) but not yet
    itself, for the commands that settled an unfinished day at midnight."""
    day = controller_model()
    mid = {}
    for i, (now, cmd) in enumerate(commands, start=1):
        before = day.state
        new_day = routine.rollover(before, now, day.ctx)
        if new_day is not None:
            probe = PureDay(day.ctx, before)
            probe.seq = day.seq
            probe._commit(new_day, now)
            mid[i] = comparable(probe.state)
        day.run(dict(cmd), now)
    return mid


def rebuilt_state(db: Path):
    cfg = load(None)
    journal = Journal(db, cfg.kiosk.site, cfg.kiosk.id)
    try:
        return comparable(Controller(cfg, journal, FixedClock(None)).state)
    finally:
        journal.close()


def rebuilt_summary(db: Path) -> dict:
    return routine.summary(rebuilt_state(db))


CHILD = [sys.executable, "-m", "tests.durability_child"]
STALL = 120.0  # seconds without a confirmed command before the unkilled child counts as hung


def _child_env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT))


@dataclass
class KilledRun:
    """One child run ended by SIGKILL, as the failure messages tell it."""

    start: int
    delay: float
    lines: list[str]
    stderr: str

    @property
    def last_confirmed(self) -> int:
        """The last index whose CONFIRMED line is whole (the kill may cut the last one short)."""
        complete = [int(parts[1]) for parts in map(str.split, self.lines)
                    if len(parts) == 3 and parts[0] == "CONFIRMED"]
        return complete[-1] if complete else self.start - 1

    def tell(self) -> str:
        return (f"child started at command {self.start}, killed after {self.delay * 1000:.1f} ms, "
                f"{len(self.lines)} lines, last ones {self.lines[-3:]}, stderr {self.stderr[-2000:]!r}")


def run_killed(db: Path, seed: int, start: int, end: int, delay: float, err: Path) -> KilledRun:
    """Start the child at `start`, SIGKILL it `delay` seconds after it is READY."""
    with err.open("w+") as stderr:
        child = subprocess.Popen([*CHILD, str(db), str(seed), str(start), str(end)], stdout=subprocess.PIPE,
                                 stderr=stderr, text=True, cwd=ROOT, env=_child_env())
        ready = child.stdout.readline()
        if ready.strip() != "READY":
            child.kill()
            child.wait(timeout=30)
            stderr.seek(0)
            raise AssertionError(f"the child did not start at {start}: {ready!r}, exit {child.returncode}, "
                                 f"stderr {stderr.read()[-3000:]!r}")
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        # Read through the same buffered reader as READY: it may already hold CONFIRMED lines
        # (communicate() with a timeout would read the raw pipe and lose them).
        out = child.stdout.read()
        child.wait(timeout=30)
        stderr.seek(0)
        run = KilledRun(start, delay, [line for line in out.splitlines() if line.strip()], stderr.read())
    # The child reports each result's code: a storage error would be a lost command, never "confirmed".
    errors = [line for line in run.lines if line.split()[2:3] == ["storage_error"]]
    assert not errors, f"storage error in the child: {errors[-5:]}; {run.tell()}"
    return run


def run_to_end(db: Path, seed: int, start: int, end: int, out: Path) -> float:
    """Run commands [start, end) without a kill; returns the seconds it took. A slow machine
    (fsync under load) may take long: only a child that confirms nothing for STALL seconds fails."""
    began = time.monotonic()
    with out.open("w+") as log:
        child = subprocess.Popen([*CHILD, str(db), str(seed), str(start), str(end)], stdout=log,
                                 stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=_child_env())
        size, moved = -1, time.monotonic()
        while child.poll() is None:
            if out.stat().st_size != size:
                size, moved = out.stat().st_size, time.monotonic()
            elif time.monotonic() - moved > STALL:
                child.kill()
                child.wait(timeout=30)
                break
            time.sleep(0.2)
        log.seek(0)
        text = log.read()
    assert child.returncode == 0, (f"the unkilled run from {start} ended with {child.returncode} after "
                                   f"{time.monotonic() - began:.0f} s (killed if it confirmed nothing for "
                                   f"{STALL:.0f} s): {text[-3000:]}")
    return time.monotonic() - began


def _diff(state, models, confirmed) -> str:
    out = []
    for i in range(max(0, confirmed - 2), min(len(models), confirmed + 3)):
        fields = [f.name for f in dataclasses.fields(state) if getattr(state, f.name) != getattr(models[i], f.name)]
        out.append(f"vs {i}: {fields}")
    for i in (confirmed, confirmed + 1):  # the two states it should be, field by field
        if i < len(models):
            for f in dataclasses.fields(state):
                mine, model = getattr(state, f.name), getattr(models[i], f.name)
                if mine != model:
                    out.append(f"{f.name}: journal {_short(mine)} / model after {i} {_short(model)}")
    return "; ".join(out)


def _short(value, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _journal_tail(db: Path, rows: int = 12) -> str:
    tail = _read(db, "select seq, day, type, payload from events order by seq desc limit ?", [rows])
    return "\n".join(f"  {seq} {day} {kind} {json.loads(payload).get('data')}" for seq, day, kind, payload in reversed(tail))


def _commands_near(commands, confirmed: int) -> str:
    return "\n".join(f"  {i}: {commands[i][0].isoformat()} {commands[i][1]}"
                     for i in range(max(0, confirmed - 3), min(len(commands), confirmed + 3)))


@pytest.mark.slow
def test_kill_9_at_random_points_loses_nothing_confirmed_and_never_double_counts(tmp_path):
    seed, total = 20261126, 3000
    commands = stream(seed, total)
    models = model_states(commands)
    mids = midnight_states(commands)
    days, checked = model_days(commands), set()
    rnd = random.Random(seed)
    db = tmp_path / "journal.db"
    done, kills, longest = 0, 0, 0.06
    history: list[str] = []
    while done < total and kills < 150:
        run = run_killed(db, seed, done, total, rnd.uniform(0.0, longest), tmp_path / "child.err")
        kills += 1
        state = rebuilt_state(db)
        confirmed = run.last_confirmed + 1  # commands [0, confirmed) were confirmed to the person
        # The command being handled at the kill may have been committed without being confirmed.
        candidates = [i for i in (confirmed, confirmed + 1) if i <= total and models[i] == state]
        if not candidates and mids.get(confirmed + 1) == state:
            candidates = [confirmed]  # only its day change was committed: run the command again
        history.append(f"{run.start}+{confirmed - run.start}")
        assert candidates, (
            f"seed {seed}: the state after kill {kills} matches neither {confirmed} nor {confirmed + 1} commands "
            f"(nor {confirmed}'s day change alone): {_diff(state, models, confirmed)}\n{run.tell()}\n"
            f"commands near it:\n{_commands_near(commands, confirmed)}\njournal's last events:\n"
            f"{_journal_tail(db)}\nkills so far (start+confirmed): {' '.join(history[-30:])}")
        done = candidates[-1]
        # A day the journal has moved past is final: it must be the model's day exactly (a command
        # counted twice there would no longer show in the rebuilt state, which is the last day's).
        finished = [d for d in journal_day_names(db) if d < str(state.day) and d not in checked]
        for d, got in journal_days(db, finished).items():
            assert got == days[d], (f"seed {seed}: day {d}, finished before kill {kills}, differs from the "
                                    f"model: {_diff(got, [days[d]], 0)}\n{run.tell()}\n"
                                    f"kills so far (start+confirmed): {' '.join(history[-30:])}")
            checked.add(d)
        if done > kills * (total // 30):  # a fast machine: kill sooner, so it is killed often enough
            longest /= 2
    unkilled = total - done
    took = run_to_end(db, seed, done, total, tmp_path / "child.out") if done < total else 0.0
    print(f"killed {kills} times; {done} of {total} commands done under kills, the other {unkilled} "
          f"without a kill in {took:.1f} s")
    assert kills >= 20, f"the stream ran through before the test could kill it enough times: {' '.join(history)}"
    assert rebuilt_state(db) == models[total]
    assert rebuilt_summary(db) == routine.summary(models[total])
    every_day = journal_days(db)
    assert every_day.keys() == days.keys()
    assert [d for d in days if every_day[d] != days[d]] == []  # no day counts a command twice
    # gapless seq and unique ids
    conn = sqlite3.connect(db)
    seqs = [r[0] for r in conn.execute("select seq from events order by seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    assert conn.execute("select count(distinct id) from events").fetchone()[0] == len(seqs)


@pytest.mark.slow
def test_a_restart_between_a_day_change_and_its_command_runs_the_command_once(tmp_path):
    """The window the random kills above almost never hit (one command in the stream): the old
    day's midnight settle is committed (here by the UI's tick, as at midnight), the command that
    came with the new day is not. The rebuilt state is the one the kill test accepts for it, and
    running the command then counts it once: every day and the end equal the model."""
    seed, total = 20261126, 3000
    commands = stream(seed, total)
    models, mids, days = model_states(commands), midnight_states(commands), model_days(commands)
    assert mids, "the stream has no day change that settles an unfinished day"
    db, done, cfg = tmp_path / "journal.db", 0, load(None)
    for command in sorted(i - 1 for i in mids):
        run_to_end(db, seed, done, command, tmp_path / "child.out")
        journal = Journal(db, cfg.kiosk.site, cfg.kiosk.id)
        try:
            now = commands[command][0]
            settled = Controller(cfg, journal, FixedClock(now)).tick(now)
        finally:
            journal.close()
        assert settled is not None and settled.code == "new_day"
        assert rebuilt_state(db) == mids[command + 1] != models[command]
        done = command
    run_to_end(db, seed, done, total, tmp_path / "child.out")
    assert rebuilt_state(db) == models[total]
    every_day = journal_days(db)
    assert [d for d in days if every_day.get(d) != days[d]] == []


def test_a_full_disk_records_nothing_says_so_in_swedish_and_keeps_what_was_confirmed(tmp_path):
    cfg = load(None)
    db = tmp_path / "journal.db"
    journal = Journal(db, cfg.kiosk.site, cfg.kiosk.id)
    start = stream(7, 1)[0][0]
    clock = FixedClock(start)
    controller = Controller(cfg, journal, clock)
    controller.handle({"cmd": "login", "operator": "ANNA"}, start)
    piles = ["dodsbo", "faktura", "ovriga_brev"]
    confirmed = {p: 0 for p in piles}

    def sort_many(n):
        failures = 0
        for i in range(n):
            pile = piles[i % 3]
            result = controller.handle({"cmd": "sort", "pile": pile}, start)
            if result.ok:
                confirmed[pile] += 1
            else:
                assert result.code == "storage_error"
                assert "full" in result.message and "Inget registrerades" in result.message
                failures += 1
        return failures

    assert sort_many(30) == 0
    pages = journal.db.execute("pragma page_count").fetchone()[0]
    journal.db.execute(f"pragma max_page_count = {pages}")  # the disk is full from here on
    assert sort_many(300) > 0
    assert {p: controller.summary()["counts"][p] for p in piles} == confirmed
    journal.db.execute("pragma max_page_count = 1073741823")  # space is freed again
    assert controller.handle({"cmd": "sort", "pile": "dodsbo"}, start).ok
    confirmed["dodsbo"] += 1
    journal.close()
    rebuilt = rebuilt_summary(db)
    assert {p: rebuilt["counts"][p] for p in piles} == confirmed
    assert rebuilt == controller.summary()
