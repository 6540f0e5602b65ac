"""Central -> kiosk inbox: what central knows about an alert reaches the kiosk's screen.

End to end: a real mosquitto, a real `kiosk central` process (collector + delivery worker with
a webhook target on a local HTTP server and one on a dead port), a kiosk controller and its real
publisher. The TL acknowledges and answers the way the web app does (`web.state.record` on
central's database); the screen's text comes from `kiosk.core.truth.alert_state` / `alert_text` and
`kiosk.wire.inbox.answers` (what the TLNote widget and the status area show) fed by the
publisher's `inbox()`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.core import truth
from kiosk.central import inbox as central_inbox
from kiosk.central.web import state as web_state
from kiosk.core.clock import TZ, SystemClock, utc_iso
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal
from kiosk.wire import inbox
from kiosk.shelf.publisher import Publisher

from .delivery_servers import Hook, free_port
from .mqtt_broker import broker, env, kiosk_cmd, kiosk_config, load, needs_mosquitto, wait_until  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"v": 1, "day": "2026-12-01", "alerts": [
    {"id": "a1", "kind": "bestridan", "notified": {"state": "delivered", "at": "2026-12-01T09:42:10.000Z"},
     "acknowledged": {"by": "Karin", "at": "2026-12-01T09:45:00.000Z"}, "answer": None},
    {"id": "a2", "kind": "tillfalliga", "notified": {"state": "failed", "at": "2026-12-01T10:00:00.000Z"},
     "acknowledged": None, "answer": {"text": "Lägg dem i lådan till TL.", "by": "Karin", "at": "2026-12-01T10:05:00.000Z"}},
    {"id": "a3", "kind": "bestridan", "notified": {"state": "pending", "at": "2026-12-01T10:06:00.000Z"},
     "acknowledged": None, "answer": None}]}


def _bytes(doc) -> bytes:
    return json.dumps(doc).encode()


# -- the document and the words (pure) -----------------------------------------------------------
def test_good_document_parses_and_says_the_right_things_in_local_time():
    doc = inbox.parse(_bytes(GOOD))
    assert doc == GOOD
    assert screen_says(doc, "a1") == ("TL har fått larmet och kvitterat (Karin 10:45)", "ok")
    assert screen_says(doc, "a2", "tillfalliga") == ("Frågan kunde inte skickas till TL – säg till TL direkt", "error")
    assert screen_says(doc, "a3") == ("Larmet skickas till TL …", "warning")
    assert screen_says(doc, "unknown") == ("Larmet skickas till TL …", "warning")
    assert screen_says(None, "a1") == ("Larmet skickas till TL …", "warning")
    delivered = json.loads(json.dumps(GOOD))
    delivered["alerts"][0]["acknowledged"] = None
    assert screen_says(inbox.parse(_bytes(delivered)), "a1") == ("TL har fått larmet 10:42", "ok")
    assert inbox.answers(doc) == ["TL:s besked: Lägg dem i lådan till TL. (Karin 11:05)"]


def screen_says(doc, alert_id: str, kind: str = "bestridan") -> tuple[str, str]:
    """What the kiosk's screen says about a just raised alert, central reachable."""
    now = dt.datetime.now(dt.timezone.utc)
    alert = {"id": alert_id, "kind": kind, "at": utc_iso(now), "cancelled": False}
    return truth.alert_text(truth.alert_state(alert, doc, now, truth.REACHABLE, dt.timedelta(minutes=5)))


def _bad(mutate):
    doc = json.loads(json.dumps(GOOD))
    mutate(doc)
    return _bytes(doc)


