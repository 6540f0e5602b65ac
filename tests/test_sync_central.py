"""Central's store and sheet without a broker: dedupe, seq conflicts, gaps, status, the CLI; on
both engines (`central_db`), the round trip through a real broker into PostgreSQL too."""

from __future__ import annotations

import json
import subprocess
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.shelf import simulate
from kiosk.wire.journal import Journal
from kiosk.central import report as central_report
from kiosk.core import followup
from kiosk.central.collector import Central
from kiosk.central.store import CentralStore
from kiosk.shelf.publisher import Publisher
from .mqtt_broker import broker, env, example_lines, kiosk_cmd, kiosk_config, load, needs_mosquitto, wait_until  # noqa: F401

T = "returpost/v1/demo/kiosk-1/events"


def day_events(tmp_path, config=None):
    """The example day as the kiosk's journal holds it: (event dicts, raw payloads)."""
    config = config or load(kiosk_config(tmp_path / "k.toml", 1883))
    db = tmp_path / "journal.db"
    simulate.run(example_lines(1), config, db, tmp_path / "sim")
    j = Journal(db, "demo", "kiosk-1")
    raw = [p.encode() for (p,) in j.db.execute("select payload from events order by seq")]
    j.close()
    return [json.loads(p) for p in raw], raw


def test_duplicates_dropped_by_id_and_reused_seq_dead_lettered(tmp_path, central_db):
    events, raw = day_events(tmp_path)
    store = CentralStore(central_db)
    try:
        first = store.ingest([(T, p) for p in raw[:40]])
        assert first["stored"] == 40
        again = store.ingest([(T, p) for p in raw])  # 40 redelivered, 23 new, in one batch
        assert again["duplicate"] == 40 and again["stored"] == len(raw) - 40
        same_batch = store.ingest([(T, raw[0]), (T, raw[0])])
        assert same_batch["duplicate"] == 2
        forged = {**events[5], "id": str(uuid.uuid4())}  # seq 6 again, under a new id
        out = store.ingest([(T, json.dumps(forged).encode())])
        assert out["dead"] == 1 and out.get("stored", 0) == 0
        reason = store.conn.execute("select reason from dead_letters").fetchone()[0]
        assert "already stored under another id" in reason
        assert store.count("events") == len(raw)
    finally:
        store.close()


