"""One alert model at central: central's own clock alerts have their local day and place, show on
/larm, /historik and the kiosk's card, can be acknowledged, and their notification's link lands on
them; a clock alert later events prove false is withdrawn with a note and a notice; an older
database's clock alerts get their day at the upgrade. Both engines (`central_db`), through the
real store, the real delivery pass (a real webhook server) and the real web app over HTTP; and
once in chromium."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.central import clock_alerts as ca
from kiosk.central import store as central_store
from kiosk.central.db import open_database
from kiosk.central.delivery import worker
from kiosk.central.delivery.config import read
from kiosk.central.web.app import create_app
from kiosk.core.clock import TZ
from kiosk.core.config import parse
from kiosk_dev.web_serve import Client, Served

from .delivery_servers import Hook, Kiosk
from .web_helpers import (PASSWORDS, MutableClock, add_users, browser_login, chrome, needs_chromium, quit_chrome,
                          wait_page)

DAY = dt.date(2026, 11, 24)  # a Tuesday
BASE = "https://returpost.example.lan"


def at(hh, mm=0, day=DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=TZ)


@pytest.fixture
def hook():
    h = Hook().start()
    yield h
    h.stop()


@pytest.fixture
def central(central_db, hook):
    """Central's store, users and a delivery config with the clock on and a webhook target."""
    add_users(central_db, at(7))
    store = central_store.CentralStore(central_db)
    cfg = read(parse(f'[web]\nbase_url = "{BASE}"\n[delivery]\ntimeout_s = 2.0\n'
                     f'[[notify.targets]]\nname = "teams"\nurl = "json://127.0.0.1:{hook.port}/hook"\n'))
    yield store, cfg, central_db
    store.close()


def _pass(cfg, db, now):
    return worker.run_once(cfg, db, now=now.astimezone(dt.timezone.utc))


def _query(db, sql, params=()):
    with open_database(db) as database:
        return database.query(sql, params)


def _serve(db, clock):
    return Served(create_app(db, secret="s" * 64, clock=clock))


def _signed_in(served) -> Client:
    c = Client(served.url)
    assert c.login("tl1", PASSWORDS["tl1"]) == 303
    return c


def _article(html: str, alert_id: str) -> str:
    m = re.search(rf'<article[^>]*id="larm-{alert_id}".*?</article>', html, re.S)
    assert m, f"no alert larm-{alert_id} on the page"
    return m.group(0)


def test_centrals_14_00_alert_for_a_kiosk_that_never_finished_shows_everywhere_and_is_acknowledged(central, hook):
    store, cfg, db = central
    k = Kiosk(store)
    k.status(True, at(8, 0))
    k.send(k.event(at(8, 1), "signed_in", {"operator": "ANNA"}),
           *[k.event(at(8, 5), "sorted", {"pile": "faktura"}) for _ in range(3)])
    _pass(cfg, db, at(14, 1))
    aid = ca.alert_id("sthlm", "kiosk-1", "deadline_missed", DAY)
    assert _query(db, "select day, site, kiosk from alerts where id = ?", (aid,)) == [(DAY.isoformat(), "sthlm", "kiosk-1")]
    # the notification went out, and its link names this alert
    [req] = [r for r in hook.requests if r["path"] == "/hook"]
    link = f"{BASE}/larm#larm-{aid}"
    assert link in req["json"]["message"]

    clock = MutableClock(at(14, 5))
    with _serve(db, clock) as served:
        c = _signed_in(served)
        _, _, body = c.get("/larm")
        box = _article(body.decode(), aid)  # the link's anchor is on the page
        assert "Ej klart 14:00" in box and "sthlm / kiosk-1" in box and "larm från centralen" in box
        assert "Faktura" in box and f'action="/larm/{aid}/ack"' in box
        _, _, today = c.get("/")
        assert re.search(r'<dt>Öppna larm</dt><dd><a class="red-text" href="/larm">1</a>', today.decode())
        _, _, hist = c.get(f"/historik?from={DAY}&to={DAY}")
        assert f"{DAY:%d/%m} – " in hist.decode() and "Ej klart 14:00: 1" in hist.decode()

        status, headers, _ = c.request(f"/larm/{aid}/ack", {"csrf": c.csrf("/larm")}, follow=False)
        assert status == 303 and headers["location"].endswith(f"#larm-{aid}")
        _, _, body = c.get("/larm")
        box = _article(body.decode(), aid)
        assert "Kvitterat av <b>tl1</b>" in box and "/ack" not in box
        _, _, today = c.get("/")
        assert "<dt>Öppna larm</dt><dd>0</dd>" in today.decode()
    assert _query(db, "select alert_id, site, kiosk, day, action from web_alert_actions") == \
        [(aid, "sthlm", "kiosk-1", DAY.isoformat(), "ack")]


