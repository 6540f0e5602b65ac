"""Fault test on the second broker engine (NATS, provisioning/nats/): the broker is SIGKILLed
mid-stream, twice, while the kiosk keeps working, and started again on its JetStream store.
Every event the kiosk committed lands at central exactly once, and central's follow-up rows
equal the kiosk's. Only public surfaces: `kiosk simulate`, `kiosk sync`, `kiosk status`,
`kiosk central`, `kiosk central --gaps`, `kiosk report`."""

from __future__ import annotations

import json
import subprocess

import pytest

from .broker2_harness import (CentralProcess, central_ids, config, env, example_script, journal_ids,  # noqa: F401
                              kiosk_cmd, nats, needs_nats, read_rows, report, run_cli, simulate,
                              wait_until)

pytestmark = [needs_nats, pytest.mark.slow]


def pending(cfg, db) -> int:
    done = run_cli("--config", str(cfg), "status", "--db", str(db))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["pending"]


def test_nats_sigkilled_mid_stream_twice_every_event_once(nats, tmp_path):
    cfg = config(tmp_path / "kiosk.toml", nats, "demo/kiosk-1", mqtt="max_inflight = 2\n")
    db = tmp_path / "journal.db"
    simulate(cfg, example_script(tmp_path / "month.jsonl", days=24, first_day=1), db)  # Nov 1-24
    total = len(journal_ids(db))
    central_db = tmp_path / "central.db"
    central = CentralProcess(config(tmp_path / "central.toml", nats, "central", central=True),
                             central_db, tmp_path / "central.log").start(nats)
    log = open(tmp_path / "sync.log", "ab")
    sync = subprocess.Popen(kiosk_cmd("--config", str(cfg), "sync", "--db", str(db)),
                            env=env(), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    stored = lambda: len(central_ids(central_db))  # noqa: E731
    try:
        for kill, at in enumerate((200, 700)):
            wait_until(lambda at=at: stored() >= at, what=f"{at} events at central")
            nats.kill()  # SIGKILL: sessions, queue and retained messages only as JetStream had them
            assert stored() < total, "the stream finished before the broker could be killed"
            # the kiosk keeps working while the broker is away: another day of commands
            simulate(cfg, example_script(tmp_path / f"more-{kill}.jsonl", days=1, first_day=25 + kill), db)
            nats.start()
        wait_until(lambda: pending(cfg, db) == 0, timeout=120, what="the kiosk's outbox to drain")
        total = len(journal_ids(db))
        wait_until(lambda: stored() >= total, timeout=120, what="central to catch up")
    finally:
        sync.terminate()
        sync.wait(20)
        log.close()
        central.stop()
    assert central_ids(central_db) == journal_ids(db)  # every event once, in seq order
    assert read_rows(central_db, "select count(*) from dead_letters") == [(0,)]
    gaps = run_cli("central", "--gaps", "--db", str(central_db))
    assert json.loads(gaps.stdout)["gaps"] == []
    central_rows, problems = report("--central", str(central_db))
    mine, _ = report("--db", str(db), cfg=cfg)
    assert problems == ""
    assert json.loads(central_rows) == json.loads(mine)
    assert len(json.loads(mine)) == 26