def test_gaps_are_found_and_named_in_the_report(tmp_path, central_db):
    events, raw = day_events(tmp_path)
    store = CentralStore(central_db)
    try:
        store.ingest([(T, p) for i, p in enumerate(raw) if i not in (9, 10, 11)])
        jid = events[0]["journal"]
        assert store.gaps() == [{"site": "demo", "kiosk": "kiosk-1", "journal": jid, "from_seq": 10, "to_seq": 12}]
        status = {"v": 1, "site": "demo", "kiosk": "kiosk-1", "online": True, "pending": 0,
                  "last_seq": len(raw) + 5, "journal": jid, "journal_start": 1, "version": "x"}
        assert store.ingest([("returpost/v1/demo/kiosk-1/status", json.dumps(status).encode())])["status"] == 1
        gaps = store.gaps()
        assert gaps[-1]["from_seq"] == len(raw) + 1 and gaps[-1]["to_seq"] == len(raw) + 5
        assert gaps[-1]["note"] == "the kiosk has these, not (yet) received"
        assert store.kiosks()[0]["online"] is True
    finally:
        store.close()
    rows, problems = central_report.rows(central_db)
    assert len(rows) == 1
    assert any("seq 10..12 missing" in p and "2026-11-23" in p for p in problems)
    done = subprocess.run(kiosk_cmd("report", "--central", central_db, "--format", "csv"),
                          env=env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "seq 10..12 missing" in done.stderr
    gaps = subprocess.run(kiosk_cmd("central", "--gaps", "--db", central_db),
                          env=env(), capture_output=True, text=True, timeout=60)
    doc = json.loads(gaps.stdout)
    assert doc["events"] == len(raw) - 3 and doc["gaps"][0]["from_seq"] == 10


def test_late_events_close_the_gap_and_the_row_matches(tmp_path, central_db):
    events, raw = day_events(tmp_path)
    store = CentralStore(central_db)
    try:
        store.ingest([(T, p) for p in reversed(raw)])  # any order: the row replays by seq
        assert store.gaps() == []
    finally:
        store.close()
    rows, problems = central_report.rows(central_db)
    j = Journal(tmp_path / "journal.db", "demo", "kiosk-1")

    mine = [followup.follow_up_row(s, "demo", "kiosk-1") for s in followup.day_summaries(j)]
    j.close()
    assert rows == mine and problems == []


def test_kiosk_report_writes_xlsx_too(tmp_path):
    cfg = kiosk_config(tmp_path / "k.toml", 1883)
    day_events(tmp_path, load(cfg))
    out = tmp_path / "kiosk.xlsx"
    done = subprocess.run(kiosk_cmd("--config", str(cfg), "report", "--db", str(tmp_path / "journal.db"),
                                    "--format", "xlsx", "--out", str(out)),
                          env=env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    as_json = subprocess.run(kiosk_cmd("--config", str(cfg), "report", "--db", str(tmp_path / "journal.db")),
                             env=env(), capture_output=True, text=True, timeout=60)
    assert followup.read_xlsx(out) == json.loads(as_json.stdout)
    no_out = subprocess.run(kiosk_cmd("report", "--central", str(tmp_path / "missing.db"), "--format", "xlsx"),
                            env=env(), capture_output=True, text=True, timeout=60)
    assert no_out.returncode == 2


@needs_mosquitto
def test_no_personnummer_ever_reaches_mqtt(broker, tmp_path, central_db):
    """The example day prints two dödsbo labels with personnummer; nothing on the wire has them."""
    config = load(kiosk_config(tmp_path / "kiosk.toml", broker.port))
    seen: list[bytes] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = lambda c, u, m: seen.append(m.payload)
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("#", qos=1)
    sub.loop_start()
    central = Central(config, central_db).start()
    try:
        assert central.wait_subscribed(10)
        day_events(tmp_path, config)
        pub = Publisher(config, tmp_path / "journal.db")
        pub.start()
        assert pub.wait_drained(15)
        pub.stop()
        wait_until(lambda: len(seen) >= 63, what="the day on the wire")
    finally:
        central.stop()
        sub.loop_stop()
        sub.disconnect()
    store = CentralStore(central_db)  # drained = acknowledged by central's ack: stored, on either engine
    try:
        assert store.count("events") == len(day_events(tmp_path / "again", config)[1])
    finally:
        store.close()
    wire = b"\n".join(seen)
    assert b"dodsbo_label_printed" in wire
    for pnr in (b"19121212", b"121212-1212", b"1212121212", b"8112189876"):
        assert pnr not in wire


def test_one_row_per_day_and_site_kiosk(tmp_path, central_db):

    store = CentralStore(central_db)
    mine = []
    try:
        for site, kiosk, days in (("demo", "kiosk-1", 2), ("norr", "k9", 1)):
            config = load(kiosk_config(tmp_path / f"{kiosk}.toml", 1883, site=site, kiosk=kiosk))
            db = tmp_path / f"{kiosk}.db"
            simulate.run(example_lines(days), config, db, tmp_path / f"sim-{kiosk}")
            j = Journal(db, site, kiosk)
            raw = [p.encode() for (p,) in j.db.execute("select payload from events order by seq")]
            mine += [followup.follow_up_row(s, site, kiosk) for s in followup.day_summaries(j)]
            j.close()
            assert store.ingest([(f"returpost/v1/{site}/{kiosk}/events", p) for p in raw])["stored"] == len(raw)
    finally:
        store.close()
    rows, problems = central_report.rows(central_db)
    assert problems == []
    assert [(r["day"], r["site"], r["kiosk"]) for r in rows] == [
        ("2026-11-23", "demo", "kiosk-1"), ("2026-11-23", "norr", "k9"), ("2026-11-24", "demo", "kiosk-1")]
    assert sorted(rows, key=lambda r: (r["site"], r["day"])) == sorted(mine, key=lambda r: (r["site"], r["day"]))
