"""Screenshots of every web page at 1366x768 (desktop) and 390x844 (phone), from a demo central
database: 12 weeks of history for four kiosks, today in progress at 13:40 (amber countdown),
alerts open, acknowledged and answered, one undone at the kiosk, central's own clock alerts (one
withdrawn by events that came later), deliveries stuck at a target that does not answer, a
sign-in lock, and the login page offering the organisation's account (OIDC).

    python -m kiosk_dev.web_screenshots [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from kiosk.core.clock import TZ, utc_iso

from .web_bench import day_events, day_script
from .web_serve import Served

TODAY = dt.date(2026, 11, 27)
NOW = dt.datetime.combine(TODAY, dt.time(13, 40), tzinfo=TZ)
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
PAGES = {"login": "/login", "idag": "/", "larm": "/larm", "uppfoljning": "/uppfoljning",
         # a long range: month totals first, then the daily rows 100 a page
         "uppfoljning-kvartal": f"/uppfoljning?from={(TODAY - dt.timedelta(days=84)).isoformat()}&to={TODAY.isoformat()}",
         "returer": "/returer", "historik": "/historik", "kiosker": "/kiosker", "leveranser": "/leveranser",
         "sparrar": "/sparrar"}
# delivery to a port nothing listens on (127.0.0.1:9, "discard"): every try fails at once
DELIVERY = ('[web]\nbase_url = "https://returpost.example.lan"\n[delivery]\nstuck_after_minutes = 10\n'
            '[clock_alerts]\nenabled = true\n'
            '[[notify.targets]]\nname = "teams-tl"\nurl = "json://127.0.0.1:9/teams"\n')


def delivery_config():
    from kiosk.central.delivery.config import parse, read

    return read(parse(DELIVERY))


def clock_alerts_and_deliveries(db: Path) -> None:
    """Central's clock at 10:00 today: no sign-in at malmo (no_activity) and a no_activity for gbg
    that its sign-in at 08:xx, arriving late, withdraws; the notifications fail at the target
    (stuck after 10 minutes: on /leveranser at 13:40)."""
    from kiosk.central import clock_alerts as rules
    from kiosk.central.db import open_database
    from kiosk.central.delivery import clock, outbox, worker
    from kiosk.central.web import auth

    cfg = delivery_config()
    at10 = dt.datetime.combine(TODAY, dt.time(10, 1), tzinfo=TZ)
    with open_database(str(db)) as database:
        outbox.ensure_schema(database)
        with database.transaction() as conn:  # the history was delivered long ago: only today is queued
            conn.execute("delete from delivery_queue where day < ?", (TODAY.isoformat(),))
        with database.transaction() as conn:  # gbg's events had not arrived at 10:00
            a = rules.ClockAlert(rules.alert_id("gbg", rules.SITE_WIDE, "no_activity", TODAY), "gbg", rules.SITE_WIDE,
                                 "no_activity", TODAY.isoformat(), utc_iso(at10),
                                 "Ingen har loggat in på returpostkiosken i gbg före 10:00.")
            conn.execute("insert into alerts(id, site, kiosk, kind, text, ts, seq, payload, received_at, day) "
                         "values (?,?,?,?,?,?,?,?,?,?)", (a.id, a.site, a.kiosk, a.kind, a.text, a.ts, None,
                                                           json.dumps(a.as_payload(), ensure_ascii=False),
                                                           utc_iso(at10), a.day))
        # delivery at 10:05 sees what had arrived by then; the rest at 13:26 (after the day's last alert)
        first, second = at10 + dt.timedelta(minutes=4), NOW - dt.timedelta(minutes=14)
        with database.transaction() as conn:
            later = list(conn.dicts("select * from delivery_queue q where (q.source = 'alerts' and q.ts > ?) or "
                                    "(q.source = 'events' and q.id in (select id from events where ts > ?))",
                                    (utc_iso(first), utc_iso(first))))
            conn.executemany("delete from delivery_queue where n = ?", [(r["n"],) for r in later])
        clock.raise_due(database, first, cfg.rules)
        worker.run_once(cfg, database, now=first.astimezone(dt.timezone.utc))
        with database.transaction() as conn:
            for r in later:
                conn.execute(f"insert into delivery_queue({', '.join(r)}) values ({', '.join('?' * len(r))})",
                             list(r.values()))
        worker.run_once(cfg, database, now=second.astimezone(dt.timezone.utc))
        auth.ensure_schema(database)
        with database.transaction() as conn:
            for _ in range(6):  # someone guessing a password: a sign-in lock on /sparrar
                auth.check_login(conn, "kalle", "fel", "10.0.0.23", NOW - dt.timedelta(minutes=3))


def build(db: Path) -> None:
    from kiosk.central import summaries
    from kiosk.central.summaries import _central_store_class
    from kiosk.central.web import auth, state

    store = _central_store_class()(db)
    rng = random.Random(3)
    kiosks = [("sthlm", "kiosk-1"), ("sthlm", "kiosk-2"), ("gbg", "kiosk-1"), ("malmo", "kiosk-1")]
    for n, (site, kiosk) in enumerate(kiosks):
        seq, st = 0, None
        msgs = []
        for d in range(84, -1, -1):
            day = TODAY - dt.timedelta(days=d)
            if day.weekday() >= 5:
                continue
            script = day_script(rng, day, operator="ANNA" if n % 2 == 0 else "BERT")
            if day == TODAY:
                cut = {0: len(script), 1: len(script) // 3, 2: 12, 3: 0}[n]
                script = script[:cut]
                if n == 0:
                    script = [(t, c) for t, c in script if c["cmd"] != "close_day"]
                    script.append((NOW - dt.timedelta(minutes=30), {"cmd": "incoming", "kind": "bestridan", "segment": "privat"}))
                    script.append((NOW - dt.timedelta(minutes=20), {"cmd": "temporary", "about": "elpriskompensation"}))
                    # a second bestridan, undone at the kiosk a minute later (withdrawn)
                    script.append((NOW - dt.timedelta(minutes=16), {"cmd": "incoming", "kind": "bestridan", "segment": "privat"}))
                    script.append((NOW - dt.timedelta(minutes=15), {"cmd": "undo", "what": "incoming"}))
            evs, st = day_events(script, site, kiosk, seq, state=st)
            seq += len(evs)
            msgs += [(f"returpost/v1/{site}/{kiosk}/events", json.dumps(e, ensure_ascii=False).encode()) for e in evs]
        store.ingest(msgs, received_at=utc_iso(NOW - dt.timedelta(minutes=n)))
        online = n != 3
        status = {"v": 1, "site": site, "kiosk": kiosk, "online": online, "pending": 0 if online else 4,
                  "last_seq": seq, "version": "0.1.0", "ts": utc_iso(NOW)}
        store.ingest([(f"returpost/v1/{site}/{kiosk}/status", json.dumps(status).encode())],
                     received_at=utc_iso(NOW - dt.timedelta(minutes=n if online else 95)))
    store.ingest([("returpost/v1/gbg/kiosk-1/alerts", json.dumps({
        "v": 1, "id": "dev-printer-1", "site": "gbg", "kiosk": "kiosk-1", "kind": "printer",
        "text": "Skrivaren har slut på papper.", "ts": utc_iso(NOW - dt.timedelta(minutes=50))}).encode())],
                 received_at=utc_iso(NOW))
    store.close()
    clock_alerts_and_deliveries(db)
    conn = summaries.connect(db)
    state.ensure_schema(conn)
    auth.ensure_schema(conn)
    auth.add_user(conn, "lisa", "tl", "demo-lösenord", NOW)
    summaries.refresh(conn, NOW)
    # history acknowledged; today one acknowledged, one answered (the rest stay open)
    for a in state.alerts(conn):
        if a["day"] < TODAY.isoformat():
            state.record(conn, a["alert"], "ack", "lisa", dt.datetime.fromisoformat(a["ts"][:-1] + "+00:00")
                         + dt.timedelta(minutes=7))
    for a in state.alerts(conn, day=TODAY.isoformat()):
        if a["kind"] == "bestridan" and not a.get("cancelled_at"):
            state.record(conn, a["alert"], "ack", "lisa", dt.datetime.fromisoformat(a["ts"][:-1] + "+00:00")
                         + dt.timedelta(minutes=5))
        if a["kind"] == "tillfalliga" and a["site"] == "sthlm":
            state.record(conn, a["alert"], "answer", "lisa", NOW - dt.timedelta(minutes=10),
                         "Räkna dem och lägg dem i sekretesslådan; inget ärende behövs.")
    conn.close()


def main(argv: list[str] | None = None) -> int:
    from kiosk.central.web.app import create_app

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/screenshots")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="web-shots-"))
    try:
        db = tmp / "central.db"
        build(db)
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from web_helpers import chrome, quit_chrome  # type: ignore[import-not-found]

        from kiosk.central.web.oidc import OidcSettings
        from kiosk.central.web.settings import Settings

        oidc = OidcSettings(name="Bolagets konto", issuer="https://login.example.lan", client_id="returpost",
                            client_secret="demo")
        app = create_app(db, secret="x" * 64, clock=lambda: NOW, settings=Settings(oidc=oidc),
                         delivery=delivery_config())
        with Served(app) as served:
            for size, (w, h) in SIZES.items():
                driver = chrome(size=f"{w},{h}")
                try:
                    driver.set_window_size(w, h)
                    driver.get(served.url + "/login")
                    driver.save_screenshot(str(out / f"web-login-{size}.png"))
                    driver.find_element("id", "username").send_keys("lisa")
                    driver.find_element("id", "password").send_keys("demo-lösenord")
                    driver.find_element("id", "login-button").click()
                    time.sleep(0.5)
                    for name, path in PAGES.items():
                        if name == "login":
                            continue
                        driver.get(served.url + path)
                        time.sleep(0.6)
                        # the viewport's size in CSS pixels, as a person sees it
                        driver.save_screenshot(str(out / f"web-{name}-{size}.png"))
                        print(out / f"web-{name}-{size}.png")
                finally:
                    quit_chrome(driver)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