def test_a_late_sign_in_before_10_withdraws_no_activity_with_a_note_and_a_notice(central, hook):
    store, cfg, db = central
    k = Kiosk(store)
    k.status(True, at(7, 30))
    _pass(cfg, db, at(10, 1))  # nothing heard of a sign-in: raised, and the TL is told
    aid = ca.alert_id("sthlm", ca.SITE_WIDE, "no_activity", DAY)
    assert _query(db, "select day, withdrawn_at from alerts where id = ?", (aid,)) == [(DAY.isoformat(), None)]
    assert len(hook.requests) == 1 and "Ingen har påbörjat" in hook.requests[0]["json"]["title"]
    clock = MutableClock(at(10, 20))
    with _serve(db, clock) as served:
        c = _signed_in(served)
        box = _article(c.get("/larm")[2].decode(), aid)
        assert "sthlm / alla kiosker" in box and "/ack" in box
        assert '<a class="red-text" href="/larm">1</a>' in c.get("/")[2].decode()  # on the site's kiosk's card

        # the kiosk's journal reaches central at 10:30: ANNA signed in at 08:02
        k.send(k.event(at(8, 2), "signed_in", {"operator": "ANNA"}), received_at=at(10, 30))
        _pass(cfg, db, at(10, 31))
        _pass(cfg, db, at(10, 32))  # once: a later pass withdraws nothing again
        [(withdrawn, note)] = _query(db, "select withdrawn_at, note from alerts where id = ?", (aid,))
        assert withdrawn and "kl. 08:02" in note and "kiosk-1" in note
        clock.value = at(10, 40)
        box = _article(c.get("/larm")[2].decode(), aid)
        assert "Återkallat av centralen 2026-11-24 10:31" in box and "kl. 08:02" in box and "/ack" not in box
        assert "<dt>Öppna larm</dt><dd>0</dd>" in c.get("/")[2].decode()
    titles = [r["json"]["title"] for r in hook.requests]
    assert len(titles) == 2 and titles[1].startswith("Återkallat: Ingen har påbörjat returposten")
    assert "kl. 08:02" in hook.requests[1]["json"]["message"]
    assert f"/larm#larm-{aid}" in hook.requests[1]["json"]["message"]


def test_a_withdrawn_alert_is_sent_no_more_and_a_target_that_may_have_seen_it_gets_the_notice(central, hook):
    store, cfg, db = central
    hook.status = 500  # the target fails: the alert did not reach the TL (but was tried)
    k = Kiosk(store)
    k.status(True, at(7, 30))
    _pass(cfg, db, at(10, 1))
    hook.requests.clear()
    hook.status = 200
    k.send(k.event(at(9, 58), "signed_in", {"operator": "ANNA"}))
    _pass(cfg, db, at(10, 3))
    _pass(cfg, db, at(11, 0))  # past every backoff
    states = [(bool(w), st) for w, st in _query(db, "select cause like '%/withdrawn', state from delivery_outbox order by n")]
    assert states == [(False, "cancelled"), (True, "delivered")]
    assert [r["json"]["title"].split(":")[0] for r in hook.requests] == ["Återkallat"]


