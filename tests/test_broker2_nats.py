"""The second broker engine, NATS (provisioning/nats/), beside mosquitto: the kiosk -> broker ->
central round trip through the public CLI, and what the broker lets each user do.

nats-server 2.9 speaks MQTT 3.1.1 only: kiosks and central run with `mqtt.protocol = "v311"`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk_dev.natsbroker import PROVISIONING
from .broker2_harness import (USERS, CentralProcess, central_ids, config, example_script, journal_ids,  # noqa: F401
                              nats, needs_nats, report, run_cli, simulate, wait_until)

pytestmark = needs_nats


def test_round_trip_two_kiosks_over_tls_rows_equal_the_kiosks(nats, tmp_path):
    """Two kiosks' days -> `kiosk sync --once` -> NATS (TLS, per-kiosk users) -> `kiosk central`
    -> `kiosk report --central` gives each kiosk's own follow-up rows, byte for byte."""
    central_cfg = config(tmp_path / "central.toml", nats, "central", central=True)
    central_db = tmp_path / "central.db"
    central = CentralProcess(central_cfg, central_db, tmp_path / "central.log").start(nats)
    kiosks = {"kiosk-1": 2, "kiosk-2": 1}
    try:
        for kiosk, days in kiosks.items():
            cfg = config(tmp_path / f"{kiosk}.toml", nats, f"demo/{kiosk}", kiosk=kiosk)
            db = tmp_path / f"{kiosk}.db"
            simulate(cfg, example_script(tmp_path / f"{kiosk}.jsonl", days=days), db)
            done = run_cli("--config", str(cfg), "sync", "--once", "--db", str(db), "--timeout", "60")
            assert done.returncode == 0, done.stderr
        for kiosk in kiosks:
            want = journal_ids(tmp_path / f"{kiosk}.db")
            wait_until(lambda kiosk=kiosk, want=want: len(central_ids(central_db, kiosk=kiosk)) >= len(want),
                       what=f"central to store {kiosk}'s events")
    finally:
        central.stop()
    assert central.proc.returncode == 0, central.log()
    for kiosk in kiosks:
        assert central_ids(central_db, kiosk=kiosk) == journal_ids(tmp_path / f"{kiosk}.db")
    central_rows, problems = report("--central", str(central_db))
    assert problems == ""  # no gaps, no warnings
    rows = json.loads(central_rows)
    assert [(r["day"], r["kiosk"]) for r in rows] == [
        ("2026-11-23", "kiosk-1"), ("2026-11-23", "kiosk-2"), ("2026-11-24", "kiosk-1")]
    for kiosk in kiosks:
        mine, _ = report("--db", str(tmp_path / f"{kiosk}.db"), cfg=tmp_path / f"{kiosk}.toml")
        assert [r for r in rows if r["kiosk"] == kiosk] == json.loads(mine)
    assert rows[0]["scans_accepted"] > 0 and rows[0]["alerts"] > 0  # a real day, not an empty one


# -- what the broker lets each user do (the twin of provisioning/mosquitto/acl) --------------------

