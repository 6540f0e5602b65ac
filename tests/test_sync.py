"""Sync to central against a real mosquitto: round trip, the CLI, status, alerts, purge."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.shelf import simulate
from kiosk.core.clock import TZ, FixedClock
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal
from kiosk.core import followup
from kiosk.central.collector import Central
from kiosk.central.store import CentralStore
from kiosk.shelf.publisher import Publisher
from .mqtt_broker import (day_n, broker, env, example_lines, kiosk_cmd, kiosk_config, load,  # noqa: F401
                         needs_mosquitto, wait_until)

pytestmark = needs_mosquitto


def run_cli(*args, timeout=60):
    return subprocess.run(kiosk_cmd(*args), env=env(), capture_output=True, text=True, timeout=timeout)


def test_round_trip_report_equals_kiosk_report(broker, tmp_path):
    """Two days of commands -> kiosk sync --once -> central -> the central sheet equals the kiosk's."""
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg_path)
    script = tmp_path / "days.jsonl"
    script.write_text("\n".join(example_lines(days=2)) + "\n", encoding="utf-8")
    db = tmp_path / "journal.db"
    sim = run_cli("--config", str(cfg_path), "simulate", str(script), "--db", str(db), "--out", str(tmp_path / "sim"))
    assert sim.returncode == 0, sim.stderr

    central = Central(config, tmp_path / "central.db").start()
    try:
        assert central.wait_subscribed(10)
        done = run_cli("--config", str(cfg_path), "sync", "--once", "--db", str(db), "--timeout", "20")
        assert done.returncode == 0, done.stderr
        assert "all events confirmed by central" in done.stdout
        journal = Journal(db, "demo", "kiosk-1")
        n = journal.last_seq
        assert journal.pending_count() == 0
        journal.close()
        wait_until(lambda: central.snapshot().get("stored", 0) >= n, what="central to store every event")
    finally:
        central.stop()
    assert central.snapshot()["stored"] == n
    assert central.snapshot().get("dead", 0) == 0

    for fmt in ("csv", "json"):
        mine = run_cli("--config", str(cfg_path), "report", "--db", str(db), "--format", fmt)
        theirs = run_cli("report", "--central", str(tmp_path / "central.db"), "--format", fmt,
                         "--from", "2026-11-23", "--to", "2026-11-24")
        assert mine.returncode == 0 and theirs.returncode == 0, theirs.stderr
        assert theirs.stdout == mine.stdout
        assert theirs.stderr == ""  # no gap warnings
    rows = json.loads(mine.stdout)
    assert [r["day"] for r in rows] == ["2026-11-23", "2026-11-24"]
    assert rows[0]["scans_accepted"] > 0 and rows[0]["alerts"] > 0  # a real day, not an empty one

    xlsx = tmp_path / "sheet.xlsx"
    made = run_cli("report", "--central", str(tmp_path / "central.db"), "--format", "xlsx", "--out", str(xlsx))
    assert made.returncode == 0, made.stderr
    assert followup.read_xlsx(xlsx) == rows

    one_day = run_cli("report", "--central", str(tmp_path / "central.db"), "--format", "json",
                      "--from", "2026-11-24", "--to", "2026-11-24")
    assert json.loads(one_day.stdout) == rows[1:]


