"""Child process of tests/test_inbox.py: the real kiosk app in a real window (on the Xvfb display in
$DISPLAY) showing what central's inbox says about the operator's alerts: a bestridan on the
incoming screen (being sent, delivered, failed, acknowledged), a temporary mailing and the TL's
answer on its screen, and the status area.

    python tests/inbox_ui_driver.py OUT.json SIZE [SHOTS_DIR]

The inbox documents are put where the kiosk's status poller puts the publisher's `inbox()` (the
publisher's side is tested end to end in tests/test_inbox.py). Writes OUT.json with the texts
the screens showed; PNGs into SHOTS_DIR when given. Exit 0 when the script ran to the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def doc(alerts: list[dict]) -> dict:
    return {"v": 1, "day": "2026-12-01", "alerts": alerts}


def alert(aid: str, kind: str, notified=None, acknowledged=None, answer=None) -> dict:
    return {"id": aid, "kind": kind, "notified": notified, "acknowledged": acknowledged, "answer": answer}


def main(out: Path, size: str, shots: Path | None) -> int:
    from kiosk.shelf.ui import kivyenv

    w, h = (int(v) for v in size.split("x"))
    kivyenv.prepare(w, h)
    kivyenv.register_fonts()
    from kivy.core.window import Window

    from kiosk.core.clock import TZ, FixedClock
    from kiosk.shelf.runtime import Kiosk
    from kiosk.wire import inbox
    from kiosk.shelf.ui.app import KioskApp
    from kiosk_dev.screenshots import demo_config
    from kiosk_dev.ui_driver import Driver

    tmp = Path(tempfile.mkdtemp(prefix="kiosk-inbox-"))
    clock = FixedClock(dt.datetime(2026, 12, 1, 10, 40, tzinfo=TZ))
    kiosk = Kiosk(demo_config(tmp), clock=clock, simulator=True, sync=False)
    seen: dict = {"steps": {}, "done": False, "error": None}

    def shot(name: str) -> None:
        if shots is not None:
            path = Window.screenshot(name=str(tmp / f"{name}.png"))
            os.replace(path, shots / f"{size}-{name}.png")

    def feed(app, document) -> None:
        inbox.parse(inbox.dumps(document))  # only documents the kiosk would accept
        # central reachable: a session up, nothing waiting for its confirmation
        app.kiosk.poller.snapshot = {**app.kiosk.poller.snapshot, "inbox": document,
                                     "sync": {"online": True, "pending": 0}}

    def record(app, name: str, note) -> None:
        app.refresh_live()
        note.update()
        seen["steps"][name] = {"note": note.text, "status": app.status.text, "shown": note.opacity == 1}

    def script(d: Driver):
        app = d.app
        app.kiosk.poller.stop()  # the script is the only source of the inbox here
        yield 3
        assert app.kiosk.poller.snapshot["sync"].get("enabled") is False  # sync off in this kiosk
        app.do({"cmd": "login", "operator": "ANNA"})
        app.go("incoming")
        inc = app.pages["incoming"]
        inc._set("kind", "bestridan")
        inc._set("segment", "privat")
        inc._register()
        bid = inc.tl_note.alert_id
        seen["bestridan"] = bid
        yield 3
        record(app, "before", inc.tl_note)
        steps = (
            ("inbox-sending", alert(bid, "bestridan", {"state": "pending", "at": "2026-12-01T09:40:05.000Z"})),
            ("inbox-delivered", alert(bid, "bestridan", {"state": "delivered", "at": "2026-12-01T09:40:07.000Z"})),
            ("inbox-failed", alert(bid, "bestridan", {"state": "failed", "at": "2026-12-01T09:40:09.000Z"})),
            ("inbox-acknowledged", alert(bid, "bestridan", {"state": "delivered", "at": "2026-12-01T09:40:07.000Z"},
                                         {"by": "Karin", "at": "2026-12-01T09:44:00.000Z"})),
        )
        for name, a in steps:
            feed(app, doc([a]))
            record(app, name, inc.tl_note)
            yield 3
            shot(name)
        bestridan_done = steps[-1][1]
        app.go("other")
        other = app.pages["other"]
        app.do({"cmd": "temporary", "about": "Priskompensation"})
        tid = other.tl_note.alert_id
        seen["temporary"] = tid
        feed(app, doc([bestridan_done, alert(tid, "tillfalliga", {"state": "delivered", "at": "2026-12-01T09:41:00.000Z"})]))
        record(app, "temporary-delivered", other.tl_note)
        feed(app, doc([bestridan_done, alert(
            tid, "tillfalliga", {"state": "delivered", "at": "2026-12-01T09:41:00.000Z"},
            {"by": "Karin", "at": "2026-12-01T09:50:00.000Z"},
            {"text": "Lägg breven i TL:s fack, de hämtas i eftermiddag. [b]inte fet[/b]", "by": "Karin",
             "at": "2026-12-01T09:50:00.000Z"})]))
        record(app, "inbox-answer", other.tl_note)
        yield 3
        shot("inbox-answer")
        feed(app, doc([bestridan_done, alert(tid, "tillfalliga", {"state": "delivered", "at": "2026-12-01T09:41:00.000Z"},
                                             {"by": "Karin", "at": "2026-12-01T09:50:00.000Z"})]))
        record(app, "answer-cleared", other.tl_note)
        yield 3
        seen["done"] = True

    drivers: list = []

    def ready(a):
        drivers.append(Driver(a, script))
        drivers[0].start()

    KioskApp(kiosk, on_ready=ready).run()
    if drivers and drivers[0].error:
        seen["error"] = str(drivers[0].error)
    out.write_text(json.dumps(seen, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if seen["done"] and not seen["error"] else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]) if len(sys.argv) > 3 else None))
