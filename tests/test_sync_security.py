"""A broker no kiosk can abuse, against the provisioning config on a real
mosquitto: client ids bound to usernames, only central writes acks, central writes no events,
the v3.1.1 silent refusal made visible, one driver per journal."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.shelf import simulate
from kiosk.wire.journal import Journal
from kiosk.shelf.publisher import Publisher
from .mqtt_broker import (day_n, USERS, broker, bulk_events, env, example_lines, kiosk_cmd,  # noqa: F401
                         kiosk_config, load, needs_mosquitto, prov_broker, wait_until)
from .test_sync_provisioning import creds, start_central

pytestmark = needs_mosquitto


def raw_client(port, user, client_id, protocol=mqtt.MQTTv5, clean_start=True):
    got = {"rc": None, "pubacks": [], "disconnected": []}
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    c.username_pw_set(user, USERS[user])
    c.on_connect = lambda cl, u, f, rc, p: got.__setitem__("rc", rc)
    c.on_publish = lambda cl, u, mid, rc, p: got["pubacks"].append(rc)
    c.on_disconnect = lambda cl, u, f, rc, p: got["disconnected"].append(rc)
    if protocol == mqtt.MQTTv5:
        c.connect("127.0.0.1", port, clean_start=clean_start)
    else:
        c.connect("127.0.0.1", port)
    c.loop_start()
    wait_until(lambda: got["rc"] is not None, what="CONNACK")
    return c, got


def event(kiosk="kiosk-1", seq=1):
    return json.dumps({"v": 1, "id": str(uuid.uuid4()), "journal": str(uuid.uuid4()), "kiosk": kiosk,
                       "site": "demo", "seq": seq, "ts": "2026-11-23T07:05:00.000Z", "day": "2026-11-23",
                       "operator": "ANNA", "type": "sorted", "data": {"pile": "dodsbo"}})


def test_client_id_takeover_is_refused_victim_and_central_queue_survive(prov_broker, tmp_path):
    b = prov_broker
    central = start_central(b, tmp_path)
    cfg = load(kiosk_config(tmp_path / "k1.toml", b.port, mqtt=creds("demo/kiosk-1")))
    db = tmp_path / "k1.db"
    pub = Publisher(cfg, db)
    pub.start()
    try:
        wait_until(lambda: pub.status()["online"], what="kiosk-1 online")
        connected_at = pub.status()["connected_at"]
        # kiosk-2's credentials with kiosk-1's client id: the broker makes it "demo/kiosk-2"
        thief, got = raw_client(b.port, "demo/kiosk-2", "returpost-demo-kiosk-1")
        time.sleep(1.0)
        assert not got["rc"].is_failure
        st = pub.status()
        assert st["online"] and st["connected_at"] == connected_at, st  # the victim kept its session
        thief.loop_stop()
        thief.disconnect()
        # central away; kiosk-1 sends 50; kiosk-2 connects with central's client id, clean start
        central.stop()
        j = Journal(db, "demo", "kiosk-1")
        bulk_events(j, 50)
        j.close()
        wait_until(lambda: pub.status()["sent_seq"] == 50, what="the broker to queue 50 for central")
        thief, got = raw_client(b.port, "demo/kiosk-2", "returpost-central", clean_start=True)
        assert not got["rc"].is_failure
        thief.loop_stop()
        thief.disconnect()
        central = start_central(b, tmp_path)  # its queue is intact: all 50 arrive, the kiosk sees the ack
        assert pub.wait_drained(30), pub.status()
        assert central.snapshot().get("stored", 0) == 50
    finally:
        pub.stop()
        central.stop()


def test_only_central_writes_acks_and_central_writes_no_events(prov_broker, tmp_path):
    b = prov_broker
    kiosk, got = raw_client(b.port, "demo/kiosk-1", "x")
    fake_ack = json.dumps({"v": 1, "journals": {}})
    kiosk.publish("returpost/v1/demo/kiosk-1/ack", fake_ack, qos=1)
    kiosk.publish("returpost/v1/demo/kiosk-1/inbox", "{}", qos=1)
    wait_until(lambda: len(got["pubacks"]) == 2 or got["disconnected"], what="the broker's answers")
    kiosk.loop_stop()
    central, cgot = raw_client(b.port, "central", "c")
    central.publish("returpost/v1/demo/kiosk-1/events", event(), qos=1)
    central.publish("returpost/v1/central/events", event(), qos=1)
    central.publish("returpost/v1/demo/kiosk-1/ack", fake_ack, qos=1, retain=True)
    wait_until(lambda: len(cgot["pubacks"]) == 3, what="the broker's answers to central")
    central.loop_stop()
    central.disconnect()
    assert all(rc.is_failure for rc in got["pubacks"]) or got["disconnected"]
    assert [rc.value for rc in cgot["pubacks"][:2]] == [135, 135]  # not authorized
    assert not cgot["pubacks"][2].is_failure  # central may write acks


def test_v311_denied_publish_stays_unconfirmed_and_says_why(prov_broker, tmp_path):
    """Under MQTT v3.1.1 the broker acknowledges a publish its ACL refuses. The kiosk marks it
    sent, never confirmed; its status, `kiosk status` and `kiosk doctor` say why."""
    b = prov_broker
    central = start_central(b, tmp_path)
    cfg_path = kiosk_config(tmp_path / "bad.toml", b.port, kiosk="kiosk-2",
                            mqtt=creds("demo/kiosk-1") + 'protocol = "v311"\nack_timeout = 1.0\n')
    cfg = load(cfg_path)
    db = tmp_path / "bad.db"
    simulate.run(example_lines(1), cfg, db, tmp_path / "sim")
    pub = Publisher(cfg, db)
    pub.start()
    try:
        st = wait_until(lambda: (s := pub.status())["sent_seq"] == day_n() and s["last_error"]
                        and "not confirmed" in s["last_error"] and s, timeout=30,
                        what="the events sent and the complaint")
        assert st["confirmed_seq"] == 0 and st["pending"] == day_n()
        assert "v3.1.1" in st["last_error"]
        assert not pub.wait_drained(0.5)
    finally:
        pub.stop()
        central.stop()
    assert central.snapshot().get("stored", 0) == 0
    status = subprocess.run(kiosk_cmd("--config", str(cfg_path), "status", "--db", str(db)),
                            env=env(), capture_output=True, text=True, timeout=60)
    doc = json.loads(status.stdout)
    assert doc["confirmed_by_central"] == 0 and doc["sent"] == day_n() and doc["pending"] == day_n()
    assert "v3.1.1" in doc["why"] and doc["oldest_unconfirmed_age_s"] > 0
    j = Journal(db, "demo", "kiosk-2")
    assert j.pending_count() == day_n()
    assert j.purge_synced(dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)) == 0  # nothing confirmed
    j.close()


def test_kiosk_sync_refuses_while_the_kiosks_publisher_drives_the_journal(broker, tmp_path):
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    db = tmp_path / "journal.db"
    simulate.run(example_lines(1)[:5], load(cfg_path), db, tmp_path / "sim")
    pub = Publisher(load(cfg_path), db)
    pub.start()
    try:
        wait_until(lambda: pub.status()["online"], what="the kiosk's publisher")
        done = subprocess.run(kiosk_cmd("--config", str(cfg_path), "sync", "--once", "--db", str(db),
                                        "--timeout", "5"), env=env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 5, done.stderr
        assert "already sends this journal's events" in done.stderr and "pid " in done.stderr
        assert pub.status()["online"]  # the running publisher was not disturbed
    finally:
        pub.stop()
    # once it has stopped, kiosk sync may drive the journal (exit 4: no central confirms here)
    done = subprocess.run(kiosk_cmd("--config", str(cfg_path), "sync", "--once", "--db", str(db),
                                    "--timeout", "3"), env=env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 4 and "not confirmed by central" in done.stderr
