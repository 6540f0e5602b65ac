"""`kiosk screenshots --out DIR`: a PNG of every screen at 800x480, 1280x720 and 720x1280, and
of every screen with every strip up at once (`SIZE-NAME@all.png`).

Each size runs in its own process (a Kivy window cannot be re-created in one process), on a
private Xvfb when there is no display. The day shown is a scripted demo day in a temp journal.

The strip states (`STRIPS`) are what the status poller can report that takes room from the
screens: the TL strip (central's word on the day's alerts and the TLs' answers), the printer
strip (a printer that does not answer, jobs waiting), a status bar on two lines (sync, scanner,
clock and a TL alert at once) and all of them together. The layout audit runs every screen in
every strip state; the screenshots keep the plain state and "all".
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .xvfb import display_env

SHOTS = ("signin", "home", "sort", "sort_letakund", "scan", "scan_confirm", "dodsbo", "dodsbo_century", "preview",
         "sekretess", "letakund", "datecheck", "incoming_choose", "incoming", "keyboard", "incoming_own", "other",
         "summary", "summary_full")


STRIPS = ("", "tl", "printer", "status2", "all")
SHOT_STRIPS = ("", "all")  # the states saved as PNGs (the audit checks every state)
PRINTER_DOWN = {"ok": False, "pending": 3,
                "message": "Skrivaren svarar inte: kontrollera att den är påslagen, har papper och att luckan är stängd."}
LONG_ANSWER = ("Lägg breven i facket för tillfälliga utskick och skicka inte om dem; kunden kontaktas av "
               "projektgruppen i nästa vecka.")


def strip_snapshot(base: dict, strip: str, alert_ids: list[str], now) -> dict:
    """The status poller's snapshot with the strips of `strip` up (see STRIPS)."""
    snap = dict(base)
    at = now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if strip in ("tl", "all", "status2"):
        alerts = [{"id": aid, "kind": "tillfalliga" if i % 2 else "bestridan",
                   "notified": {"state": "failed", "at": at}, "acknowledged": None,
                   "answer": {"text": LONG_ANSWER, "by": "tl.karlsson", "at": at} if i % 2 else None}
                  for i, aid in enumerate(alert_ids)]
        alerts.append({"id": "site-answer", "kind": "tillfalliga", "notified": {"state": "delivered", "at": at},
                       "acknowledged": {"by": "tl.karlsson", "at": at},
                       "answer": {"text": LONG_ANSWER, "by": "tl.karlsson", "at": at}})  # the site's answer
        snap["inbox"] = {"v": 1, "day": now.date().isoformat(), "alerts": alerts}
    if strip in ("printer", "all"):
        snap["printer"] = dict(PRINTER_DOWN)
    if strip in ("status2", "all"):
        snap["sync"] = {"online": False, "pending": 12345, "last_error": "connection refused"}
        snap["scanner"] = False
        snap["clock_synced"] = False
        snap["faults"] = ["Skannern saknas: kontrollera USB-kabeln och att skannern är påslagen."]
    return snap


def demo_config(data_dir: Path):
    from kiosk.core.config import parse

    return parse(f'[kiosk]\ndata_dir = "{data_dir}"\nhardware = "simulator"\n[mqtt]\nenabled = false\n'
                 f'[gpio]\npin_factory = "mock"\n[printer]\nbackend = "dummy"\npreview_dir = "{data_dir}/previews"\n')