def test_a_withdrawn_alert_no_target_was_told_of_sends_nothing(central, hook):
    store, cfg, db = central
    k = Kiosk(store)
    k.status(True, at(7, 30))
    with open_database(db) as database:  # raised at 10:01, withdrawn before any send (the derive of one pass)
        assert [a.kind for a in worker.clock.raise_due(database, at(10, 1), cfg.rules)] == ["no_activity"]
        k.send(k.event(at(9, 58), "signed_in", {"operator": "ANNA"}), received_at=at(10, 5))
        worker.clock.raise_due(database, at(10, 6), cfg.rules)
    assert _query(db, "select count(*) from alerts where withdrawn_at is not null") == [(1,)]
    _pass(cfg, db, at(10, 7))
    assert hook.requests == []
    assert _query(db, "select state, last_error from delivery_outbox") == \
        [("cancelled", "central withdrew the alert before it was delivered")]


def test_no_activity_after_a_sign_in_at_10_30_stays(central, hook):
    store, cfg, db = central
    k = Kiosk(store)
    k.status(True, at(7, 30))
    _pass(cfg, db, at(10, 1))
    k.send(k.event(at(10, 30), "signed_in", {"operator": "ANNA"}))
    _pass(cfg, db, at(10, 31))
    assert _query(db, "select kind, withdrawn_at from alerts") == [("no_activity", None)]


def test_an_older_databases_clock_alerts_get_their_day_and_show_at_the_upgrade(central_db):
    """A central from before: its clock alert stored without a day, the store at version 2."""
    add_users(central_db, at(7))
    aid = ca.alert_id("sthlm", "kiosk-1", "kiosk_offline", DAY)
    with open_database(central_db) as database:
        with database.transaction() as conn:
            conn.execute("insert into alerts(id, site, kiosk, kind, text, ts, payload, received_at) "
                         "values (?,?,?,?,?,?,?,?)",
                         (aid, "sthlm", "kiosk-1", "kiosk_offline", "Kiosken kiosk-1 (sthlm) har inte varit ansluten sedan kl. 23:40.",
                          "2026-11-23T23:45:00.000Z", json.dumps({"kind": "kiosk_offline", "source": "central"}),
                          "2026-11-23T23:45:00.000Z"))
            conn.execute("update alerts set day = null")
            conn.execute("delete from schema_migrations where room = 'store' and version = 3")
            conn.execute("delete from summary_dirty")
    with open_database(central_db) as database:
        assert central_store.ensure_schema(database) == [3]
    # 23:45 UTC is 00:45 the next local day
    assert _query(central_db, "select day from alerts where id = ?", (aid,)) == [(DAY.isoformat(),)]
    with _serve(central_db, MutableClock(at(9))) as served:
        c = _signed_in(served)
        box = _article(c.get("/larm")[2].decode(), aid)
        assert "Returpostkiosken är inte ansluten" in box
        assert c.request(f"/larm/{aid}/ack", {"csrf": c.csrf("/larm")}, follow=False)[0] == 303


@needs_chromium
def test_centrals_14_00_alert_is_acknowledged_in_chromium(tmp_path, hook):
    db = str(tmp_path / "central.db")
    add_users(db, at(7))
    store = central_store.CentralStore(db)
    try:
        cfg = read(parse(f'[web]\nbase_url = "{BASE}"\n'
                         f'[[notify.targets]]\nname = "teams"\nurl = "json://127.0.0.1:{hook.port}/hook"\n'))
        k = Kiosk(store)
        k.status(True, at(8, 0))
        k.send(k.event(at(8, 1), "signed_in", {"operator": "ANNA"}),
               k.event(at(8, 5), "sorted", {"pile": "dodsbo"}))
        _pass(cfg, db, at(14, 0))
    finally:
        store.close()
    aid = ca.alert_id("sthlm", "kiosk-1", "deadline_missed", DAY)
    link = re.search(r"/larm#larm-[0-9a-f-]+", hook.requests[0]["json"]["message"]).group(0)
    driver = chrome()
    try:
        with _serve(db, MutableClock(at(14, 3))) as served:
            browser_login(driver, served.url, "tl1")
            driver.get(served.url + link)  # the notification's link
            box = driver.find_element("css selector", f"#larm-{aid}")
            assert "Dödsbofakturor" in box.text and "sthlm / kiosk-1" in box.text
            driver.save_screenshot(str(tmp_path / "larm.png"))
            box.find_element("css selector", "form[action$='/ack'] button").click()
            wait_page(driver, lambda d: "Kvitterat av tl1" in d.find_element("css selector", f"#larm-{aid}").text,
                      30, "the acknowledgement on the alert")
            assert driver.current_url.endswith(f"#larm-{aid}")
    finally:
        quit_chrome(driver)