@pytest.mark.parametrize("payload", [
    b"", b"not json", b"[]", b'{"v":1}', b"\xff\xfe",
    _bad(lambda d: d.update(v=2)),
    _bad(lambda d: d.update(day="2026-13-01")),
    _bad(lambda d: d.update(extra=1)),
    _bad(lambda d: d["alerts"][0].update(kind="Bestridan!")),
    _bad(lambda d: d["alerts"][0].update(id="x" * 65)),
    _bad(lambda d: d["alerts"][0].update(customer="19121212-1212")),
    _bad(lambda d: d["alerts"][0]["notified"].update(state="lost")),
    _bad(lambda d: d["alerts"][0]["notified"].update(at="10:42")),
    _bad(lambda d: d["alerts"][0]["notified"].update(at="2026-12-01T25:42:10.000Z")),
    _bad(lambda d: d["alerts"][0]["acknowledged"].update(by="")),
    _bad(lambda d: d["alerts"][0]["acknowledged"].update(by=7)),
    _bad(lambda d: d["alerts"][1]["answer"].update(text="x" * (inbox.ANSWER_MAX + 1))),
    _bad(lambda d: d["alerts"][1]["answer"].update(text="rad ett\nrad två")),
    _bad(lambda d: d["alerts"][1]["answer"].update(text="\u202eevil")),
    _bad(lambda d: d["alerts"].append(dict(d["alerts"][0]))),  # a duplicate id
    _bad(lambda d: d.update(alerts=[d["alerts"][2]] * 0 + [dict(d["alerts"][2], id=f"x{i}")
                                                           for i in range(inbox.MAX_ALERTS + 1)])),
    b'{"v":1,"day":"2026-12-01","alerts":[],"pad":"' + b"x" * inbox.MAX_BYTES + b'"}',
])
def test_bad_documents_are_refused(payload):
    with pytest.raises(inbox.BadInbox):
        inbox.parse(payload)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
        ["v", "day", "alerts", "id", "kind", "notified", "state", "at", "by", "text", "answer",
         "acknowledged"]), c, max_size=6), max_leaves=20).map(lambda d: json.dumps(d).encode())))
def test_parse_refuses_garbage_with_badinbox_only(payload):
    try:
        doc = inbox.parse(payload)
    except inbox.BadInbox:
        return
    assert inbox.parse(inbox.dumps(doc)) == doc  # what it accepts survives a round trip


def test_answer_limit_is_the_web_apps():
    assert inbox.ANSWER_MAX == web_state.ANSWER_MAX


def test_notified_from_the_targets_rows():
    row = {"created_at": "2026-12-01T09:00:00.000Z", "last_attempt_at": None, "delivered_at": None}
    assert central_inbox.notified([]) is None
    assert central_inbox.notified([dict(row, state="cancelled")]) is None
    assert central_inbox.notified([dict(row, state="pending")]) == {"state": "pending", "at": row["created_at"]}
    failing = dict(row, state="failing", last_attempt_at="2026-12-01T09:01:00.000Z")
    assert central_inbox.notified([failing])["state"] == "failed"
    done = dict(row, state="delivered", delivered_at="2026-12-01T09:02:00.000Z")
    assert central_inbox.notified([failing, done]) == {"state": "delivered", "at": "2026-12-01T09:02:00.000Z"}


# -- the real app under Xvfb -----------------------------------------------------------------------
needs_x = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is needed (scripts/setup test installs it)")


@needs_x
def test_the_screens_show_the_inbox(tmp_path):
    from kiosk_dev.xvfb import Xvfb

    x = Xvfb(1280, 1280)
    x.start()
    try:
        e = x.env()
        e["PYTHONPATH"] = str(ROOT)
        e.pop("NOTIFY_SOCKET", None)
        out = tmp_path / "seen.json"
        proc = subprocess.run([sys.executable, str(ROOT / "tests" / "inbox_ui_driver.py"), str(out), "800x480"],
                              env=e, capture_output=True, text=True, timeout=240)
    finally:
        x.stop()
    seen = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0, (seen.get("error"), proc.stderr[-3000:])
    st_ = seen["steps"]
    # sync is off in this kiosk: central cannot be told, so the operator tells the TL at once
    assert st_["before"]["note"] == "[b]Larmet har inte nått TL (synk är avstängd) – säg till TL direkt[/b]"
    assert "TL-larm: [color=ff7b72]ej skickat – säg till TL" in st_["before"]["status"]
    assert st_["inbox-sending"]["note"] == "[b]Larmet skickas till TL …[/b]"
    assert st_["inbox-delivered"]["note"] == "[b]TL har fått larmet 10:40[/b]"  # 09:40Z is 10:40 in Stockholm
    assert st_["inbox-failed"]["note"] == "[b]Larmet kunde inte skickas till TL – säg till TL direkt[/b]"
    assert "ej skickat – säg till TL" in st_["inbox-failed"]["status"]
    assert st_["inbox-acknowledged"]["note"] == "[b]TL har fått larmet och kvitterat (Karin 10:44)[/b]"
    assert "TL-larm: [color=7ee787]kvitterat 10:44" in st_["inbox-acknowledged"]["status"]
    answer = st_["inbox-answer"]["note"]
    assert "TL:s besked: Lägg breven i TL:s fack" in answer
    assert "&bl;b&br;inte fet" in answer  # the TL's text is shown as text, never as markup
    assert "besked" not in st_["answer-cleared"]["note"]


