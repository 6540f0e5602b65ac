"""Central refuses what no kiosk would send: an event with a key twice in one JSON object, a `day`
that is not the local date of its `ts` in Europe/Stockholm, a `ts` more than a day ahead of
central's clock. Each is dead-lettered with its reason; the kiosk's controller never commits one
(the shared schema's pre-commit check); over MQTT, a duplicate `seq` key leaves no gap."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core import schema
from kiosk.core.clock import TZ, FixedClock, parse_iso
from kiosk.core.config import parse
from kiosk.shelf.controller import Controller
from kiosk.core.domain import PILES, SCAN_ORDER
from kiosk.wire.journal import Journal
from kiosk.wire.validate import Invalid, check_event, parse_json

from .command_stream import handle_signed_in

SITE, KIOSK = "demo", "kiosk-1"


def event(**envelope) -> dict:
    doc = {"v": 1, "id": str(uuid.uuid4()), "journal": str(uuid.uuid4()), "kiosk": KIOSK, "site": SITE,
           "seq": 1, "ts": "2026-11-23T07:05:00.000Z", "day": "2026-11-23", "operator": "ANNA",
           "type": "sorted", "data": {"pile": "faktura"}}
    doc.update(envelope)
    return doc


def compact(doc: dict) -> bytes:
    """As the kiosk's journal writes an event."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- duplicate keys --------------------------------------------------------------------------------
def with_key_twice(doc: dict, path: tuple[str, ...], value, first: bool) -> bytes:
    """`doc` as JSON with `path`'s last key written twice in its object: `value` first (the
    other kept last, as a decoder keeps it) or last."""
    *outer, key = path
    holder = doc
    for k in outer:
        holder = holder[k]
    inner = json.dumps(holder, ensure_ascii=False, separators=(",", ":"))
    extra = f"{json.dumps(key)}:{json.dumps(value)}"
    spliced = "{" + extra + "," + inner[1:] if first else inner[:-1] + "," + extra + "}"
    if not outer:
        return spliced.encode("utf-8")
    whole = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    assert whole.count(inner) == 1
    return whole.replace(inner, spliced).encode("utf-8")


@given(path=st.sampled_from([("seq",), ("ts",), ("day",), ("type",), ("id",), ("data", "pile")]),
       value=st.one_of(st.integers(1, 99), st.sampled_from(["faktura", "2099-01-01", "x"])), first=st.booleans())
def test_a_key_twice_in_any_object_is_refused(path, value, first):
    payload = with_key_twice(event(), path, value, first)
    with pytest.raises(Invalid, match=f"duplicate key '{path[-1]}'"):
        parse_json(payload)


@given(indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans(), text=st.text(
    alphabet="abcåäöÅÄÖ -/\\\"", min_size=1, max_size=20).filter(lambda t: t.strip() == t and t))
def test_the_same_event_written_otherwise_is_accepted(indent, ascii_only, text):
    """No false refusal: spaces, newlines and escapes (the slow path) are not duplicates."""
    doc = event(type="temporary_counted", data={"about": text})
    payload = json.dumps(doc, ensure_ascii=ascii_only, indent=indent).encode("utf-8")
    assert check_event(parse_json(payload), SITE, KIOSK) == doc


def test_an_escaped_spelling_of_a_key_is_the_same_key():
    payload = compact(event(seq=3))[:-1] + b',"s\\u0065q":9}'
    with pytest.raises(Invalid, match="duplicate key 'seq'"):
        parse_json(payload)


# -- day and ts ------------------------------------------------------------------------------------
instants = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2028, 12, 31),
                        timezones=st.just(dt.timezone.utc))
# the nights the clocks change: an hour either side of midnight UTC on those days
dst_nights = st.sampled_from([dt.datetime(2026, 3, 29), dt.datetime(2026, 10, 25), dt.datetime(2027, 3, 28),
                              dt.datetime(2027, 10, 31)]).flatmap(
    lambda d: st.integers(-3 * 3600, 3 * 3600).map(lambda s: (d + dt.timedelta(seconds=s)).replace(tzinfo=dt.timezone.utc)))