def main(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    failed = 0
    with display_env() as env:
        for size in sizes:
            proc = subprocess.run([sys.executable, "-m", "kiosk_dev.screenshots", size, str(out)], env=env,
                                  timeout=180)
            if proc.returncode != 0:
                failed += 1
                print(f"screenshots {size}: failed (exit {proc.returncode})", file=sys.stderr)
    for f in sorted(out.glob("*.png")):
        print(f)
    return 1 if failed else 0


def child(size: str, out: Path | None, on_screen=None, strips=SHOT_STRIPS) -> int:
    """Run the demo day at `size`; at every state worth seeing, in each strip state of `strips`,
    call `on_screen(app, name)` (the layout audit) or, by default, save `out/SIZE-NAME.png`
    (NAME@STRIP with a strip up)."""
    from kiosk.shelf.ui import kivyenv

    w, h = (int(v) for v in size.split("x"))
    # Frames as fast as they render (the kiosk's 30 fps cap would only sleep between them): the
    # script waits in frames and conditions, never in seconds, so each state is audited and shot
    # after the same frames, sooner.
    kivyenv.prepare(w, h, maxfps=0)
    kivyenv.register_fonts()
    from kivy.core.window import Window

    from kiosk.core.clock import TZ, FixedClock
    from kiosk.shelf.runtime import Kiosk
    from kiosk.shelf.ui.app import KioskApp

    from .ui_driver import Driver

    tmp = Path(tempfile.mkdtemp(prefix="kiosk-shots-"))
    clock = FixedClock(dt.datetime(2026, 11, 23, 10, 42, tzinfo=TZ))
    kiosk = Kiosk(demo_config(tmp), clock=clock, simulator=True, sync=False)

    if on_screen is not None:
        # The audit reads the widgets' geometry and text fitting (done on the CPU as properties
        # change), never pixels: the frames run without drawing them (most of its time otherwise).
        Window.fbind("on_draw", lambda *_: True)
        Window.fbind("on_flip", lambda *_: True)

    def save(name: str) -> None:
        if on_screen is not None:
            on_screen(kiosk_app[0], name)
            return
        path = Window.screenshot(name=str(tmp / f"{name}.png"))
        os.replace(path, out / f"{size}-{name}.png")

    kiosk_app: list = []

    def script(d: Driver):
        app = d.app
        kiosk_app.append(app)

        # The status poller's thread stops: the script sets what it reports (`strip`).
        poller = kiosk.poller
        poller.stop()
        if poller._thread is not None:
            poller._thread.join(5)
        wanted = [""]
        initial = dict(poller.snapshot)  # poll() builds on the last snapshot: start each from this

        def strip(state: str | None = None) -> None:
            """Put the strips of `state` up ("": none, as the devices are; None: the state
            asked for last) and show them now."""
            if state is not None:
                wanted[0] = state
            poller.snapshot = dict(initial)
            base = poller.poll()
            if wanted[0]:
                ids = [a["id"] for a in app.controller.state.alerts if a.get("id")]
                base = strip_snapshot(base, wanted[0], ids, clock.now())
            poller.snapshot = base
            app._status()
            for page in list(app.pages.values()):
                note = getattr(page, "tl_note", None)
                if note is not None:
                    note.update()

        def settle(state: str = ""):
            """Three frames, and (with no strip asked for) the device strip gone (a preview print
            still queued shows it and takes the body's room): every shot and audit sees the same
            layout."""
            yield 3
            strip(state)
            if not state:
                until = time.monotonic() + 5
                yield lambda: (strip(), not app.problem_text.text)[1] or time.monotonic() > until
            yield 3

        def shot(name: str):
            for state in strips:
                yield from settle(state)
                save(f"{name}@{state}" if state else name)
            strip("")

        yield from settle()
        yield from shot("signin")
        app.do({"cmd": "login", "operator": "ANNA"})
        for pile, n in (("dodsbo", 2), ("sekretess", 3), ("faktura", 5), ("ovriga_streckkod", 2),
                        ("ovriga_brev", 2), ("inkomna_brev", 2), ("tillfalliga", 1)):
            for _ in range(n):
                app.do({"cmd": "sort", "pile": pile})
        for letter in "AABH":
            app.do({"cmd": "leta_kund", "letter": letter, "count": 1, "apartments": 0})
        app.do({"cmd": "scan_phase"})
        for code in ("7350010000011", "7350010000021"):
            app.do({"cmd": "scan", "code": code})
        app.do({"cmd": "next_pile"})
        for code in ("7350020000011", "7350020000021", "7350020000031"):
            app.do({"cmd": "scan", "code": code})
        app.do({"cmd": "next_pile"})
        for code in ("7350030000011", "7350030000021", "7350030000021"):
            app.do({"cmd": "scan", "code": code})
        app.go("home")
        yield from settle()
        yield from shot("home")
        app.go("sort")
        yield from settle()
        yield from shot("sort")
        app.pages["sort"]._tap("leta_kund")
        yield from settle()
        yield from shot("sort_letakund")
        app.pages["sort"].chooser.dismiss(animation=False)
        app.go("scan")
        app.do({"cmd": "scan", "code": "7350030000021"})
        yield from settle()
        yield from shot("scan")
        scan = app.pages["scan"]
        scan.next._on_tap()  # Klar with 3 of 5 scanned: the controller asks for a second tap
        yield from settle()
        yield from shot("scan_confirm")
        for code in ("7350030000031", "7350030000041"):
            app.do({"cmd": "scan", "code": code})
        app.do({"cmd": "next_pile", "confirm": True})
        app.do({"cmd": "scan", "code": "7350040000011"})
        app.do({"cmd": "next_pile", "confirm": True})
        app.go("dodsbo")
        page = app.pages["dodsbo"]
        for k in "19121212-121":
            page.press(k)
        yield from settle()
        yield from shot("dodsbo")
        page.clear_typed()
        for k in "121212-1212":
            page.press(k)
        page.print_btn._on_tap()
        yield from settle()
        yield from shot("dodsbo_century")
        app.go("sekretess")
        app.do({"cmd": "cover_slip"})
        yield lambda: app.preview_view is not None
        yield from settle()
        yield from shot("preview")
        app.preview_view.dismiss()
        app.pages["sekretess"]._tick(0)
        yield from settle()
        yield from shot("sekretess")
        app.go("letakund")
        for cmd in ({"letter": "A", "apartments": 1}, {"letter": "B"}):
            app.do({"cmd": "leta_kund", "count": 1, **cmd})
        yield from settle()
        yield from shot("letakund")
        app.go("datecheck")
        app.pages["datecheck"]._step(1)
        yield from settle()
        yield from shot("datecheck")
        app.go("incoming")
        inc = app.pages["incoming"]
        inc._set("kind", "bestridan")
        inc._set("segment", "privat")
        yield from settle()
        yield from shot("incoming_choose")
        inc._register()
        yield from settle()
        yield from shot("incoming")
        # The free-text keyboard for "what is the letter about", half typed, then its result.
        inc._set("kind", "ovrigt")
        inc._set("segment", "foretag")
        inc._type_about()
        kb = app.text_keyboard
        for ch in "ändrad leveransadress för 2 kö":
            kb.press(ch)
        yield from settle()
        yield from shot("keyboard")
        kb.finish()
        yield from settle()
        yield from shot("incoming_own")
        app.go("other")
        app.do({"cmd": "remark", "code": "poste_restante"})
        yield from settle()
        yield from shot("other")
        app.go("summary")
        yield from settle()
        yield from shot("summary")
        app.pages["summary"]._toggle()
        yield from settle()
        yield from shot("summary_full")
        app.pages["summary"]._toggle()

    drivers = []

    def ready(a):
        drivers.append(Driver(a, script))
        drivers[0].start()

    KioskApp(kiosk, on_ready=ready).run()
    if not drivers or drivers[0].error or not drivers[0].done:
        print(drivers[0].error if drivers else "the app never became ready", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(child(sys.argv[1], Path(sys.argv[2])))