def test_an_import_into_a_new_central_makes_every_room_and_delivers_what_it_imported(central_db, tmp_path, hook):
    """`kiosk central import` creates central's database: the delivery room exists before the
    first imported row, so the imported bestridan and billing list go out (only an older central
    upgraded skips what it stored before delivery existed)."""
    import subprocess

    from .mqtt_broker import env, kiosk_cmd
    from .web_helpers import KioskDay

    k = KioskDay(tmp_path / "kiosk", None, start=at(8))
    k.do(at(8, 0), cmd="login", operator="ANNA")
    k.do(at(9, 10), cmd="incoming", kind="bestridan", segment="privat")
    done = subprocess.run(kiosk_cmd("central", "import", str(k.db), "--db", central_db), env=env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stored"] >= 3
    k.journal.close()
    rooms = {r for (r,) in _query(central_db, "select distinct room from schema_migrations")}
    assert rooms == {"store", "summaries", "web", "delivery", "billing_codes", "shed"}
    cfg = read(parse(f'[web]\nbase_url = "{BASE}"\n[clock_alerts]\nenabled = false\n'
                     f'[[notify.targets]]\nname = "teams"\nurl = "json://127.0.0.1:{hook.port}/hook"\n'))
    assert worker.run_once(cfg, central_db, now=at(9, 20).astimezone(dt.timezone.utc))["delivered"] == 1
    [req] = hook.requests
    assert req["json"]["title"] == "Bestridan av faktura – kiosk-1, demo"


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2028, 12, 31)),
       sign_in=st.one_of(st.none(), st.integers(0, 24 * 60 - 1)), done=st.one_of(st.none(), st.integers(0, 24 * 60 - 1)))
def test_a_clock_alert_is_withdrawn_exactly_when_later_events_prove_it_false(day, sign_in, done):
    """The rule, on any day (DST days included): no_activity is withdrawn iff a sign-in that day was
    before 10:00 local; deadline_missed iff scanning was done before 14:00 local."""
    def local(minute):
        return None if minute is None else dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=TZ)

    facts = [ca.RaisedFacts("a", "sthlm", ca.SITE_WIDE, "no_activity", day.isoformat(), first_sign_in=local(sign_in),
                            signed_in_at="kiosk-1"),
             ca.RaisedFacts("b", "sthlm", "kiosk-1", "deadline_missed", day.isoformat(), scan_done_at=local(done)),
             ca.RaisedFacts("c", "sthlm", "kiosk-1", "kiosk_offline", day.isoformat(), first_sign_in=local(sign_in),
                            scan_done_at=local(done))]
    gone = {w.id: w for w in ca.withdrawals(facts)}
    assert ("a" in gone) == (sign_in is not None and sign_in < 10 * 60)
    assert ("b" in gone) == (done is not None and done < 14 * 60)
    assert "c" not in gone  # a fact of its moment: never withdrawn
    for w in gone.values():
        hhmm = local(sign_in if w.id == "a" else done).strftime("%H:%M")
        assert f"kl. {hhmm}" in w.note and w.note.startswith("Larmet återkallades")