def ts_text(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@given(at=st.one_of(instants, dst_nights), shift=st.integers(-400, 400))
def test_day_is_the_local_date_of_ts(at, shift):
    local = at.astimezone(TZ).date()
    day = local + dt.timedelta(days=shift)
    doc = event(ts=ts_text(at), day=day.isoformat())
    if shift == 0:
        assert check_event(doc, SITE, KIOSK) == doc
    else:
        with pytest.raises(Invalid, match="is not the local date of ts") as refused:
            check_event(doc, SITE, KIOSK)
        assert refused.value.field == "day"


@given(at=instants, back=st.integers(1, 400))
def test_only_settling_an_unfinished_day_after_midnight_belongs_to_an_earlier_day(at, back):
    day = (at.astimezone(TZ).date() - dt.timedelta(days=back)).isoformat()
    settling = [("day_closed", {"reason": "midnight", "unfinished": []}),
                ("alert_raised", {"kind": "deadline_missed", "text": "Skanningen var inte klar kl. 14:00."})]
    for kind, data in settling:
        check_event(event(ts=ts_text(at), day=day, type=kind, data=data), SITE, KIOSK)
    for kind, data in [("day_closed", {}), ("alert_raised", {"kind": "bestridan", "text": "Bestridan."}),
                       ("sorted", {"pile": "faktura"})]:
        with pytest.raises(Invalid, match="is not the local date"):
            check_event(event(ts=ts_text(at), day=day, type=kind, data=data), SITE, KIOSK)
    later = (at.astimezone(TZ).date() + dt.timedelta(days=back)).isoformat()  # never a later day
    with pytest.raises(Invalid, match="is not the local date"):
        check_event(event(ts=ts_text(at), day=later, type="day_closed", data={"reason": "midnight"}), SITE, KIOSK)


@given(now=instants, ahead=st.integers(-10 * 86400, 10 * 86400))
def test_a_ts_more_than_a_day_ahead_of_centrals_clock_is_refused(now, ahead):
    at = now.replace(microsecond=0) + dt.timedelta(seconds=ahead)
    doc = event(ts=ts_text(at), day=at.astimezone(TZ).date().isoformat())
    if ahead <= 86400:
        assert check_event(doc, SITE, KIOSK, now) == doc
    else:
        with pytest.raises(Invalid, match="more than a day ahead of central's clock") as refused:
            check_event(doc, SITE, KIOSK, now)
        assert refused.value.field == "ts"
    check_event(doc, SITE, KIOSK)  # without a clock (the kiosk's own check): not asked


# -- the kiosk never commits such an event ---------------------------------------------------------
def controller(tmp_path, start: dt.datetime) -> tuple[Controller, Journal]:
    cfg = parse(f'[kiosk]\nsite = "{SITE}"\nid = "{KIOSK}"\ndata_dir = "{tmp_path}"\n')
    journal = Journal(tmp_path / f"j-{uuid.uuid4().hex[:8]}.db", SITE, KIOSK)
    ctl = Controller(cfg, journal, FixedClock(start))
    ctl.ctx = dataclasses.replace(ctl.ctx, operators=("ANNA", "BERT"))
    return ctl, journal


step = st.one_of(
    st.builds(lambda p: {"cmd": "sort", "pile": p}, st.sampled_from([p for p in PILES if p != "leta_kund"])),
    st.just({"cmd": "scan_phase"}),
    st.builds(lambda i: {"cmd": "scan", "code": f"7350{i:09d}"}, st.integers(0, 50)),
    st.just({"cmd": "next_pile"}), st.just({"cmd": "next_pile", "confirm": True}),
    st.just({"cmd": "close_day"}), st.just({"cmd": "close_day", "confirm": True}), st.just({"cmd": "reopen_day"}),
    st.just({"cmd": "login", "operator": "ANNA"}), st.just({"cmd": "logout"}), st.just({"cmd": "tick"}),
    st.builds(lambda k: {"cmd": "incoming", "kind": k, "segment": "privat"}, st.sampled_from(["bestridan", "ovrigt"])),
)
# gaps from a minute to several days: midnights, the nights the clocks change, a kiosk left off
gaps = st.one_of(st.integers(60, 3 * 3600), st.integers(12 * 3600, 4 * 86400))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from([dt.datetime(2026, 10, 24, 20, tzinfo=TZ), dt.datetime(2026, 11, 23, 7, tzinfo=TZ),
                              dt.datetime(2027, 3, 27, 21, tzinfo=TZ)]),
       steps=st.lists(st.tuples(gaps, step), min_size=1, max_size=40))
def test_whatever_the_controller_commits_passes_centrals_day_and_clock_checks(tmp_path, start, steps):
    """Every event committed, read back as central receives it at the moment it was committed
    (and up to a day later), passes: its day is its ts's local date, or it settles an earlier
    day after midnight."""
    ctl, journal = controller(tmp_path, start)
    try:
        handle_signed_in(ctl, start, steps)
        for (payload,) in journal.db.execute("select payload from events order by seq"):
            doc = parse_json(payload.encode("utf-8"))
            sent = parse_iso(doc["ts"])
            check_event(doc, SITE, KIOSK, sent)
            check_event(doc, SITE, KIOSK, sent - dt.timedelta(hours=23))  # central's clock a little behind
    finally:
        journal.close()


