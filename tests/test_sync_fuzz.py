"""Fuzzed payloads at central: every message is stored, counted as a duplicate, or dead-lettered
with a reason; nothing raises; the collector stays up."""

from __future__ import annotations

import json
import time
import uuid

import paho.mqtt.client as mqtt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.core import followup, routine
from kiosk.central.collector import Central
from kiosk.central.store import CentralStore
from kiosk.wire.validate import Invalid, check_event, parse_json
from .mqtt_broker import broker, kiosk_config, load, needs_mosquitto, wait_until  # noqa: F401

TOPIC = "returpost/v1/demo/kiosk-1/events"

VALID = {"v": 1, "id": "00000000-0000-4000-8000-000000000000",
         "journal": "11111111-1111-4111-8111-111111111111", "kiosk": "kiosk-1", "site": "demo",
         "seq": 1, "ts": "2026-11-23T07:05:00.000Z", "day": "2026-11-23", "operator": "ANNA",
         "type": "sorted", "data": {"pile": "dodsbo"}}
SAMPLES = [
    ("signed_in", {"operator": "ANNA"}), ("sorted", {"pile": "faktura"}),
    ("scan_accepted", {"code": "7350012345678", "pile": "dodsbo"}),
    ("scan_rejected", {"code": "x", "reason": "too_short", "pile": "dodsbo"}),
    ("pile_done", {"pile": "dodsbo", "sorted": 2, "scanned": 1}),
    ("scanning_done", {"deadline_met": True}),
    ("leta_kund_counted", {"letter": "A", "apartments": 2}),
    ("alert_raised", {"kind": "bestridan", "text": "t"}),
    ("undone", {"what": "scan", "pile": "dodsbo", "code": "7350012345678"}),
    ("day_closed", {}),
]

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda c: st.one_of(st.lists(c, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), c, max_size=4)),
                          max_leaves=12)


@st.composite
def mutated_event(draw):
    kind, data = draw(st.sampled_from(SAMPLES))
    doc = {**VALID, "type": kind, "data": dict(data), "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
           "seq": draw(st.integers(1, 50))}
    how = draw(st.sampled_from(["keep", "set", "drop", "data_set", "data_drop", "extra"]))
    if how == "set":
        doc[draw(st.sampled_from(sorted(doc)))] = draw(json_value)
    elif how == "drop":
        doc.pop(draw(st.sampled_from(sorted(doc))))
    elif how == "data_set" and doc["data"]:
        doc["data"][draw(st.sampled_from(sorted(doc["data"])))] = draw(json_value)
    elif how == "data_drop" and doc["data"]:
        doc["data"].pop(draw(st.sampled_from(sorted(doc["data"]))))
    elif how == "extra":
        doc[draw(st.text(min_size=1, max_size=6))] = draw(json_value)
    return json.dumps(doc).encode()


STATUS = {"v": 1, "site": "demo", "kiosk": "kiosk-1", "online": True, "pending": 0, "last_seq": 3,
          "version": "0.1.0", "ts": "2026-11-23T07:05:00.000Z"}
ALERT = {"v": 1, "id": "a1", "site": "demo", "kiosk": "kiosk-1", "kind": "printer", "text": "t",
         "ts": "2026-11-23T07:05:00.000Z", "seq": 4}


@st.composite
def mutated_doc(draw):
    doc = dict(draw(st.sampled_from([STATUS, ALERT])))
    if draw(st.booleans()):
        doc[draw(st.sampled_from(sorted(doc)))] = draw(json_value)
    if draw(st.booleans()):
        doc.pop(draw(st.sampled_from(sorted(doc))), None)
    return json.dumps(doc).encode()


payloads = st.one_of(
    mutated_doc(),
    st.binary(max_size=200),
    json_value.map(lambda v: json.dumps(v).encode()),
    mutated_event(),
    st.text(max_size=50).map(lambda t: t.encode("utf-8")),
)
topics = st.sampled_from([TOPIC, "returpost/v1/demo/kiosk-1/status", "returpost/v1/demo/kiosk-1/alerts",
                          "returpost/v1/demo/kiosk-2/events", "returpost/v1/other/kiosk-1/events",
                          "returpost/v1/bad site/kiosk-1/events", "elsewhere/x", "returpost/v1/a/b/c/d"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(topics, payloads), min_size=1, max_size=20))
