"""Targets never wait on each other, targets by name, stuck deliveries for the TL, and a log that
speaks once per state change. Real servers side by side (aiosmtpd, an http.server webhook,
billing's folder, a socket that accepts and never answers, a port that refuses), the real worker
loop and the real web app; both engines where the database matters (`central_db`)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time

import pytest

from kiosk.central.db import open_database
from kiosk.central.delivery import outbox, worker
from kiosk.central.delivery.config import read
from kiosk.central.web.app import create_app
from kiosk.core.clock import TZ
from kiosk.core.config import parse
from kiosk_dev.delivery_bench import Hang
from kiosk_dev.web_serve import Client, Served

from .delivery_servers import Hook, Kiosk, Smtp, free_port, store_class
from .web_helpers import PASSWORDS, MutableClock, add_users

T0 = dt.datetime(2026, 11, 24, 10, 42, tzinfo=TZ)  # a Tuesday
BESTRIDAN = "Bestridan av faktura inkommen (Inscannat brev: Bestridan)."
BASE = "https://returpost.example.lan"


def config(text: str, interval_s: float = 0.5, timeout_s: float = 2.0, backoff_min_s: float = 1.0,
           stuck_minutes: int = 60):
    return read(parse(f'[web]\nbase_url = "{BASE}"\n'
                      f'[delivery]\ninterval_s = {interval_s}\ntimeout_s = {timeout_s}\nbackoff_min_s = {backoff_min_s}\n'
                      f'backoff_max_s = 600.0\nstuck_after_minutes = {stuck_minutes}\n'
                      '[clock_alerts]\nenabled = false\n' + text))


def target(name: str, url: str, kinds: str = '["bestridan"]') -> str:
    return f'[[notify.targets]]\nname = "{name}"\nurl = "{url}"\nkinds = {kinds}\n'


def rows(db) -> list[dict]:
    with open_database(db) as database:
        return database.dicts("select * from delivery_outbox order by n")


@pytest.fixture
def hook():
    h = Hook().start()
    yield h
    h.stop()


@pytest.mark.slow
def test_a_hanging_a_refusing_and_a_slow_target_delay_no_working_one(central_db, tmp_path, hook):
    smtp, hang, hang_mail, slow = Smtp().start(), Hang().start(), Hang().start(), Hook().start()
    slow.sleep = 1.5  # answers, but takes its time
    store = store_class()(central_db)
    k = Kiosk(store)
    cfg = config(target("mejl", f"mailto://127.0.0.1:{smtp.port}?from=returpost@example.se&to=tl@example.se&mode=insecure")
                 + target("teams", f"json://127.0.0.1:{hook.port}/hook")
                 + target("haenger", f"json://127.0.0.1:{hang.port}/hook")
                 + target("haenger-mejl", f"mailto://127.0.0.1:{hang_mail.port}?from=a@example.se&to=b@example.se&mode=insecure")
                 + target("stangd", f"json://127.0.0.1:{free_port()}/hook")
                 + target("seg", f"json://127.0.0.1:{slow.port}/hook")
                 + f'[billing]\ndir = "{tmp_path}/billing"\n', interval_s=0.5, timeout_s=2.0)
    stop = threading.Event()
    t = threading.Thread(target=worker.run, args=(cfg, central_db, stop), daemon=True)
    t.start()
    stored: dict[str, float] = {}
    try:
        for i in range(6):
            ev = k.event(T0 + dt.timedelta(minutes=i), "alert_raised", {"kind": "bestridan", "text": f"{BESTRIDAN} nr {i}"})
            scan = k.event(T0 + dt.timedelta(minutes=i), "scan_accepted", {"code": f"7300000{i}", "pile": "faktura"})
            k.send(ev, scan)
            stored[ev["id"]] = time.monotonic()
            time.sleep(0.7)
        deadline = time.monotonic() + cfg.interval_s + 5.0 + 5.0
        while time.monotonic() < deadline and (len(hook.requests) < 6 or len(smtp.messages) < 6):
            time.sleep(0.05)
        assert hang.accepted.is_set() and hang_mail.accepted.is_set()  # the hanging targets were tried meanwhile
    finally:
        stop.set()
        t.join(30)
    limit = cfg.interval_s + 5.0
    got_hook = {re.search(r"larm-([0-9a-f-]+)", r["json"]["message"]).group(1): r["at"] for r in hook.requests}
    got_mail = {}
    for msg, at in zip(smtp.messages, smtp.times):
        body = msg.get_body(preferencelist=("plain",)).get_content()
        got_mail[re.search(r"larm-([0-9a-f-]+)", body).group(1)] = at
    assert set(got_hook) == set(stored) and set(got_mail) == set(stored)
    late = {aid: (round(got_hook[aid] - s, 2), round(got_mail[aid] - s, 2)) for aid, s in stored.items()
            if got_hook[aid] - s > limit or got_mail[aid] - s > limit}
    assert not late, f"delivered later than interval_s + 5 s: {late}"
    # billing's folder has the day's list with every scan
    [csv_file] = (tmp_path / "billing").glob("*.csv")
    text = csv_file.read_text(encoding="utf-8-sig")
    assert all(f"7300000{i}" in text for i in range(6))
    by_target = {}
    for r in rows(central_db):
        by_target.setdefault(r["target"], set()).add(r["state"])
    assert by_target["notify:teams"] == {"delivered"} and by_target["notify:mejl"] == {"delivered"}
    assert "delivered" not in by_target["notify:haenger"] and "delivered" not in by_target["notify:haenger-mejl"]
    store.close()
    for s in (smtp, hang, hang_mail, slow):
        s.stop()


def test_a_corrected_url_takes_over_the_targets_pending_rows(central_db, hook):
    store = store_class()(central_db)
    k = Kiosk(store)
    dead = f"json://127.0.0.1:{free_port()}/hook"
    # configured before names: the row's target is derived from the URL
    unnamed = config(f'[[notify.targets]]\nurl = "{dead}"\nkinds = ["bestridan"]\n')
    ev = k.event(T0, "alert_raised", {"kind": "bestridan", "text": BESTRIDAN})
    k.send(ev)
    worker.run_once(unnamed, central_db, now=T0)
    [row] = rows(central_db)
    assert row["state"] == "failing" and row["target"].startswith("notify:") and row["target"] != "notify:tl"
    named = config(target("tl", dead))
    worker.run_once(named, central_db, now=T0 + dt.timedelta(minutes=1))  # the name adopts it; still failing
    [row] = rows(central_db)
    assert (row["target"], row["state"], row["attempts"]) == ("notify:tl", "failing", 2)
    fixed = config(target("tl", f"json://127.0.0.1:{hook.port}/hook"))
    worker.run_once(fixed, central_db, now=T0 + dt.timedelta(minutes=10))
    [row] = rows(central_db)
    assert row["state"] == "delivered" and row["target_label"] == f"json://127.0.0.1:{hook.port}/…"
    [req] = hook.requests
    assert BESTRIDAN in req["json"]["message"] and req["headers"]["idempotency-key"] == row["key"]
    store.close()


def test_a_failing_lane_waits_as_a_whole_and_the_others_go_on(central_db, hook):
    store = store_class()(central_db)
    k = Kiosk(store)
    cfg = config(target("trasig", f"json://127.0.0.1:{free_port()}/hook")
                 + target("teams", f"json://127.0.0.1:{hook.port}/hook"), backoff_min_s=60.0)
    k.send(*[k.event(T0, "alert_raised", {"kind": "bestridan", "text": f"{BESTRIDAN} {i}"}) for i in range(3)])
    counts = worker.run_once(cfg, central_db, now=T0)
    assert counts["delivered"] == 3 and counts["failed"] == 1  # one try at the broken target, then it waits
    broken = [r for r in rows(central_db) if r["target"] == "notify:trasig"]
    assert [r["attempts"] for r in broken] == [1, 0, 0]
    assert {r["next_attempt_at"] for r in broken} == {outbox.utc_iso(T0 + dt.timedelta(seconds=60))}
    assert worker.run_once(cfg, central_db, now=T0 + dt.timedelta(seconds=30))["failed"] == 0  # still waiting
    assert worker.run_once(cfg, central_db, now=T0 + dt.timedelta(seconds=61))["failed"] == 1
    store.close()


def test_the_log_says_a_failing_target_once_and_once_when_it_works_again(tmp_path, hook, caplog):
    db = str(tmp_path / "central.db")
    store = store_class()(db)
    k = Kiosk(store)
    hook.status = 500
    cfg = config(target("teams", f"json://127.0.0.1:{hook.port}/hook"), backoff_min_s=1.0)
    k.send(k.event(T0, "alert_raised", {"kind": "bestridan", "text": BESTRIDAN}))
    caplog.set_level(logging.INFO, logger="kiosk.central.delivery.worker")
    for i in range(6):
        assert worker.run_once(cfg, db, now=T0 + dt.timedelta(minutes=20 * i))["failed"] == 1
    hook.status = 200
    assert worker.run_once(cfg, db, now=T0 + dt.timedelta(hours=3))["delivered"] == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "kiosk.central.delivery.worker"]
    assert len([m for m in lines if "failing" in m]) == 1, lines
    assert len([m for m in lines if "works again" in m]) == 1, lines
    # a target removed from the config: said once, however many passes find its deliveries due
    hook.status = 500
    k.send(k.event(T0, "alert_raised", {"kind": "bestridan", "text": BESTRIDAN}))
    assert worker.run_once(cfg, db, now=T0 + dt.timedelta(hours=3, minutes=1))["failed"] == 1
    caplog.clear()
    for i in range(5):
        worker.run_once(config(""), db, now=T0 + dt.timedelta(hours=4, minutes=i))
    gone = [r.getMessage() for r in caplog.records if "no longer in the config" in r.getMessage()]
    assert gone == ["deliveries to notify:teams wait: that target is no longer in the config; correct the config "
                    "(a target keeps its deliveries by its name) or release them on /leveranser"]
    store.close()


def test_a_pass_failing_on_a_full_disk_is_logged_once_not_every_interval(tmp_path, caplog, monkeypatch):
    import sqlite3

    db = str(tmp_path / "central.db")
    store_class()(db).close()
    cfg = config("", interval_s=0.01)
    passes = {"n": 0}
    real = worker._prepare

    def full(cfg_, database, now):
        passes["n"] += 1
        if passes["n"] <= 40:
            raise sqlite3.OperationalError("database or disk is full")
        return real(cfg_, database, now)

    monkeypatch.setattr(worker, "_prepare", full)
    caplog.set_level(logging.INFO, logger="kiosk.central.delivery.worker")
    stop = threading.Event()
    t = threading.Thread(target=worker.run, args=(cfg, db, stop), daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while passes["n"] < 45 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(30)
    assert passes["n"] >= 45
    records = [r for r in caplog.records if r.name == "kiosk.central.delivery.worker"]
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None and "disk is full" in str(errors[0].exc_info[1])
    assert [r.getMessage() for r in records if "works again" in r.getMessage()] == \
        ["delivery worker: a pass works again (after 39 more failure(s))"]


# -- stuck deliveries in the web app ---------------------------------------------------------------

def test_the_tl_sees_stuck_deliveries_and_sends_again_or_releases_them(central_db, hook):
    add_users(central_db, T0)
    store = store_class()(central_db)
    k = Kiosk(store)
    old = config(target("gammal", f"json://127.0.0.1:{free_port()}/hook")
                 + target("teams", f"json://127.0.0.1:{hook.port}/hook"))
    hook.status = 500
    ev = k.event(T0, "alert_raised", {"kind": "bestridan", "text": BESTRIDAN})
    k.send(ev)
    worker.run_once(old, central_db, now=T0)
    # "gammal" is removed from the config; "teams" keeps failing
    cfg = config(target("teams", f"json://127.0.0.1:{hook.port}/hook"), stuck_minutes=30)
    worker.run_once(cfg, central_db, now=T0 + dt.timedelta(minutes=5))
    clock = MutableClock(T0 + dt.timedelta(minutes=20))
    with Served(create_app(central_db, secret="s" * 64, clock=clock, delivery=cfg)) as served:
        c = Client(served.url)
        assert c.login("tl1", PASSWORDS["tl1"]) == 303
        page = c.get("/leveranser")[2].decode()
        gone, teams = [r for r in rows(central_db)]
        assert f'id="leverans-{gone["n"]}"' in page and f'id="leverans-{teams["n"]}"' not in page  # 20 min < 30
        box = re.search(rf'id="leverans-{gone["n"]}".*?</article>', page, re.S).group(0)
        assert "Bestridan av faktura – kiosk-1, sthlm" in box and "Mottagaren finns inte längre" in box
        assert "2026-11-24 10:42" in box and f"/larm#larm-{ev['id']}" in box and "disabled" in box
        clock.value = T0 + dt.timedelta(minutes=40)
        page = c.get("/leveranser")[2].decode()
        box = re.search(rf'id="leverans-{teams["n"]}".*?</article>', page, re.S).group(0)
        assert "teams (json://127.0.0.1:" in box and "500" in box and "Skicka igen" in box and "Släpp" in box
        assert "Senaste fel: <span class=\"error-text\">Mottagaren svarade med ett fel. (Tekniskt: " in box  # Swedish first

        # a form without the CSRF token changes nothing; a viewer may not act
        assert c.request(f"/leveranser/{teams['n']}/retry", {"csrf": "fel"}, follow=False)[0] == 403
        viewer = Client(served.url)
        assert viewer.login("lasare", PASSWORDS["lasare"]) == 303
        assert viewer.request(f"/leveranser/{teams['n']}/release", {"csrf": viewer.csrf("/leveranser")},
                              follow=False)[0] == 403
        status, headers, _ = c.request(f"/leveranser/{gone['n']}/retry", {"csrf": c.csrf("/leveranser")}, follow=False)
        assert status == 303 and headers["location"] == "/leveranser?ok=gone"
        assert "rätta inställningarna eller släpp" in c.get("/leveranser?ok=gone")[2].decode()
        c.request(f"/leveranser/{gone['n']}/release", {"csrf": c.csrf("/leveranser")})
        c.request(f"/leveranser/{teams['n']}/retry", {"csrf": c.csrf("/leveranser")})
        gone, teams = rows(central_db)
        assert (gone["state"], gone["released_by"]) == ("released", "tl1")
        assert teams["next_attempt_at"] == outbox.utc_iso(clock.value) and teams["state"] == "failing"
        hook.status = 200
        assert worker.run_once(cfg, central_db, now=clock.value)["delivered"] == 1
        assert 'id="no-stuck"' in c.get("/leveranser")[2].decode()
    with open_database(central_db) as database:
        actions = database.query("select who, action, detail from web_audit where action like 'delivery_%' order by n")
    assert [(w, a, json.loads(d)["result"]) for w, a, d in actions] == \
        [("tl1", "delivery_retry", "gone"), ("tl1", "delivery_release", "release"), ("tl1", "delivery_retry", "retry")]
    store.close()
