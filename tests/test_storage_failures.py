"""Disk full at central: the collector retries with capped exponential backoff and logs at most
a line every few seconds with counts (not one per try), says once when storage works again, and
loses nothing.

A real mosquitto, the real collector (`Central`) and the kiosk's real `Publisher`; the disk fills
up inside SQLite itself (`pragma max_page_count` on the collector's own connection: SQLite's
"database or disk is full"), then space comes back."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from kiosk.central.collector import Central
from kiosk.central.failures import StorageFailures
from kiosk.central.store import CentralStore
from kiosk.core.clock import TZ, FixedClock
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal
from kiosk.shelf.publisher import Publisher

from .mqtt_broker import broker, kiosk_config, load, needs_mosquitto, wait_until  # noqa: F401


def test_storage_backoff_counts_without_a_log_line_per_try():
    """The rule alone, on a fake clock: 160 failures 1/16 s apart (10 s) give a line every 5 s."""
    lines: list[str] = []

    class Log:
        def warning(self, fmt, *args):
            lines.append(fmt % args)

    now = [0.0]
    failures = StorageFailures(Log(), first_s=0.5, cap_s=30.0, log_every_s=5.0, clock=lambda: now[0])  # type: ignore[arg-type]
    delays = []
    for _ in range(160):
        delays.append(failures.failed(OSError("database or disk is full"), messages=3))
        now[0] += 0.0625
    assert len(lines) == 2 and "storage failed 1 time in the last 0 s (3 messages" in lines[0]
    assert "storage failed 80 times in the last 5 s (240 messages" in lines[1] and "disk is full" in lines[1]
    assert max(delays) <= 30.0 and delays[-1] >= 15.0  # capped; doubled up to the cap (jitter: half to whole)
    assert all(d >= 0.25 for d in delays)
    failures.recovered()
    assert lines[-1] == "central: storage works again after 160 failed tries over 10 s"
    failures.recovered()
    assert len(lines) == 3  # once
    assert 0.25 <= failures.failed(OSError("x")) <= 0.5  # the delays start over


@needs_mosquitto
def test_disk_full_at_central_backs_off_logs_a_few_lines_and_loses_nothing(broker, tmp_path, caplog, monkeypatch):
    config = load(kiosk_config(tmp_path / "kiosk.toml", broker.port))
    journal = Journal(tmp_path / "journal.db", "demo", "kiosk-1")
    at = dt.datetime(2026, 11, 23, 8, tzinfo=TZ)
    ctl = Controller(config, journal, FixedClock(at))
    ctl.handle({"cmd": "login", "operator": "ANNA"}, at)
    journal.close()

    full = threading.Event()
    full.set()
    tries = []
    real = CentralStore.ingest

    def ingest(self, messages, received_at=None):
        tries.append(time.monotonic())
        conn = self.conn  # the collector thread's own SQLite connection
        conn.execute(f"pragma max_page_count = {2**30}")
        conn.execute("create table if not exists disk_filler (b blob)")
        pages = conn.execute("pragma page_count").fetchone()[0]
        conn.execute(f"pragma max_page_count = {pages if full.is_set() else 2**30}")
        if full.is_set():
            # SQLite's own "database or disk is full" on this connection: a page beyond the cap.
            # (A batch alone could still fit in the slack of the pages it lands in, so whether
            # it failed would be chance.)
            conn.execute("insert into disk_filler values (zeroblob(1048576))")
        return real(self, messages, received_at)

    monkeypatch.setattr(CentralStore, "ingest", ingest)
    central = Central(config, tmp_path / "central.db")
    central.storage = StorageFailures(logging.getLogger("kiosk.central.collector"), first_s=0.05, cap_s=0.4,
                                      log_every_s=1.0)
    caplog.set_level(logging.INFO, logger="kiosk.central.collector")
    central.start()
    kiosk = Journal(tmp_path / "journal.db", "demo", "kiosk-1")
    ctl = Controller(config, kiosk, FixedClock(at))
    for minute in range(1, 41):
        ctl.handle({"cmd": "sort", "pile": "faktura"}, at + dt.timedelta(minutes=minute))
    want = kiosk.last_seq
    kiosk.close()
    pub = Publisher(config, tmp_path / "journal.db")
    try:
        assert central.wait_subscribed(10)
        pub.start()
        wait_until(lambda: len(tries) >= 3, timeout=15, what="storage tried while the disk is full")
        time.sleep(3.0)  # the disk stays full this long (the figure the log lines are counted over)
        failing = list(tries)
        lines = [r.getMessage() for r in caplog.records if "storage failed" in r.getMessage()]
        full.clear()
        assert pub.wait_drained(30), "the kiosk's events were never all confirmed"
    finally:
        pub.stop()
        central.stop()
    span = failing[-1] - failing[0]
    # no backoff would try as often as the broker redelivers (dozens a second); capped at 0.4 s
    # the tries are at least 0.2 s apart once the delay has grown
    assert len(failing) <= 5 + span / 0.2, (len(failing), span)
    assert 1 <= len(lines) <= 1 + span / 1.0 + 1, lines
    assert all("database or disk is full" in line and "messages not acknowledged" in line for line in lines)
    assert not any("connection to" in r.getMessage() and "lost" in r.getMessage() for r in caplog.records)
    again = [r.getMessage() for r in caplog.records if "storage works again" in r.getMessage()]
    assert len(again) == 1, again
    store = CentralStore(tmp_path / "central.db")
    try:
        assert store.count("events") == want  # nothing lost
        assert store.gaps() == []
    finally:
        store.close()
