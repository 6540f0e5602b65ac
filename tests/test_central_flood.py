"""Under a garbage flood from one kiosk, good events from the others keep flowing.

Central sheds a sender over its dead-letter budget by topic (kiosk/central/shedding.py) and reads
the broker through kiosk.wire.mqtt.LeanClient. Tested on the deployable broker config (ACL,
per-kiosk users, central over TLS; central's database on SQLite and on PostgreSQL): the flood is
counted exactly (dead letters + shed), the good
kiosk's events, sent while the flood runs, are all stored and confirmed by central's ack on the
wire, and the good kiosk is never shed. The speed figure is `kiosk bench-sync --flood-only`.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kiosk.central.collector import Central
from kiosk.central.shedding import FloodGuard, ShedCounts, attribute
from kiosk.central.store import CentralStore
from .mqtt_broker import USERS, env, kiosk_cmd, kiosk_config, load, needs_mosquitto, prov_broker, wait_until  # noqa: F401

GARBAGE = 10000
GOOD = 40
BUDGET = 50


def _client(b, user: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, USERS[user])
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    return c


def _event(jid: str, seq: int) -> bytes:
    return json.dumps({"v": 1, "id": str(uuid.uuid4()), "journal": jid, "kiosk": "kiosk-1", "site": "demo",
                       "seq": seq, "ts": "2026-11-23T08:00:00.000Z", "day": "2026-11-23", "operator": "ANNA",
                       "type": "sorted", "data": {"pile": "dodsbo"}}).encode()


@needs_mosquitto
def test_a_garbage_flood_is_shed_and_counted_while_good_events_are_stored_and_acked(prov_broker, tmp_path,
                                                                                 central_db):
    b = prov_broker
    tls = f'tls = true\nca_file = "{b.ca_file}"\n'
    tail = ('[central]\nusername = "central"\npassword = "central-secret"\n'
            f"dead_letters_per_kiosk_minute = {BUDGET}\n")
    cfg = load(kiosk_config(tmp_path / "central.toml", b.tls_port, mqtt=tls, tail=tail))
    db = central_db  # a SQLite file or a PostgreSQL database
    central = Central(cfg, db).start()
    flooder = good = None
    try:
        assert central.wait_subscribed(10), central.last_error

        # kiosk-1 hears central's end-to-end ack on the wire
        jid = str(uuid.uuid4())
        upto = [0]
        good = _client(b, "demo/kiosk-1")

        def on_ack(c, u, msg):
            doc = json.loads(msg.payload)
            upto[0] = max(upto[0], doc["journals"].get(jid, {}).get("upto", 0))

        good.on_message = on_ack
        good.connect("127.0.0.1", b.port)
        good.subscribe("returpost/v1/demo/kiosk-1/ack", qos=1)
        good.loop_start()

        flooder = _client(b, "demo/kiosk-2")
        flooded = [0]
        flooder.on_publish = lambda c, u, mid, rc, props: flooded.__setitem__(0, flooded[0] + 1)
        flooder.connect("127.0.0.1", b.port)
        flooder.loop_start()
        published = threading.Event()

        def flood():
            infos = [flooder.publish("returpost/v1/demo/kiosk-2/events", b"garbage %d {" % i, qos=1)
                     for i in range(GARBAGE)]
            for info in infos:
                info.wait_for_publish(60)
            published.set()

        t = threading.Thread(target=flood)
        t.start()
        # after the flood has begun: kiosk-1's events (some with MQTT v5 properties, which take
        # paho's own decoding), and a little garbage of its own, under its budget
        wait_until(lambda: flooded[0] >= 200, what="the flood to begin")
        expiry = Properties(PacketTypes.PUBLISH)
        expiry.MessageExpiryInterval = 3600
        for seq in range(1, GOOD + 1):
            good.publish("returpost/v1/demo/kiosk-1/events", _event(jid, seq), qos=1,
                         properties=expiry if seq % 5 == 0 else None)
            if seq % 8 == 0:
                good.publish("returpost/v1/demo/kiosk-1/events", b"not json", qos=1)
        flood_ran = not published.is_set()
        t.join(120)
        assert published.is_set()

        def counted():
            s = CentralStore(db)
            try:
                dead = s.counters().get("received_dead", 0)
            finally:
                s.close()
            shed = ShedCounts(db)
            try:
                return dead + shed.total()
            finally:
                shed.close()

        wait_until(lambda: counted() == GARBAGE + GOOD // 8, timeout=60, what="every flood message counted")
        wait_until(lambda: upto[0] == GOOD, timeout=30, what="central's ack to cover kiosk-1's events")
        assert flood_ran, "kiosk-1's events were sent after the flood ended (make GARBAGE larger)"

        store = CentralStore(db)
        try:
            kiosks = {k["kiosk"]: k for k in store.kiosks()}
            assert kiosks["kiosk-1"]["events"] == GOOD
            assert kiosks["kiosk-1"]["dead_letters"] == GOOD // 8  # under its budget: dead-lettered, not shed
            flood_dead = kiosks["kiosk-2"]["dead_letters"]
            assert BUDGET <= flood_dead < GARBAGE
            rows = store.conn.execute("select count(*) from dead_letters where kiosk = 'kiosk-2'").fetchone()[0]
            assert rows == BUDGET  # the store keeps its budget of rows a minute, counts the rest
        finally:
            store.close()
        shed = ShedCounts(db)
        try:
            senders = shed.senders()
        finally:
            shed.close()
        assert [(s["site"], s["kiosk"]) for s in senders] == [("demo", "kiosk-2")]  # never kiosk-1
        assert flood_dead + senders[0]["messages"] == GARBAGE
        wait_until(lambda: central.snapshot().get("shed", 0) == senders[0]["messages"], what="the shed count")
        # what the engineer sees: `kiosk central --gaps`
        out = subprocess.run(kiosk_cmd("central", "--gaps", "--db", str(db)), env=env(), capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert [(s["kiosk"], s["messages"]) for s in report["shed"]] == [("kiosk-2", senders[0]["messages"])]
        assert {k["kiosk"]: k["dead_letters"] for k in report["kiosks"]}["kiosk-2"] == flood_dead
    finally:
        for c in (flooder, good):
            if c is not None:
                c.loop_stop()
                c.disconnect()
        central.stop()


def test_flood_guard_sheds_a_sender_over_its_budget_until_its_minute_ends():
    guard = FloodGuard(budget=10, window=60.0)
    flooder, other = ("demo", "kiosk-2"), ("demo", "kiosk-1")
    assert guard.sender(b"returpost/v1/demo/kiosk-2/events") == flooder
    assert guard.sender("returpost/v1/demo/kiosk-2/alerts") == flooder
    assert guard.dead_letters({flooder: 9, other: 3}, now=100.0) == []
    assert not guard.shedding(flooder, 100.0)
    assert guard.dead_letters({flooder: 1}, now=110.0) == [flooder]
    assert guard.shedding(flooder, 110.0) and guard.shedding(flooder, 159.9)
    assert not guard.shedding(other, 110.0)
    guard.shed(flooder, 5)
    assert guard.take_unsaved() == {flooder: 5} and guard.unsaved == {}
    assert not guard.shedding(flooder, 160.0)  # its minute is over: to the store again
    # a new minute, a new budget
    assert guard.dead_letters({flooder: 9}, now=161.0) == []
    assert not guard.shedding(flooder, 161.0)


def test_dead_letters_are_charged_to_their_senders():
    a, b, bad = ("s", "a"), ("s", "b"), ("s", "bad id!")
    # the per-kiosk counts explain everything
    assert attribute(7, {a: 10, b: 1}, {a: 15, b: 3}, {a: 50, b: 2}) == {a: 5, b: 2}
    # a sender without a kiosk row (an id the store refuses) gets what the counts do not explain
    assert attribute(4, {a: 10}, {a: 11}, {a: 5, bad: 30}) == {a: 1, bad: 3}


def test_shed_counts_add_up_per_sender_on_both_engines(central_db):
    counts = ShedCounts(central_db)
    try:
        counts.save({("demo", "kiosk-2"): 1000})
        counts.save({("demo", "kiosk-2"): 234, ("demo", "kiosk-3"): 1})
        counts.save({})
        assert [(s["kiosk"], s["messages"]) for s in counts.senders()] == [("kiosk-2", 1234), ("kiosk-3", 1)]
        assert counts.total() == 1235
    finally:
        counts.close()
    again = ShedCounts(central_db)  # the migration is applied once
    try:
        assert again.total() == 1235
    finally:
        again.close()


@needs_mosquitto
def test_messages_in_flight_to_central_come_with_the_connack_and_are_stored(prov_broker, tmp_path):
    """The lean reader handles every packet of a read: a message the broker had in flight to
    central's session (sent, never acknowledged: central died) is sent again right behind the
    CONNACK, usually in the same read."""
    b = prov_broker
    from kiosk.wire import mqtt as session

    tail = '[central]\nusername = "central"\npassword = "central-secret"\n'
    cfg = load(kiosk_config(tmp_path / "central.toml", b.port, tail=tail))
    # central's session (the client id is the username), fed and never acknowledging: a central
    # that dies with messages in flight
    dying = session.make_client(cfg.mqtt, "central", username="central", password=USERS["central"],
                                manual_ack=True)
    got = []
    dying.on_message = lambda c, u, msg: got.append(msg.mid)
    assert session.connect(dying, cfg.mqtt, clean_start=False, session_expiry=3600)
    dying.subscribe("returpost/v1/+/+/events", qos=1)
    jid = str(uuid.uuid4())
    kiosk = _client(b, "demo/kiosk-1")
    kiosk.connect("127.0.0.1", b.port)
    kiosk.loop_start()
    try:
        for seq in range(1, 51):
            kiosk.publish("returpost/v1/demo/kiosk-1/events", _event(jid, seq), qos=1).wait_for_publish(10)
        wait_until(lambda: dying.loop(0.05) == 0 and len(got) == 50, what="50 messages in flight to central")
    finally:
        kiosk.loop_stop()
        kiosk.disconnect()
    dying.socket().close()  # no DISCONNECT, no PUBACK: the broker keeps them in flight

    central = Central(cfg, tmp_path / "central.db").start()
    try:
        wait_until(lambda: central.snapshot().get("stored", 0) == 50, what="the in-flight events stored")
        assert central.snapshot().get("messages") == 50
        assert central.last_error is None
    finally:
        central.stop()
