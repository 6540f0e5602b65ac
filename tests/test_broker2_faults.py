"""Fault test on the second broker engine (NATS, provisioning/nats/): the broker is SIGKILLed
mid-stream, twice, while the kiosk keeps working, and started again on its JetStream store.
Every event the kiosk committed lands at central exactly once, and central's follow-up rows
equal the kiosk's. Only public surfaces: `kiosk simulate`, `kiosk sync`, `kiosk status`,
`kiosk central`, `kiosk central --gaps`, `kiosk report`."""

from __future__ import annotations

import json
import subprocess

import pytest

from .broker2_harness import (CentralProcess, broker_state, central_ids, config, env, example_script, journal_ids,  # noqa: F401
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
        def explain():
            return broker_state(nats, {"kiosk sync": tmp_path / "sync.log", "central": tmp_path / "central.log"})

        wait_until(lambda: pending(cfg, db) == 0, timeout=120, what="the kiosk's outbox to drain", explain=explain)
        total = len(journal_ids(db))
        wait_until(lambda: stored() >= total, timeout=120, what="central to catch up", explain=explain)
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



def test_central_restored_from_an_older_backup_on_nats_kiosks_resend_by_themselves(nats, tmp_path):
    """`kiosk central restore` of a backup older than what the kiosks have had confirmed, on NATS.
    kiosk-1 had events in the backup and more after it; kiosk-2 started only after the backup, so
    the restored database has never heard of it, and only the broker's retained messages (its
    status and its stale ack, seen through central's wildcard subscriptions) tell central about
    it. The running `kiosk sync` of each kiosk sends what central lacks, with no person involved."""
    kiosks = ("kiosk-1", "kiosk-2")
    cfg = {k: config(tmp_path / f"{k}.toml", nats, f"demo/{k}", kiosk=k) for k in kiosks}
    db = {k: tmp_path / f"{k}.db" for k in kiosks}
    central_db = tmp_path / "central.db"
    central = CentralProcess(config(tmp_path / "central.toml", nats, "central", central=True),
                             central_db, tmp_path / "central.log").start(nats)
    try:
        simulate(cfg["kiosk-1"], example_script(tmp_path / "a.jsonl", days=1, first_day=23), db["kiosk-1"])
        assert run_cli("--config", str(cfg["kiosk-1"]), "sync", "--once", "--db", str(db["kiosk-1"])).returncode == 0
        in_backup = len(journal_ids(db["kiosk-1"]))
        assert run_cli("central", "backup", "--db", str(central_db), "--out", str(tmp_path / "old.db")).returncode == 0
        simulate(cfg["kiosk-1"], example_script(tmp_path / "b.jsonl", days=1, first_day=24), db["kiosk-1"])
        simulate(cfg["kiosk-2"], example_script(tmp_path / "c.jsonl", days=2, first_day=23), db["kiosk-2"])
        for k in kiosks:
            assert run_cli("--config", str(cfg[k]), "sync", "--once", "--db", str(db[k])).returncode == 0
            assert central_ids(central_db, kiosk=k) == journal_ids(db[k])
    finally:
        central.stop()
    done = run_cli("central", "restore", str(tmp_path / "old.db"), "--db", str(central_db))
    assert done.returncode == 0, done.stderr
    assert len(central_ids(central_db, kiosk="kiosk-1")) == in_backup and central_ids(central_db, kiosk="kiosk-2") == []
    assert all(pending(cfg[k], db[k]) == 0 for k in kiosks)  # both had everything confirmed
    logs, syncs = {}, {}
    central.start(nats)
    try:
        for k in kiosks:
            logs[k] = open(tmp_path / f"sync-{k}.log", "ab")
            syncs[k] = subprocess.Popen(kiosk_cmd("--config", str(cfg[k]), "sync", "--db", str(db[k])),
                                        env=env(), stdout=logs[k], stderr=logs[k], stdin=subprocess.DEVNULL)
        for k in kiosks:
            want = journal_ids(db[k])
            wait_until(lambda k=k, want=want: central_ids(central_db, kiosk=k) == want, timeout=120,
                       what=f"{k}'s events since the backup")
    finally:
        for k, proc in syncs.items():
            proc.terminate()
            proc.wait(20)
            logs[k].close()
        central.stop()
    central_rows, problems = report("--central", str(central_db))
    assert problems == ""
    rows = json.loads(central_rows)
    for k in kiosks:
        mine, _ = report("--db", str(db[k]), cfg=cfg[k])
        assert [r for r in rows if r["kiosk"] == k] == json.loads(mine)
