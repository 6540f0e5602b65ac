"""Screenshots of every web page at 1366x768 (desktop) and 390x844 (phone), from a demo central
database: 12 weeks of history for four kiosks, today in progress at 13:40 (amber countdown),
alerts open, acknowledged and answered.

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
         "returer": "/returer", "historik": "/historik", "kiosker": "/kiosker"}


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
        if a["kind"] == "bestridan":
            state.record(conn, a["alert"], "ack", "lisa", NOW - dt.timedelta(minutes=25))
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

        app = create_app(db, secret="x" * 64, clock=lambda: NOW)
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
