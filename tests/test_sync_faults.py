"""Faults against a real mosquitto: every confirmed event lands at central exactly once.

- the broker is stopped mid-stream (while the kiosk keeps working) and started again;
- the kiosk's publisher process is SIGKILLed while publishing and started again;
- central is SIGKILLed mid-stream and started again.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess

import pytest

from kiosk import simulate
from kiosk.journal import Journal
from kiosk.sync.central import Central, CentralStore
from kiosk.sync.publisher import Publisher
from .mqtt_broker import (EXAMPLE_EVENTS, broker, bulk_events, env, example_lines, kiosk_cmd, kiosk_config,  # noqa: F401
                         load, needs_mosquitto, wait_until)

pytestmark = [needs_mosquitto, pytest.mark.slow]


def journal_ids(db) -> list[str]:
    j = Journal(db, "demo", "kiosk-1")
    try:
        return [r[0] for r in j.db.execute("select id from events order by seq")]
    finally:
        j.close()


def central_ids(path) -> list[str]:
    conn = sqlite3.connect(str(path))
    try:
        return [r[0] for r in conn.execute("select id from events order by seq")]
    finally:
        conn.close()


def central_count(path) -> int:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return 0
    try:
        return conn.execute("select count(*) from events").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def assert_exactly_once(db, central_db):
    want = journal_ids(db)
    got = central_ids(central_db)
    assert len(got) == len(want) and set(got) == set(want)
    store = CentralStore(central_db)
    try:
        assert store.gaps() == []
        assert store.count("dead_letters") == 0
    finally:
        store.close()


def kiosk_rows(cfg_path, db):
    done = subprocess.run(kiosk_cmd("--config", str(cfg_path), "report", "--db", str(db)),
                          env=env(), capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout)


def central_rows(central_db):
    done = subprocess.run(kiosk_cmd("report", "--central", str(central_db)),
                          env=env(), capture_output=True, text=True, timeout=60)
    assert done.stderr == ""
    return json.loads(done.stdout)


def test_broker_stopped_mid_stream_and_restarted(broker, tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port, mqtt="max_inflight = 5")
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    bulk_events(journal, 3000)
    journal.close()
    central_db = tmp_path / "central.db"
    central = Central(config, central_db).start()
    pub = Publisher(config, db)
    try:
        assert central.wait_subscribed(10)
        pub.start()
        wait_until(lambda: central.snapshot().get("stored", 0) >= 200, what="the stream to start")
        broker.stop()  # mid-stream: some events in flight, some queued for central
        assert central.snapshot()["stored"] < 3000
        wait_until(lambda: not pub.status()["online"], what="the publisher to notice")
        # the kiosk keeps working while the broker is away: a whole day of commands
        doc = simulate.run(example_lines(1, start=dt.date(2026, 12, 2)), config, db, tmp_path / "sim")
        assert doc["errors"] == []
        assert pub.status()["pending"] > 0
        broker.start()
        assert pub.wait_drained(60)
        total = len(journal_ids(db))
        wait_until(lambda: central.snapshot().get("stored", 0) >= total, timeout=30,
                   what="central to catch up")
    finally:
        pub.stop()
        central.stop()
    # the example day's first command also settles the unfinished bulk day (midnight rule): + 2
    assert central.snapshot()["stored"] == total == 3000 + 2 + EXAMPLE_EVENTS
    assert_exactly_once(db, central_db)
    assert central_rows(central_db) == kiosk_rows(cfg_path, db)


def test_publisher_sigkilled_while_publishing(broker, tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port, mqtt="max_inflight = 2")
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    bulk_events(journal, 4000)
    journal.close()
    central_db = tmp_path / "central.db"
    central = Central(config, central_db).start()
    log = open(tmp_path / "sync.log", "wb")
    try:
        assert central.wait_subscribed(10)
        proc = subprocess.Popen(kiosk_cmd("--config", str(cfg_path), "sync", "--db", str(db)),
                                env=env(), stdout=log, stderr=log)
        try:
            wait_until(lambda: central.snapshot().get("stored", 0) >= 300, what="publishing to start")
        finally:
            proc.kill()  # SIGKILL: no clean disconnect, no last marks
            proc.wait(10)
        at_kill = central.snapshot()["stored"]
        assert at_kill < 4000, "the publisher finished before it could be killed"
        # the broker sends the last will: central sees the kiosk offline
        wait_until(lambda: central.store.kiosks()[0]["online"] is False, what="the last will")
        j = Journal(db, "demo", "kiosk-1")
        assert j.pending_count() > 0
        j.close()
        again = subprocess.run(kiosk_cmd("--config", str(cfg_path), "sync", "--once", "--db", str(db),
                                         "--timeout", "60"), env=env(), capture_output=True, text=True,
                               timeout=90)
        assert again.returncode == 0, again.stderr
        wait_until(lambda: central.snapshot().get("stored", 0) >= 4000, what="central to get the rest")
    finally:
        log.close()
        central.stop()
    stats = central.snapshot()
    assert stats["stored"] == 4000
    assert_exactly_once(db, central_db)
    assert central_rows(central_db) == kiosk_rows(cfg_path, db)


def test_central_sigkilled_mid_stream_and_restarted(broker, tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    central_db = tmp_path / "central.db"
    logs = open(tmp_path / "central.log", "wb")

    def start_central():
        return subprocess.Popen(kiosk_cmd("--config", str(cfg_path), "central", "--db", str(central_db)),
                                env=env(), stdout=logs, stderr=logs)

    def status_seen():
        try:
            conn = sqlite3.connect(f"file:{central_db}?mode=ro", uri=True)
            try:
                return conn.execute("select count(*) from kiosks where status_at is not null").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error:
            return 0

    pub = Publisher(config, db)
    central = start_central()
    try:
        pub.start()  # publishes the retained status: when central has it, it is subscribed
        wait_until(status_seen, what="central to subscribe")
        journal = Journal(db, "demo", "kiosk-1")
        bulk_events(journal, 4000)
        journal.close()
        wait_until(lambda: central_count(central_db) >= 300, what="central to start storing")
        central.kill()
        central.wait(10)
        assert central_count(central_db) < 4000, "central finished before it could be killed"
        assert pub.wait_drained(60)  # the broker holds the rest in central's session
        central = start_central()
        wait_until(lambda: central_count(central_db) >= 4000, timeout=60, what="central to catch up")
    finally:
        pub.stop()
        if central.poll() is None:
            central.terminate()
            central.wait(10)
        logs.close()
    assert_exactly_once(db, central_db)
    assert central_rows(central_db) == kiosk_rows(cfg_path, db)


def test_central_storage_failure_loses_nothing(broker, tmp_path, monkeypatch):
    """A failed commit at central acknowledges nothing: the broker delivers those messages again."""
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    bulk_events(journal, 1000)
    journal.close()
    real = CentralStore.ingest
    failures = {"left": 3}

    def flaky(self, messages, received_at=None):
        if failures["left"] and self.count("events") > 100:
            failures["left"] -= 1
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return real(self, messages, received_at)

    monkeypatch.setattr(CentralStore, "ingest", flaky)
    central_db = tmp_path / "central.db"
    central = Central(config, central_db).start()
    pub = Publisher(config, db)
    try:
        assert central.wait_subscribed(10)
        pub.start()
        assert pub.wait_drained(30)
        wait_until(lambda: central_count(central_db) >= 1000, timeout=30, what="every event despite the failures")
    finally:
        pub.stop()
        central.stop()
    assert failures["left"] == 0  # the failures did happen
    assert_exactly_once(db, central_db)


def test_gap_after_broker_crash_repaired_with_resend_from(broker, tmp_path):
    """A broker SIGKILLed before its autosave loses what it queued for central after the PUBACK:
    central names the gap, `kiosk sync --resend-from` fills it, nothing is counted twice."""
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    bulk_events(journal, 50)
    journal.close()
    central_db = tmp_path / "central.db"
    central = Central(config, central_db).start()
    try:
        assert central.wait_subscribed(10)
        central.stop()  # central away: the broker queues for its persistent session
        sync = [*kiosk_cmd("--config", str(cfg_path), "sync", "--once", "--db", str(db), "--timeout", "20")]
        done = subprocess.run(sync, env=env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        journal = Journal(db, "demo", "kiosk-1")
        bulk_events(journal, 20, day=dt.date(2026, 12, 2))  # seq 51..70, also sent while central is away
        journal.close()
        done = subprocess.run(sync, env=env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        broker.kill()  # crash: the queue for central is lost (no autosave yet)
        broker.start()
        central = Central(config, central_db).start()
        assert central.wait_subscribed(10)
        # the retained status went with the crash too; the kiosk's next connection tells central
        done = subprocess.run(sync, env=env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        store = CentralStore(central_db)
        gaps = wait_until(lambda: store.gaps(), what="central to see the kiosk's status with last_seq 70")
        store.close()
        assert gaps == [{"site": "demo", "kiosk": "kiosk-1", "from_seq": 1, "to_seq": 70,
                         "note": "acknowledged by the broker, not (yet) received"}]
        again = subprocess.run([*sync, "--resend-from", "1"], env=env(), capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert "70 events from seq 1 on are queued again" in again.stdout
        wait_until(lambda: central.snapshot().get("stored", 0) >= 70, what="the resent events")
    finally:
        central.stop()
    assert_exactly_once(db, central_db)