def test_sync_once_fails_clearly_without_broker(tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", 9)  # port 9: nothing listens on loopback
    db = tmp_path / "journal.db"
    j = Journal(db, "demo", "kiosk-1")
    j.append([("signed_in", {"operator": "ANNA"})], dt.datetime(2026, 11, 23, 9, tzinfo=TZ),
             dt.date(2026, 11, 23), "ANNA")
    j.close()
    done = run_cli("--config", str(cfg_path), "sync", "--once", "--db", str(db), "--timeout", "1.5")
    assert done.returncode == 3
    assert "cannot reach the MQTT broker at mqtt://127.0.0.1:9" in done.stderr
    assert "1 events stay queued" in done.stderr
    st = run_cli("--config", str(cfg_path), "status", "--db", str(db))
    assert json.loads(st.stdout)["pending"] == 1


def test_kiosk_works_without_broker_and_catches_up(broker, tmp_path):
    """Commands while the broker is away; status shows offline and pending; then it drains."""
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    clock = FixedClock(dt.datetime(2026, 11, 23, 8, 0, tzinfo=TZ))
    controller = Controller(config, journal, clock)
    broker.stop()
    pub = Publisher(config, db)
    pub.start()
    central = Central(config, tmp_path / "central.db").start()  # keeps trying until the broker is back
    try:
        for cmd in ({"cmd": "login", "operator": "ANNA"}, {"cmd": "sort", "pile": "dodsbo"},
                    {"cmd": "sort", "pile": "faktura"}):
            assert controller.handle(cmd).ok
        st = wait_until(lambda: (s := pub.status())["pending"] == 3 and s["last_error"] and s, what="pending 3")
        assert st["online"] is False and st["last_seq"] == 0
        broker.start()
        assert pub.wait_drained(15)
        st = pub.status()
        assert st["online"] is True and st["pending"] == 0 and st["last_seq"] == 3 and st["last_error"] is None
        assert controller.handle({"cmd": "sort", "pile": "dodsbo"}).ok  # live events flow too
        wait_until(lambda: pub.status()["last_seq"] == 4, what="the live event confirmed by central")
    finally:
        pub.stop()
        central.stop()
    sent = journal.db.execute("select seq, sent_at from events order by seq").fetchall()
    assert [s for s, _ in sent] == [1, 2, 3, 4] and all(at for _, at in sent)
    journal.close()


def test_status_topic_retained_and_alerts_published(broker, tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    simulate.run(example_lines(1), config, db, tmp_path / "sim")
    central = Central(config, tmp_path / "central.db").start()
    assert central.wait_subscribed(10)
    pub = Publisher(config, db)
    pub.publish_alert({"kind": "printer", "text": "Skrivaren har slut på papper."})
    pub.start()
    assert pub.wait_drained(15)
    pub.stop()

    got = {}

    def on_message(c, u, msg):
        got.setdefault(msg.topic, []).append((msg.retain, json.loads(msg.payload)))

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("returpost/v1/demo/kiosk-1/status", qos=1)
    sub.loop_start()
    try:
        status = wait_until(lambda: got.get("returpost/v1/demo/kiosk-1/status"), what="retained status")
    finally:
        sub.loop_stop()
        sub.disconnect()
    retained, doc = status[0]
    assert retained is True
    assert doc["online"] is False and doc["pending"] == 0 and doc["last_seq"] == day_n() and doc["version"]
    assert doc["confirmed_seq"] == day_n() and doc["journal_start"] == 1 and len(doc["journal"]) == 36

    # central got the journal's alerts (alert_raised events) and the extra one, each once
    try:
        # A lost confirmation: the retained ack confirms again; central keeps each event and
        # each alert (the journal's and the extra one) once.
        conn = Journal(db, "demo", "kiosk-1")
        conn.set_confirmed(0)
        conn.close()
        pub2 = Publisher(config, db)
        pub2.start()
        assert pub2.wait_drained(15)
        pub2.stop()
        assert central.snapshot()["stored"] == day_n()
    finally:
        central.stop()
    store = CentralStore(tmp_path / "central.db")
    kinds = sorted(r[0] for r in store.conn.execute("select kind from alerts"))
    store.close()
    # the example day asks the TL about two kinds of temporary mailing (Priskompensation sorted,
    # Elpriskompensation registered): one question per kind
    assert kinds == ["bestridan", "printer", "tillfalliga", "tillfalliga"]


def test_publish_alert_reaches_central(broker, tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg_path)
    central = Central(config, tmp_path / "central.db").start()
    pub = Publisher(config, tmp_path / "journal.db")
    try:
        assert central.wait_subscribed(10)
        pub.start()
        pub.publish_alert({"kind": "printer", "text": "Skrivaren har slut på papper."})
        wait_until(lambda: central.snapshot().get("alert") == 1, what="the alert at central")
    finally:
        pub.stop()
        central.stop()
    store = CentralStore(tmp_path / "central.db")
    row = store.conn.execute("select site, kiosk, kind, text from alerts").fetchone()
    store.close()
    assert row == ("demo", "kiosk-1", "printer", "Skrivaren har slut på papper.")


def test_purge_synced_events_after_retention(broker, tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port,
                            tail="[retention]\npurge_synced_after_days = 30\n")
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    journal = Journal(db, "demo", "kiosk-1")
    old = dt.datetime(2026, 10, 1, 9, tzinfo=TZ)
    journal.append([("signed_in", {"operator": "ANNA"}), ("sorted", {"pile": "dodsbo"})], old, old.date(), "ANNA")
    new = dt.datetime(2026, 11, 20, 9, tzinfo=TZ)
    journal.append([("sorted", {"pile": "faktura"})], new, new.date(), "ANNA")
    clock = FixedClock(dt.datetime(2026, 11, 23, 9, tzinfo=TZ))
    central = Central(config, tmp_path / "central.db").start()
    try:
        assert central.wait_subscribed(10)
        pub = Publisher(config, db, clock=clock)
        pub.start()
        assert pub.wait_drained(15)
        pub.stop()
        assert journal.pending_count() == 0
        # first start purged nothing yet (nothing was confirmed); the next start purges the old ones
        pub = Publisher(config, db, clock=clock)
        pub.start()
        assert pub.wait_drained(15)
        pub.stop()
    finally:
        central.stop()
    left = [r[0] for r in journal.db.execute("select seq from events order by seq")]
    assert left == [3]
    assert journal.last_seq == 3  # seq stays gapless after a purge
    journal.close()


def test_sync_off_counts_pending_and_sends_nothing(tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", 9, mqtt="enabled = false")
    config = load(cfg_path)
    db = tmp_path / "journal.db"
    simulate.run(example_lines(1)[:5], config, db, tmp_path / "sim")
    pub = Publisher(config, db)
    pub.start()
    try:
        st = wait_until(lambda: (s := pub.status())["last_error"] and s, what="the publisher to start")
    finally:
        pub.stop()
    assert st["online"] is False and st["pending"] == 5 and "mqtt.enabled" in st["last_error"]
    assert not pub.running
    done = run_cli("--config", str(cfg_path), "sync", "--once", "--db", str(db))
    assert done.returncode == 2 and "mqtt.enabled is false" in done.stderr
