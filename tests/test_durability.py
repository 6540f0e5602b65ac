"""Durability: a kill -9 at any point loses nothing confirmed and never double-counts; a full disk
records nothing and says so."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk import routine
from kiosk.clock import FixedClock
from kiosk.config import load
from kiosk.controller import Controller, context_from
from kiosk.journal import Journal

from .command_stream import stream
from .routine_harness import PureDay

ROOT = Path(__file__).resolve().parent.parent


def comparable(state):
    """The state without its alerts' event ids (random in the journal, counted in the model)."""
    from dataclasses import replace

    return replace(state, alerts=tuple({**a, "id": None} for a in state.alerts))


def model_states(commands) -> list:
    """full[i]: the pure model's whole state (not just the summary: the current pile and the
    operator count too) after the first i commands."""
    day = PureDay(context_from(load(None)))
    full = [comparable(day.state)]
    for now, cmd in commands:
        day.run(dict(cmd), now)
        full.append(comparable(day.state))
    return full


def midnight_states(commands) -> dict:
    """mid[i]: the state when command i-1 had its day change committed (its own commit) but not yet
    itself, for the commands that settled an unfinished day at midnight."""
    day = PureDay(context_from(load(None)))
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


def run_killed(db: Path, seed: int, start: int, end: int, rnd: random.Random) -> int:
    """Start the child at `start`, SIGKILL it after a random delay; return the last confirmed index."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-m", "tests.durability_child", str(db), str(seed), str(start), str(end)],
                             stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert child.stdout.readline().strip() == "READY"
    time.sleep(rnd.uniform(0.0, 0.06))
    child.send_signal(signal.SIGKILL)
    # Read through the same buffered reader as READY: it may already hold CONFIRMED lines
    # (communicate() with a timeout would read the raw pipe and lose them).
    out = child.stdout.read()
    child.wait(timeout=30)
    lines = [line.split() for line in out.splitlines() if line.startswith("CONFIRMED")]
    # The child reports each result's code: a storage error would be a lost command, never "confirmed".
    assert not [l for l in lines if len(l) > 2 and l[2] == "storage_error"], lines[-5:]
    complete = [int(l[1]) for l in lines if len(l) == 3]
    return complete[-1] if complete else start - 1


def _diff(state, models, confirmed) -> str:
    import dataclasses

    out = []
    for i in range(max(0, confirmed - 2), min(len(models), confirmed + 3)):
        fields = [f.name for f in dataclasses.fields(state) if getattr(state, f.name) != getattr(models[i], f.name)]
        out.append(f"vs {i}: {fields}")
    return "; ".join(out)


@pytest.mark.slow
def test_kill_9_at_random_points_loses_nothing_confirmed_and_never_double_counts(tmp_path):
    seed, total = 20261126, 3000
    commands = stream(seed, total)
    models = model_states(commands)
    mids = midnight_states(commands)
    rnd = random.Random(seed)
    db = tmp_path / "journal.db"
    done, kills = 0, 0
    while done < total and kills < 150:
        last_confirmed = run_killed(db, seed, done, total, rnd)
        kills += 1
        state = rebuilt_state(db)
        confirmed = last_confirmed + 1  # commands [0, confirmed) were confirmed to the person
        # The command being handled at the kill may have been committed without being confirmed.
        candidates = [i for i in (confirmed, confirmed + 1) if i <= total and models[i] == state]
        if not candidates and mids.get(confirmed + 1) == state:
            candidates = [confirmed]  # only its day change was committed: run the command again
        assert candidates, (f"state after kill {kills} (started at {done}) matches neither {confirmed} nor "
                            f"{confirmed + 1} commands: " + _diff(state, models, confirmed))
        done = candidates[-1]
    print(f"killed {kills} times; {done} of {total} commands done under kills")
    assert kills >= 20, "the stream ran through before the test could kill it enough times"
    if done < total:  # finish the stream without a kill
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-m", "tests.durability_child", str(db), str(seed), str(done), str(total)],
                       check=True, capture_output=True, cwd=ROOT, env=env, timeout=300)
    assert rebuilt_state(db) == models[total]
    assert rebuilt_summary(db) == routine.summary(models[total])
    # gapless seq and unique ids
    conn = sqlite3.connect(db)
    seqs = [r[0] for r in conn.execute("select seq from events order by seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    assert conn.execute("select count(distinct id) from events").fetchone()[0] == len(seqs)


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