# -- end to end -----------------------------------------------------------------------------------
def _start_central(tmp_path, port: int, hook: Hook, dead: int):
    cfg = kiosk_config(tmp_path / "central.toml", port, tail=(
        '[delivery]\nbackoff_min_s = 30.0\nbackoff_max_s = 60.0\ntimeout_s = 2.0\ninterval_s = 0.1\n'
        '[clock_alerts]\nenabled = false\n'
        f'[[notify.targets]]\nurl = "json://127.0.0.1:{hook.port}/hook"\nkinds = ["bestridan"]\n'
        f'[[notify.targets]]\nurl = "json://127.0.0.1:{dead}/hook"\nkinds = ["tillfalliga"]\n'))
    log = open(tmp_path / "central.log", "w")
    proc = subprocess.Popen(kiosk_cmd("--config", str(cfg), "central", "--db", str(tmp_path / "central.db")),
                            env=env(), stdout=log, stderr=subprocess.STDOUT, text=True)
    log.close()
    return proc


def _central_and_kiosk(tmp_path, port: int, hook: Hook):
    """`kiosk central` (the webhook for bestridan, a dead port for tillfälliga) and a kiosk's
    journal, controller and publisher (not started)."""
    central = _start_central(tmp_path, port, hook, free_port())
    config = load(kiosk_config(tmp_path / "kiosk.toml", port))
    journal = Journal(tmp_path / "journal.db", "demo", "kiosk-1")
    return central, journal, Controller(config, journal, SystemClock()), Publisher(config, tmp_path / "journal.db")


def _bestridan_once_central_listens(tmp_path, pub, controller) -> str:
    """Start the publisher once central subscribed (events sent before would wait for the
    publisher's ack timeout), sign in and register a bestridan; its alert id."""
    wait_until(lambda: "subscribed to" in (tmp_path / "central.log").read_text(), timeout=60,
               what="kiosk central subscribed")
    pub.start()
    assert controller.handle({"cmd": "login", "operator": "ANNA"}).ok
    res = controller.handle({"cmd": "incoming", "kind": "bestridan", "segment": "privat"})
    assert res.ok
    return next(e["id"] for e in res.events if e["type"] == "alert_raised")


def _stop(central, pub, journal, hook: Hook, tmp_path) -> None:
    """The kiosk's publisher and journal, the webhook (let go first) and `kiosk central` (SIGTERM)."""
    pub.stop()
    journal.close()
    if hook.hold is not None:
        hook.hold.set()
    hook.stop()
    central.send_signal(signal.SIGTERM)
    try:
        central.wait(timeout=20)
    except subprocess.TimeoutExpired:
        central.kill()
        central.wait()
    print((tmp_path / "central.log").read_text()[-5000:])


def _tl(db, alert_id: str, action: str, who: str, text: str | None = None) -> None:
    """What the web app does when a TL acknowledges or answers."""
    conn = web_state.connect(db)
    try:
        web_state.alert_states(conn, "demo", "kiosk-1", dt.datetime.now(TZ).date().isoformat())  # materialise
        with conn:
            web_state.record(conn, alert_id, action, who, dt.datetime.now(dt.timezone.utc), text)
    finally:
        conn.close()