def test_store_accounts_for_every_message(tmp_path_factory, batch):
    store = CentralStore(tmp_path_factory.mktemp("c") / "central.db")
    try:
        counts = store.ingest(batch)
        assert sum(counts.values()) == len(batch)
        assert counts["dead"] == store.count("dead_letters")
        reasons = [r[0] for r in store.conn.execute("select reason from dead_letters")]
        assert all(reasons)
        # whatever was stored replays into a follow-up row
        for site, kiosk, day in store.conn.execute("select distinct site, kiosk, day from events").fetchall():
            events = [json.loads(p) for (p,) in store.conn.execute(
                "select payload from events where site=? and kiosk=? and day=? order by seq", [site, kiosk, day])]
            followup.follow_up_row(routine.summary(routine.replay(events)), site, kiosk)
    finally:
        store.close()


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_event_check_accepts_only_replayable_events(payload):
    try:
        doc = check_event(parse_json(payload), "demo", "kiosk-1")
    except Invalid as exc:
        assert str(exc)
        return
    state = routine.replay([doc])
    followup.follow_up_row(routine.summary(state), "demo", "kiosk-1")


def test_valid_event_passes_and_topic_mismatch_is_rejected():
    assert check_event(parse_json(json.dumps(VALID).encode()), "demo", "kiosk-1")["seq"] == 1
    for site, kiosk in (("demo", "kiosk-2"), ("other", "kiosk-1")):
        try:
            check_event(parse_json(json.dumps(VALID).encode()), site, kiosk)
        except Invalid as exc:
            assert "does not match the topic" in str(exc)
        else:
            raise AssertionError("a mismatching topic was accepted")


@needs_mosquitto
def test_fuzzed_payloads_over_mqtt_central_stays_up(broker, tmp_path):
    config = load(kiosk_config(tmp_path / "kiosk.toml", broker.port))
    central = Central(config, tmp_path / "central.db").start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    sent = {"n": 0}
    subscribed = {TOPIC, "returpost/v1/demo/kiosk-1/status", "returpost/v1/demo/kiosk-1/alerts",
                  "returpost/v1/demo/kiosk-2/events", "returpost/v1/other/kiosk-1/events",
                  "returpost/v1/bad site/kiosk-1/events"}
    try:
        assert central.wait_subscribed(10)

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(st.tuples(topics, payloads), min_size=1, max_size=30))
        def publish_batch(batch):
            infos = [pub.publish(t, p, qos=1) for t, p in batch]
            for info in infos:
                info.wait_for_publish(10)
            sent["n"] += sum(1 for t, _ in batch if t in subscribed)
            wait_until(lambda: central.snapshot().get("messages", 0) >= sent["n"], timeout=15,
                       what="central to take every message")

        publish_batch()
        # a valid event after all that still goes through
        good = {**VALID, "id": str(uuid.uuid4()), "seq": 10**6}
        pub.publish(TOPIC, json.dumps(good).encode(), qos=1).wait_for_publish(10)
        sent["n"] += 1
        wait_until(lambda: central.snapshot().get("messages", 0) >= sent["n"], what="the good event")
        time.sleep(0.1)
        assert central.alive
        stats = central.snapshot()
        assert stats["messages"] == sent["n"]
        # every message has exactly one outcome (the other counters, acks and inbox documents
        # published, are central's own messages)
        outcomes = ("stored", "duplicate", "duplicate_alert", "status", "alert", "dead")
        accounted = sum(stats.get(k, 0) for k in outcomes)
        assert set(stats) - {"messages", "acks_published", "acks_republished", "inbox", "shed"} <= set(outcomes)
        assert accounted == sent["n"]
    finally:
        pub.loop_stop()
        pub.disconnect()
        central.stop()
    store = CentralStore(tmp_path / "central.db")
    try:
        assert store.conn.execute("select count(*) from events where id = ?", [good["id"]]).fetchone()[0] == 1
        assert store.count("dead_letters") == stats.get("dead", 0)
    finally:
        store.close()
