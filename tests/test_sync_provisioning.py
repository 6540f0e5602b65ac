"""The provisioning material (provisioning/mosquitto/) against a real mosquitto: per-kiosk
credentials, the ACL, the TLS listener with a test CA, and the password file generator."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.shelf import simulate
from kiosk.wire.journal import Journal
from kiosk.central.collector import Central
from kiosk.central.store import CentralStore
from kiosk_dev.localbroker import PROVISIONING
from kiosk.shelf.publisher import Publisher
from .mqtt_broker import (day_n, USERS, env, example_lines, kiosk_cmd, kiosk_config, load,  # noqa: F401
                         needs_mosquitto, prov_broker, wait_until)

pytestmark = needs_mosquitto

CENTRAL = '[central]\nusername = "central"\npassword = "central-secret"\n'


def creds(user):
    return f'username = "{user}"\npassword = "{USERS[user]}"\n'


def tls(b):
    return f'tls = true\nca_file = "{b.ca_file}"\n'


def start_central(b, tmp_path):
    cfg = load(kiosk_config(tmp_path / "central.toml", b.port, tail=CENTRAL))
    central = Central(cfg, tmp_path / "central.db").start()
    assert central.wait_subscribed(10), central.last_error
    return central


def test_kiosk_cannot_publish_into_another_kiosks_topic(prov_broker, tmp_path):
    b = prov_broker
    central = start_central(b, tmp_path)
    try:
        # kiosk-1's credentials on a kiosk configured as kiosk-2: the broker refuses every event
        cfg_bad = load(kiosk_config(tmp_path / "bad.toml", b.port, kiosk="kiosk-2", mqtt=creds("demo/kiosk-1")))
        bad_db = tmp_path / "bad.db"
        simulate.run(example_lines(1), cfg_bad, bad_db, tmp_path / "sim-bad")
        bad = Publisher(cfg_bad, bad_db)
        bad.start()
        st = wait_until(lambda: (s := bad.status())["last_error"] and "refused" in s["last_error"] and s,
                        what="the broker to refuse")
        assert "Not authorized" in st["last_error"]

        # the same through MQTT v3.1.1 (no reason codes there: the broker drops it silently)
        forged = {"v": 1, "id": str(uuid.uuid4()), "kiosk": "kiosk-2", "site": "demo", "seq": 999,
                  "ts": "2026-11-23T07:05:00.000Z", "day": "2026-11-23", "operator": "ANNA",
                  "type": "sorted", "data": {"pile": "dodsbo"}}
        raw = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        raw.username_pw_set("demo/kiosk-1", USERS["demo/kiosk-1"])
        raw.connect("127.0.0.1", b.port)
        raw.loop_start()
        raw.publish("returpost/v1/demo/kiosk-2/events", json.dumps(forged), qos=1).wait_for_publish(10)
        raw.publish("returpost/v1/other/kiosk-1/events", json.dumps({**forged, "site": "other"}),
                    qos=1).wait_for_publish(10)
        raw.loop_stop()
        raw.disconnect()

        # kiosk-1 on its own topic goes through: a barrier after the forged messages
        cfg_good = load(kiosk_config(tmp_path / "good.toml", b.port, mqtt=creds("demo/kiosk-1")))
        good_db = tmp_path / "good.db"
        simulate.run(example_lines(1), cfg_good, good_db, tmp_path / "sim-good")
        good = Publisher(cfg_good, good_db)
        good.start()
        assert good.wait_drained(15)
        good.stop()
        wait_until(lambda: central.snapshot().get("stored", 0) >= day_n(), what="kiosk-1's events at central")
        st = bad.status()
        bad.stop()
    finally:
        central.stop()
    assert st["pending"] == day_n() and st["last_seq"] == 0  # nothing marked sent
    j = Journal(bad_db, "demo", "kiosk-2")
    assert j.pending_count() == day_n()
    j.close()
    store = CentralStore(tmp_path / "central.db")
    try:
        per_kiosk = store.conn.execute("select site, kiosk, count(*) from events group by 1, 2").fetchall()
        assert per_kiosk == [("demo", "kiosk-1", day_n())]
        assert store.count("dead_letters") == 0  # never reached central at all
    finally:
        store.close()


def test_tls_listener_with_test_ca(prov_broker, tmp_path):
    b = prov_broker
    central = start_central(b, tmp_path)
    try:
        cfg_path = kiosk_config(tmp_path / "kiosk.toml", b.tls_port, mqtt=creds("demo/kiosk-1") + tls(b))
        db = tmp_path / "journal.db"
        simulate.run(example_lines(1), load(cfg_path), db, tmp_path / "sim")
        done = subprocess.run(kiosk_cmd("--config", str(cfg_path), "sync", "--once", "--db", str(db),
                                        "--timeout", "20"), env=env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert f"mqtts://demo/kiosk-1@127.0.0.1:{b.tls_port}" in done.stdout
        wait_until(lambda: central.snapshot().get("stored", 0) == day_n(), what="events over TLS at central")
    finally:
        central.stop()
    # secrets never in the output
    assert USERS["demo/kiosk-1"] not in done.stdout + done.stderr


def test_tls_refuses_a_server_the_ca_did_not_sign(prov_broker, tmp_path):
    b = prov_broker
    other = tmp_path / "other-ca"
    subprocess.run([str(PROVISIONING / "make-test-ca"), str(other)], check=True, capture_output=True)
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", b.tls_port,
                            mqtt=creds("demo/kiosk-1") + f'tls = true\nca_file = "{other}/ca.crt"\n')
    db = tmp_path / "journal.db"
    simulate.run(example_lines(1)[:3], load(cfg_path), db, tmp_path / "sim")
    done = subprocess.run(kiosk_cmd("--config", str(cfg_path), "sync", "--once", "--db", str(db),
                                    "--timeout", "2"), env=env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr or "certificate verify failed" in done.stderr


def test_wrong_password_is_refused_and_not_logged(prov_broker, tmp_path):
    b = prov_broker
    cfg_path = kiosk_config(tmp_path / "kiosk.toml", b.port,
                            mqtt='username = "demo/kiosk-1"\npassword = "wrong-secret-xyz"\n')
    db = tmp_path / "journal.db"
    simulate.run(example_lines(1)[:3], load(cfg_path), db, tmp_path / "sim")
    done = subprocess.run(kiosk_cmd("--config", str(cfg_path), "-v", "sync", "--once", "--db", str(db),
                                    "--timeout", "2"), env=env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "broker refused" in done.stderr
    assert "wrong-secret-xyz" not in done.stdout + done.stderr


def test_make_passwd_rejects_bad_users_and_writes_snippets(tmp_path):
    tool = [sys.executable, str(PROVISIONING / "make-passwd"), str(tmp_path / "out")]
    bad = subprocess.run(tool, input="demo/kiosk 1\n", text=True, capture_output=True)
    assert bad.returncode == 0  # "demo/kiosk" with password "1"
    bad = subprocess.run(tool, input="demo/kiosk+1\n", text=True, capture_output=True)
    assert bad.returncode == 2 and "bad user" in bad.stderr
    bad = subprocess.run(tool, input="demo/a/b\n", text=True, capture_output=True)
    assert bad.returncode == 2
    ok = subprocess.run(tool, input="# kiosks\ncentral\ndemo/kiosk-1 s3cret\n", text=True, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    assert "s3cret" not in ok.stdout + ok.stderr
    passwd = (tmp_path / "out" / "passwd").read_text()
    assert passwd.startswith("central:$7$") and "demo/kiosk-1:$7$" in passwd and "s3cret" not in passwd
    snippet = (tmp_path / "out" / "credentials" / "demo__kiosk-1.toml").read_text()
    assert snippet == '[mqtt]\nusername = "demo/kiosk-1"\npassword = "s3cret"\n'
    assert (tmp_path / "out" / "passwd").stat().st_mode & 0o077 == 0


def test_every_central_consumer_user_has_centrals_rules_and_make_passwd_follows_the_acl(tmp_path):
    """Several central consumers (a shared subscription) get a user each; the acl's blocks are
    the list: each has exactly central's rules (its own deny line aside), make-passwd accepts
    those users and refuses a central user the acl has no block for."""
    blocks: dict[str, list[str]] = {}
    user = None
    for line in (PROVISIONING / "acl").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            user = None if not parts else user
            continue
        if parts[0] == "user":
            user = parts[1]
            blocks[user] = []
        elif user is not None and parts[0] == "topic":
            blocks[user].append(line.replace(f"/{user}/", "/<self>/"))
    centrals = sorted(u for u in blocks if u.startswith("central"))
    assert centrals == ["central", "central-2", "central-3", "central-4"]
    for u in centrals:
        assert blocks[u] == blocks["central"] and "topic deny returpost/v1/<self>/#" in blocks[u], u
    tool = [sys.executable, str(PROVISIONING / "make-passwd"), str(tmp_path / "out")]
    ok = subprocess.run(tool, input="\n".join(centrals) + "\n", text=True, capture_output=True)
    assert ok.returncode == 0, ok.stderr
    for u in centrals:
        assert (tmp_path / "out" / "credentials" / f"{u}.toml").read_text().startswith("[central]\nusername")
    bad = subprocess.run(tool, input="central-5\n", text=True, capture_output=True)
    assert bad.returncode == 2 and "no block" in bad.stderr