@needs_mosquitto
@pytest.mark.slow
def test_acknowledgement_answer_and_delivery_outcomes_reach_the_kiosk(broker, tmp_path, caplog):  # noqa: F811
    hook = Hook().start()
    hook.hold = threading.Event()  # the webhook answers only when the test lets it
    central, journal, controller, pub = _central_and_kiosk(tmp_path, broker.port, hook)
    seen: list = []
    pub.inbox_listeners.append(seen.append)
    pub.set_printer("no_paper", 2)
    db = tmp_path / "central.db"
    try:
        bestridan = _bestridan_once_central_listens(tmp_path, pub, controller)

        def say(aid, kind="bestridan"):  # the TL strip's words
            return screen_says(pub.inbox(), aid, kind)[0]

        # central has it, the webhook is holding the notification: "being sent"
        wait_until(lambda: (inbox.find(pub.inbox(), bestridan) or {}).get("notified"), timeout=30,
                   what="the bestridan in the kiosk's inbox with a notification state")
        assert inbox.find(pub.inbox(), bestridan)["notified"]["state"] == "pending"
        assert say(bestridan) == "Larmet skickas till TL …"
        hook.hold.set()
        wait_until(lambda: say(bestridan).startswith("TL har fått larmet "), timeout=30, what="delivered")
        at = inbox.find(pub.inbox(), bestridan)["notified"]["at"]
        local = dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(TZ).strftime("%H:%M")
        assert say(bestridan) == f"TL har fått larmet {local}"
        assert len(hook.requests) == 1

        # a temporary mailing whose notification target is down
        res = controller.handle({"cmd": "temporary", "about": "Priskompensation"})
        temp = next(e["id"] for e in res.events if e["type"] == "alert_raised")
        wait_until(lambda: say(temp, "tillfalliga") == "Frågan kunde inte skickas till TL – säg till TL direkt", timeout=30,
                   what="the failed notification on the kiosk")

        # the TL acknowledges the bestridan and answers the temporary mailing (as the web app does)
        _tl(db, bestridan, "ack", "Karin")
        wait_until(lambda: say(bestridan).startswith("TL har fått larmet och kvitterat (Karin "), timeout=15, what="ack")
        _tl(db, temp, "answer", "Karin", "Lägg breven i\nTL:s fack.")
        wait_until(lambda: inbox.answers(pub.inbox()), timeout=15, what="the TL's answer")
        assert inbox.answers(pub.inbox())[0].startswith("TL:s besked: Lägg breven i TL:s fack. (Karin ")
        assert say(temp, "tillfalliga").startswith("TL har fått frågan och kvitterat (Karin ")  # an answer acknowledges too
        _tl(db, temp, "clear", "Karin")
        wait_until(lambda: not inbox.answers(pub.inbox()), timeout=15, what="the answer cleared")

        # garbage on the inbox topic (this test broker lets anyone write; the deployed ACL lets only
        # central: tests/test_sync_security.py) is logged and ignored
        good = pub.inbox()
        n = len(seen)
        caplog.set_level(logging.WARNING, logger="kiosk.shelf.publisher")
        caplog.clear()
        bad = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="garbage")
        bad.connect("127.0.0.1", broker.port)
        bad.loop_start()
        topic = "returpost/v1/demo/kiosk-1/inbox"
        for payload in (b"{", b'{"v":1,"day":"x","alerts":[]}', b"x" * (inbox.MAX_BYTES + 1)):
            bad.publish(topic, payload, qos=1).wait_for_publish(5)
        bad.loop_stop()
        bad.disconnect()
        wait_until(lambda: sum("inbox from the broker ignored" in r.getMessage() for r in caplog.records) == 3,
                   timeout=15, what="three ignored inbox documents")
        assert pub.inbox() == good and len(seen) == n

        # the status carries the printer for central's printer clock alert
        def status():
            conn = web_state.connect(db)
            try:
                row = conn.execute("select status from kiosks where site='demo' and kiosk='kiosk-1'").fetchone()
            finally:
                conn.close()
            return json.loads(row[0]) if row and row[0] else {}
        wait_until(lambda: status().get("printer") == {"state": "no_paper", "kept": 2}, timeout=15,
                   what="the printer state in central's copy of the status")
    finally:
        _stop(central, pub, journal, hook, tmp_path)
    assert central.returncode == 0
    gaps = subprocess.run(kiosk_cmd("central", "--gaps", "--db", str(db)), env=env(), capture_output=True,
                          text=True, timeout=60)
    assert gaps.returncode == 0, gaps.stderr
    report = json.loads(gaps.stdout)
    assert report["deliveries"]["delivered"] == 1 and report["deliveries"]["failing"] == 1
    assert "deliveries: 0 pending, 1 failing, 1 delivered" in gaps.stderr