def client(nats, user: str, client_id: str, password: str | None = None):
    """A connected MQTT 3.1.1 client over TLS; `.got` collects (topic, payload, retain),
    `.subacks` the granted/refused codes, `.rc` the CONNACK reason."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    c.username_pw_set(user, USERS.get(user, "") if password is None else password)
    c.tls_set(ca_certs=str(nats.ca_file))
    c.got, c.subacks, c.rc = [], [], None
    c.on_message = lambda cl, u, m: c.got.append((m.topic, m.payload, bool(m.retain)))
    c.on_subscribe = lambda cl, u, mid, rcs, p: c.subacks.append([r.is_failure for r in rcs])

    def on_connect(cl, u, flags, rc, props):
        c.rc = rc

    c.on_connect = on_connect
    c.connect("127.0.0.1", nats.port)
    c.loop_start()
    wait_until(lambda: c.rc is not None, timeout=10, what=f"CONNACK for {user}")
    return c


def subscribe(c, topic: str) -> bool:
    """True if the broker granted the subscription."""
    before = len(c.subacks)
    c.subscribe(topic, qos=1)
    wait_until(lambda: len(c.subacks) > before, timeout=10, what=f"SUBACK for {topic}")
    return not c.subacks[before][0]


def close(*clients):
    for c in clients:
        c.disconnect()
        c.loop_stop()


def test_permissions_mirror_the_mosquitto_acl(nats):
    central = client(nats, "central", "t-central")
    k1 = client(nats, "demo/kiosk-1", "t-k1")
    k2 = client(nats, "demo/kiosk-2", "t-k2")
    try:
        assert not central.rc.is_failure and not k1.rc.is_failure
        assert subscribe(central, "returpost/v1/+/+/events")
        assert subscribe(central, "returpost/v1/+/+/alerts")
        assert subscribe(central, "returpost/v1/+/+/ack")  # central reads back the acks on the broker
        # a kiosk may read only its own ack and inbox
        assert subscribe(k1, "returpost/v1/demo/kiosk-1/ack")
        assert subscribe(k1, "returpost/v1/demo/kiosk-1/inbox")
        assert not subscribe(k1, "returpost/v1/demo/kiosk-2/ack")
        assert not subscribe(k1, "returpost/v1/+/+/events")  # no reading other kiosks' events
        assert not subscribe(k1, "$MQTT/sub/#")  # nor NATS's delivery subjects for central's session
        # forged writes: into another kiosk's events, and an ack only central may write
        k1.publish("returpost/v1/demo/kiosk-2/events", b"forged", qos=1).wait_for_publish(10)
        k1.publish("returpost/v1/demo/kiosk-1/ack", b'{"forged": true}', qos=1, retain=True).wait_for_publish(10)
        # central writes the retained ack and inbox
        central.publish("returpost/v1/demo/kiosk-1/ack", b'{"seq": 7}', qos=1, retain=True).wait_for_publish(10)
        central.publish("returpost/v1/demo/kiosk-1/inbox", b'{"items": []}', qos=1, retain=True).wait_for_publish(10)
        # then the real thing, from the right kiosk: once it arrives, anything forged before it would have too
        k1.publish("returpost/v1/demo/kiosk-1/alerts", b"real-1", qos=1).wait_for_publish(10)
        k2.publish("returpost/v1/demo/kiosk-2/events", b"real-2", qos=1).wait_for_publish(10)
        wait_until(lambda: {p for _, p, _ in central.got} >= {b"real-1", b"real-2"}, timeout=15,
                   what="the real messages at central")
        wait_until(lambda: len(k1.got) >= 2, timeout=15, what="central's ack and inbox at the kiosk")
        assert b"forged" not in {p for _, p, _ in central.got}
        # two subjects: NATS keeps the order within a subject, not across them (a loaded machine
        # delivers the inbox first now and then)
        assert sorted((t, p) for t, p, _ in k1.got) == [("returpost/v1/demo/kiosk-1/ack", b'{"seq": 7}'),
                                                        ("returpost/v1/demo/kiosk-1/inbox", b'{"items": []}')]
    finally:
        close(central, k1, k2)
    # the retained ack is central's, and a kiosk that subscribes later gets it
    late = client(nats, "demo/kiosk-1", "t-k1-late")
    try:
        assert subscribe(late, "returpost/v1/demo/kiosk-1/ack")
        wait_until(lambda: late.got, timeout=15, what="the retained ack")
        assert late.got == [("returpost/v1/demo/kiosk-1/ack", b'{"seq": 7}', True)]
    finally:
        close(late)


def test_refusals_wrong_password_v5_share_and_the_nats_port(nats):
    bad = client(nats, "demo/kiosk-1", "t-bad", password="N0t-the-Passw0rd")
    close(bad)
    assert bad.rc.is_failure and "authorized" in str(bad.rc).lower()
    log = nats.log_text()
    assert "authentication error" in log
    assert "N0t-the-Passw0rd" not in log and "k1-secret" not in log
    # MQTT v5 is refused with "unsupported protocol version" (what the kiosk's v5->v3.1.1 fallback keys on)
    v5 = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t-v5", protocol=mqtt.MQTTv5)
    v5.username_pw_set("central", USERS["central"])
    v5.tls_set(ca_certs=str(nats.ca_file))
    codes = []
    v5.on_connect = lambda c, u, f, rc, p: codes.append(rc)
    v5.connect("127.0.0.1", nats.port)
    v5.loop_start()
    wait_until(lambda: codes, timeout=10, what="the v5 CONNACK")
    close(v5)
    assert codes[0].is_failure and "protocol version" in str(codes[0]).lower()
    # no shared subscriptions: `$share/...` is no special topic here, and the permissions refuse it
    c = client(nats, "central", "t-share")
    try:
        assert not subscribe(c, "$share/central/returpost/v1/+/+/events")
    finally:
        close(c)
    # the NATS protocol port refuses every returpost user (allowed_connection_types: MQTT)
    with socket.create_connection(("127.0.0.1", nats.nats_port), timeout=5) as s:
        s.settimeout(5)
        assert s.recv(4096).startswith(b"INFO")
        s.sendall(b'CONNECT {"user":"central","pass":"central-secret","verbose":false}\r\nPING\r\n')
        answer = b""
        deadline = time.monotonic() + 5
        while b"\r\n" not in answer and time.monotonic() < deadline:
            answer += s.recv(4096)
    assert answer.startswith(b"-ERR") and b"Authorization" in answer


def test_another_user_taking_centrals_client_id_gets_no_events(nats):
    """No client-id binding in NATS 2.9: kiosk-2's credentials with central's client id resume
    central's persistent session (and kick central off) but the permissions are checked again,
    so its queued events stay with central, which gets them when it is back."""
    def persistent(user, client_id):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                        clean_session=False)
        c.username_pw_set(user, USERS[user])
        c.tls_set(ca_certs=str(nats.ca_file))
        c.got, c.present = [], []
        c.on_message = lambda cl, u, m: c.got.append(m.payload)
        c.on_connect = lambda cl, u, flags, rc, p: c.present.append((rc.is_failure, flags.session_present))
        c.connect("127.0.0.1", nats.port)
        c.loop_start()
        wait_until(lambda: c.present, timeout=10, what=f"CONNACK for {user}")
        return c

    central = persistent("central", "returpost-central")
    central.subscribe("returpost/v1/+/+/events", qos=1)
    wait_until(lambda: "returpost.v1.*.*.events" in nats.subscriptions("returpost-central"), what="the subscription")
    close(central)
    k1 = client(nats, "demo/kiosk-1", "t-k1")
    k1.publish("returpost/v1/demo/kiosk-1/events", b"queued-for-central", qos=1).wait_for_publish(10)
    close(k1)
    thief = persistent("demo/kiosk-2", "returpost-central")
    try:
        assert thief.present == [(False, True)]  # it did resume central's session
        wait_until(lambda: "Subscription Violation" in nats.log_text(), timeout=15, what="the refusal")
    finally:
        close(thief)
    assert thief.got == []  # and had it got the event, it would have acked it away from central:
    back = persistent("central", "returpost-central")
    try:
        wait_until(lambda: back.got, timeout=15, what="central's queued event")
        assert back.got == [b"queued-for-central"]
    finally:
        close(back)


def test_make_users_rejects_bad_users_and_writes_snippets(tmp_path):
    make = [sys.executable, str(PROVISIONING / "make-users")]
    fast = dict(os.environ, RETURPOST_BCRYPT_ROUNDS="4")
    for bad in ("demo/kiosk-1/x", "Central", "demo/kiosk.1", "demo/kiosk-1 pass\"word"):
        done = subprocess.run(make + [str(tmp_path / "bad")], input=bad + "\n", text=True,
                              capture_output=True, env=fast)
        assert done.returncode == 2, bad
    assert not (tmp_path / "bad" / "users.conf").exists()
    done = subprocess.run(make + [str(tmp_path / "out")], input="# kiosks\ncentral s3cret-c\ncentral-2\nnorr/k9 s3cret-k\n",
                          text=True, capture_output=True, env=fast)
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    conf = (tmp_path / "out" / "users.conf").read_text()
    assert "s3cret" not in conf and conf.count('"$2a$04$') == 3
    users = {json.loads(line)["user"]: json.loads(line) for line in conf.splitlines() if line.startswith("    {")}
    assert users["central-2"]["permissions"] == users["central"]["permissions"]
    assert users["norr/k9"]["permissions"]["publish"]["allow"] == [
        "returpost.v1.norr.k9.events", "returpost.v1.norr.k9.status", "returpost.v1.norr.k9.alerts"]
    assert all(u["allowed_connection_types"] == ["MQTT"] for u in users.values())
    assert oct((tmp_path / "out" / "users.conf").stat().st_mode & 0o777) == "0o600"
    snippet = (tmp_path / "out" / "credentials" / "norr__k9.toml").read_text()
    assert snippet == '[mqtt]\nusername = "norr/k9"\npassword = "s3cret-k"\n'
    assert (tmp_path / "out" / "credentials" / "central-2.toml").read_text().startswith("[central]\n")
