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

from kiosk.shelf import simulate
from kiosk.wire.journal import Journal
from kiosk.central.collector import Central
from kiosk.central.store import CentralStore
from kiosk.shelf.publisher import Publisher
from .mqtt_broker import (broker, bulk_events, env, example_lines, kiosk_cmd, kiosk_config,  # noqa: F401
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
    assert central.snapshot()["stored"] == total > 3000  # the bulk and the whole offline day
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
        wait_until(lambda: pub.status()["sent_seq"] >= 4000, timeout=60,
                   what="the broker to take the rest into central's session")
        assert pub.status()["confirmed_seq"] < 4000  # not confirmed while central is down
        central = start_central()
        assert pub.wait_drained(60)  # central's ack confirms everything after its restart
        assert central_count(central_db) >= 4000
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


def test_broker_crash_before_autosave_heals_with_no_repair(broker, tmp_path):
    """A broker SIGKILLed before its autosave loses what it queued for central after the PUBACK
    (and its retained messages): the kiosk notices from central's ack and sends it again by
    itself; nothing is counted twice, nobody runs a repair command."""
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port, mqtt="ack_timeout = 1.0")
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    bulk_events(journal, 50)
    journal.close()
    central_db = tmp_path / "central.db"
    central = Central(config, central_db).start()
    pub = Publisher(config, db)
    try:
        assert central.wait_subscribed(10)
        central.stop()  # central away: the broker queues for its persistent session
        pub.start()
        wait_until(lambda: pub.status()["sent_seq"] == 50, what="the broker to take all 50")
        journal = Journal(db, "demo", "kiosk-1")
        bulk_events(journal, 20, day=dt.date(2026, 12, 2))  # seq 51..70, also sent while central is away
        journal.close()
        wait_until(lambda: pub.status()["sent_seq"] == 70, what="the broker to take all 70")
        assert pub.status()["confirmed_seq"] == 0
        broker.kill()  # crash: the queue for central is lost (no autosave yet)
        broker.start()
        central = Central(config, central_db).start()
        assert pub.wait_drained(60), pub.status()
        assert pub.status()["confirmed_seq"] == 70 and pub.status()["last_error"] is None
    finally:
        pub.stop()
        central.stop()
    assert_exactly_once(db, central_db)


def test_central_restored_from_an_old_backup_heals_with_no_repair(broker, tmp_path):
    """Central's database restored from a backup older than what it had confirmed: on connect it
    publishes its (lower) acks, the kiosk sends everything after them again by itself."""
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    bulk_events(journal, 50)
    central_db = tmp_path / "central.db"
    central = Central(config, central_db).start()
    pub = Publisher(config, db)
    try:
        assert central.wait_subscribed(10)
        pub.start()
        assert pub.wait_drained(30)
        central.stop()
        backup = tmp_path / "central-backup.db"
        backup.write_bytes(central_db.read_bytes())  # closed: WAL checkpointed into the file
        central = Central(config, central_db).start()
        bulk_events(journal, 50, day=dt.date(2026, 12, 2))  # seq 51..100
        wait_until(lambda: pub.status()["confirmed_seq"] == 100, what="all 100 confirmed")
        central.stop()
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"central.db{suffix}").unlink(missing_ok=True)
        backup.rename(central_db)  # yesterday's backup: 50 events
        central = Central(config, central_db).start()
        wait_until(lambda: central_count(central_db) == 100, timeout=60, what="the kiosk to resend 51..100")
        wait_until(lambda: pub.status()["confirmed_seq"] == 100, what="confirmed again")
    finally:
        pub.stop()
        central.stop()
        journal.close()
    assert_exactly_once(db, central_db)