@needs_mosquitto
@pytest.mark.slow
def test_an_alert_undone_after_the_tl_got_it_is_withdrawn_to_the_tl_and_the_kiosk_says_so_once_delivered(
        broker, tmp_path):  # noqa: F811
    """A bestridan delivered to the TL's webhook, then undone at the kiosk: central sends the TL a
    notice that it is withdrawn, and the kiosk says "Återkallelsen har nått TL HH:MM" only once
    central reports that notice delivered (until then: being sent)."""
    hook = Hook().start()
    central, journal, controller, pub = _central_and_kiosk(tmp_path, broker.port, hook)

    def say(aid):  # the kiosk's words for its alert, from its own day and central's inbox document
        alert = next(a for a in controller.state.alerts if a["id"] == aid)
        now = dt.datetime.now(dt.timezone.utc)
        return truth.alert_text(truth.alert_state(alert, pub.inbox(), now, truth.REACHABLE,
                                                  dt.timedelta(minutes=5)))[0]

    try:
        bestridan = _bestridan_once_central_listens(tmp_path, pub, controller)
        wait_until(lambda: say(bestridan).startswith("TL har fått larmet "), timeout=30, what="delivered")
        assert len(hook.requests) == 1

        hook.hold = threading.Event()  # the webhook holds the notice that it is withdrawn
        assert controller.handle({"cmd": "undo", "what": "incoming"}).ok
        wait_until(lambda: len(hook.requests) == 2, timeout=30, what="the withdrawal notice at the webhook")
        assert say(bestridan) == "Återkallandet av larmet skickas till TL …"
        notice = json.dumps(hook.requests[1]["json"], ensure_ascii=False)
        assert "Återkallat: " in notice and "ångrades vid kiosken" in notice
        hook.hold.set()
        wait_until(lambda: say(bestridan).startswith("Återkallelsen har nått TL "), timeout=30,
                   what="the withdrawal delivered, on the kiosk")
        at = inbox.find(pub.inbox(), bestridan)["withdrawn"]["at"]
        local = dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(TZ).strftime("%H:%M")
        assert say(bestridan) == f"Återkallelsen har nått TL {local}: larmet är återkallat"
        assert len(hook.requests) == 2  # each once
    finally:
        _stop(central, pub, journal, hook, tmp_path)
    assert central.returncode == 0


@needs_mosquitto
def test_the_kiosk_status_on_the_wire_carries_the_printer_state(broker, tmp_path):  # noqa: F811
    """The kiosk's status poller hands the printer's state to the publisher; the retained status
    central reads (kiosk/central/clock_alerts.py `printer`) carries it."""
    from kiosk.shelf.runtime import Kiosk

    data = tmp_path / "data"
    cfg = load(kiosk_config(tmp_path / "kiosk.toml", broker.port, tail=(
        f'[printer]\nbackend = "dummy"\npreview_dir = "{data}/previews"\n[gpio]\npin_factory = "mock"\n')))
    got: list = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watcher")
    sub.on_message = lambda c, u, m: got.append(json.loads(m.payload)) if m.payload else None
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("returpost/v1/demo/kiosk-1/status", qos=1)
    sub.loop_start()
    k = Kiosk(cfg, simulator=True, journal_path=data / "journal.db")
    try:
        k.start()
        k.poller.poll()
        wait_until(lambda: any(s.get("printer") == {"state": "ok", "kept": 0} for s in got), timeout=20,
                   what="the printer state in the retained status")
        k.devices.printer.transport.paper = 0  # out of paper
        k.poller.snapshot = k.poller.poll()
        wait_until(lambda: got[-1].get("printer", {}).get("state") == "no_paper", timeout=20,
                   what="the printer's new state in the status")
    finally:
        k.stop()
        sub.loop_stop()
        sub.disconnect()