def test_the_kiosk_settles_an_unfinished_day_days_later_and_central_takes_it(tmp_path):
    """The case the day rule allows: scanning left unfinished, the kiosk next used three days
    later; the old day's close and deadline alert carry the old day and today's ts."""
    start = dt.datetime(2026, 11, 23, 8, tzinfo=TZ)
    ctl, journal = controller(tmp_path, start)
    try:
        for cmd in ({"cmd": "login", "operator": "ANNA"}, {"cmd": "sort", "pile": SCAN_ORDER[0]},
                    {"cmd": "scan_phase"}):
            ctl.handle(cmd, start)
        later = start + dt.timedelta(days=3, hours=1)
        ctl.handle({"cmd": "login", "operator": "ANNA"}, later)
        docs = [parse_json(p.encode()) for (p,) in journal.db.execute("select payload from events order by seq")]
        settled = [d for d in docs if d["day"] != schema.local_date(d["ts"])]
        assert {d["type"] for d in settled} == {"day_closed", "alert_raised"}
        assert all(d["day"] == "2026-11-23" and schema.local_date(d["ts"]) == "2026-11-26" for d in settled)
        for d in docs:
            check_event(d, SITE, KIOSK, later)
    finally:
        journal.close()


# -- over MQTT: central dead-letters each, with its reason, and leaves no gap -----------------------
@pytest.mark.slow
def test_central_dead_letters_each_over_mqtt_and_a_duplicate_seq_key_leaves_no_gap(tmp_path, central_db):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from kiosk.central.collector import Central
    from kiosk.central.store import CentralStore

    from .mqtt_broker import LocalBroker, env, kiosk_cmd, kiosk_config, load, wait_until

    # today 08:00 local: real enough for central's clock check, and before the deadline whenever the
    # test runs (after 14:00 a sort would also raise the deadline alert)
    now = dt.datetime.now(TZ).replace(hour=8, minute=0, second=0, microsecond=0).astimezone(dt.timezone.utc)
    ctl, journal = controller(tmp_path, now)
    for n, cmd in enumerate([{"cmd": "login", "operator": "ANNA"}, {"cmd": "sort", "pile": "faktura"},
                             {"cmd": "sort", "pile": "dodsbo"}, {"cmd": "sort", "pile": "faktura"}]):
        ctl.handle(cmd, now + dt.timedelta(seconds=n))
    raw = [p.encode() for (p,) in journal.db.execute("select payload from events order by seq")]
    journal.close()
    assert len(raw) == 4
    third = json.loads(raw[2])
    forged = {
        # the third event with its seq written twice: a decoder keeps the last, 9
        "duplicate key": raw[2].replace(b'"seq":3,', b'"seq":3,"seq":9,'),
        "is not the local date of ts": compact({**third, "day": "2026-01-01"}),
        "more than a day ahead": compact({**third, "ts": "2099-01-01T10:00:00.000Z", "day": "2099-01-01"}),
    }
    broker = LocalBroker(tmp_path / "broker")
    broker.start()
    config = load(kiosk_config(tmp_path / "central.toml", broker.port))
    central = Central(config, central_db).start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    try:
        assert central.wait_subscribed(10)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        topic = f"returpost/v1/{SITE}/{KIOSK}/events"
        for payload in [raw[0], raw[1], *forged.values(), raw[2], raw[3]]:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)

        def settled():
            store = CentralStore(central_db)
            try:
                return store.count("events") == 4 and store.count("dead_letters") == 3
            finally:
                store.close()

        wait_until(settled, timeout=20, what="four events stored and three dead-lettered")
    finally:
        pub.loop_stop()
        pub.disconnect()
        central.stop()
        broker.kill()
    store = CentralStore(central_db)
    try:
        reasons = [r for (r,) in store.conn.execute("select reason from dead_letters order by n")]
        assert store.gaps() == []
        assert [j["upto"] for j in store.ack(SITE, KIOSK)["journals"].values()] == [4]
    finally:
        store.close()
    for (why, _), reason in zip(forged.items(), reasons):
        assert why in reason, (why, reason)
    done = subprocess.run(kiosk_cmd("central", "--gaps", "--db", str(central_db)), env=env(),
                          capture_output=True, text=True, timeout=60)
    doc = json.loads(done.stdout)
    assert doc["events"] == 4 and doc["gaps"] == [], doc