def test_the_collectors_batched_documents_equal_compose_per_kiosk(tmp_path):
    """The poll composes per site (one refresh, one query); the result is `compose` per kiosk."""
    from kiosk.central.delivery import outbox

    from .delivery_servers import Kiosk as FakeKiosk
    from .delivery_servers import store_class

    db = tmp_path / "central.db"
    store = store_class()(str(db))
    conn = outbox.connect(db)
    outbox.ensure_schema(conn)
    conn.close()
    now = dt.datetime.now(TZ)
    ids = {}
    for k in ("kiosk-1", "kiosk-2"):
        fk = FakeKiosk(store, site="demo", kiosk=k)
        for kind, text in (("bestridan", "Bestridan."), ("tillfalliga", f"Tillfälligt utskick i retur: {k}.")):
            ev = fk.event(now, "alert_raised", {"kind": kind, "text": text})
            fk.send(ev)
            ids[(k, kind)] = ev["id"]
    store.conn.close()
    _tl(db, ids[("kiosk-2", "tillfalliga")], "answer", "Karin", "Spara dem.")
    _tl(db, ids[("kiosk-1", "bestridan")], "ack", "Olle")
    published: dict = {}
    pub = central_inbox.InboxPublisher(db)
    assert pub.poll([("demo", "kiosk-1"), ("demo", "kiosk-2")], lambda t, p: published.setdefault(t, p) or True) == 2
    assert pub.poll([("demo", "kiosk-1"), ("demo", "kiosk-2")], lambda t, p: True) == 0  # unchanged: not again
    pub.close()
    conn = web_state.connect(db)
    try:
        for k in ("kiosk-1", "kiosk-2"):
            doc = inbox.parse(published[f"returpost/v1/demo/{k}/inbox"])
            assert doc == central_inbox.compose(conn, "demo", k, now.date().isoformat())
    finally:
        conn.close()
    one = inbox.parse(published["returpost/v1/demo/kiosk-1/inbox"])
    assert {a["id"] for a in one["alerts"]} == {ids[("kiosk-1", "bestridan")], ids[("kiosk-1", "tillfalliga")],
                                                ids[("kiosk-2", "tillfalliga")]}  # the site's answer too
    assert screen_says(one, ids[("kiosk-1", "bestridan")])[0].startswith("TL har fått larmet och kvitterat (Olle ")
    assert inbox.answers(one)[0].startswith("TL:s besked: Spara dem. (Karin ")


@needs_mosquitto
@pytest.mark.parametrize("protocol", ["v5", "v311"])
def test_the_publisher_takes_a_retained_inbox_under_both_protocols(broker, tmp_path, protocol):  # noqa: F811
    """A retained inbox waiting on the broker reaches the publisher when it connects, under MQTT 5
    and 3.1.1 (the second broker engines speak only 3.1.1)."""
    central = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="central-stand-in")
    central.connect("127.0.0.1", broker.port)
    central.loop_start()
    central.publish("returpost/v1/demo/kiosk-1/inbox", inbox.dumps(GOOD), qos=1, retain=True).wait_for_publish(10)
    central.loop_stop()
    central.disconnect()
    config = load(kiosk_config(tmp_path / "kiosk.toml", broker.port, mqtt=f'protocol = "{protocol}"\n'))
    pub = Publisher(config, tmp_path / "journal.db")
    try:
        pub.start()
        wait_until(lambda: pub.inbox() == GOOD, timeout=20, what="the retained inbox at the publisher")
        assert pub.status()["protocol"] == protocol
    finally:
        pub.stop()
