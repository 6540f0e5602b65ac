"""Child process of tests/test_ui_alert_truth.py: the real kiosk app in a real window (Xvfb in
$DISPLAY), synced to a real mosquitto on $TRUTH_BROKER_PORT with no central behind it, driven by
real X input:

1. a bestridan registered by taps: central never confirms, so the strip, the banner and the
   status bar tell the operator to tell the TL directly (never "TL har larmats");
2. central's retained inbox document (published here on the broker, as central's collector does)
   reports the alert delivered: "TL har fått larmet HH:MM", and the day records it;
3. the printer is switched off, a dödsbo label is printed by taps: the label does not count, the
   status bar and strip are red; the printer comes back, "Försök igen" is tapped: the label
   counts, the banner is gone, the printer is green again.

    python tests/ui_alert_truth_driver.py DATA_DIR OUT.json SIZE [SHOTS_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def publish_inbox(port: int, site: str, kiosk: str, doc: dict) -> None:
    """What central's collector does: the inbox document, retained, QoS 1."""
    import paho.mqtt.client as mqtt

    from kiosk.wire import inbox, topics

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-central")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        info = client.publish(topics.topic(site, kiosk, "inbox"), inbox.dumps(doc), qos=1, retain=True)
        info.wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def main(data: Path, out: Path, size: str, shots: Path | None) -> int:
    from kiosk.shelf.ui import kivyenv

    w, h = (int(v) for v in size.split("x"))
    kivyenv.prepare(w, h)
    kivyenv.register_fonts()
    from kivy.core.window import Window

    from kiosk.core.clock import TZ, utc_iso
    from kiosk.core.config import parse
    from kiosk.shelf.runtime import Kiosk
    from kiosk_dev.ui_driver import Driver, find_button, settled, tap, type_keys
    from tests.ui_child import run_script

    port = int(os.environ["TRUTH_BROKER_PORT"])
    config = parse(f'[kiosk]\ndata_dir = "{data}"\nhardware = "simulator"\n'
                   f'[mqtt]\nport = {port}\nack_timeout = 3.0\nbackoff_min = 0.05\nbackoff_max = 0.5\n'
                   f'[gpio]\npin_factory = "mock"\n[printer]\nbackend = "dummy"\n')
    kiosk = Kiosk(config, simulator=True)
    kiosk.poller.interval = 0.3
    tmp = Path(tempfile.mkdtemp(prefix="kiosk-truth-"))
    seen: dict = {}

    def shot(name: str) -> None:
        if shots is not None:
            path = Window.screenshot(name=str(tmp / f"{name}.png"))
            os.replace(path, shots / f"{size}-{name}.png")

    def look(app) -> dict:
        return {"banner": app.banner.text, "banner_rgba": list(app.banner._bg[0].rgba), "status": app.status.text,
                "problem": app.problem_text.text, "problem_rgba": list(app.problem._bg[0].rgba)}

    def script(d: Driver):
        app = d.app
        yield lambda: bool(app.kiosk.poller.snapshot.get("sync", {}).get("online"))
        app.do({"cmd": "login", "operator": "ANNA"})
        app.go("incoming")
        yield 3
        tap(find_button("Bestridan av faktura", exact=True))
        yield 3
        tap(find_button("Privatkund", exact=True))
        yield 3
        tap(find_button("Registrera och visa ärendet", exact=True))
        yield 3
        inc = app.pages["incoming"]
        aid = inc.tl_note.alert_id
        seen["alert_id"] = aid
        seen["first"] = {**look(app), "note": inc.tl_note.text}
        # central does not confirm what the kiosk sends: unreachable once the ack window passed
        yield lambda: "centralen svarar inte" in inc.tl_note.text
        yield 3
        seen["unreachable"] = {**look(app), "note": inc.tl_note.text, "note_rgba": list(inc.tl_note._bg[0].rgba)}
        shot("truth-alert-unreachable")
        delivered = app.now().astimezone(TZ).replace(second=0, microsecond=0)
        publish_inbox(port, config.kiosk.site, config.kiosk.id, {"v": 1, "day": app.state.day.isoformat(), "alerts": [
            {"id": aid, "kind": "bestridan", "notified": {"state": "delivered", "at": utc_iso(delivered)},
             "acknowledged": None, "answer": None}]})
        seen["delivered_hhmm"] = delivered.strftime("%H:%M")
        yield lambda: "TL har fått larmet" in inc.tl_note.text
        yield lambda: bool(app.state.alerts[0].get("delivered_at"))  # recorded in the journal
        yield 3
        seen["delivered"] = {**look(app), "note": inc.tl_note.text, "note_rgba": list(inc.tl_note._bg[0].rgba)}
        shot("truth-alert-delivered")
        tap(find_button("Ångra ärende: "))  # names the case; withdraws the alert the TL already got
        yield lambda: app.state.alerts[0]["cancelled"]
        yield lambda: "återkallat" in inc.tl_note.text and "återkallat" in app.status.text  # updated each second
        yield 3
        seen["withdrawn"] = {**look(app), "note": inc.tl_note.text}
        shot("truth-alert-withdrawn")

        # -- the printer --------------------------------------------------------------------------
        for _ in range(2):
            app.do({"cmd": "sort", "pile": "dodsbo"})
        app.do({"cmd": "scan_phase"})
        for code in ("7350001000011", "7350001000028"):
            app.do({"cmd": "scan", "code": code})
        while app.state.current_pile:
            r = app.do({"cmd": "next_pile"})
            if r.code == "confirm_needed":
                app.do({"cmd": "next_pile", "confirm": True})
        app.kiosk.devices.printer.transport.online = False
        yield lambda: not app.kiosk.poller.snapshot["printer"]["ok"]
        app.go("dodsbo")
        yield 3
        type_keys("191212121212")  # the simulator's keyboard scanner: into the keypad's field
        yield lambda: app.pages["dodsbo"].digits == "191212121212"
        yield 3
        # the printer strip comes up with a live refresh and moves the screen down: tap where the
        # button is once it stays put, as a person would (a tap sent a moment before the strip
        # came up once landed where the button had been)
        yield settled(find_button("Skriv ut etikett", exact=True))
        tap(find_button("Skriv ut etikett", exact=True))
        yield lambda: bool(app.state.prints)  # asked for: queued
        yield lambda: app.state.prints[0]["state"] == "failed"  # the printer did not take it: recorded
        yield lambda: "fel" in app.status.text and app.problem.opacity == 1
        yield lambda: app.preview_view is not None
        yield 3
        tap(find_button("Stäng", exact=True))  # the label's preview
        yield lambda: app.preview_view is None
        yield 3
        seen["print_failed"] = {**look(app), "progress": app.pages["dodsbo"].progress.text,
                                "labels_printed": app.state.labels_printed}
        shot("truth-printer-failed")
        app.kiosk.devices.printer.transport.online = True
        app.kiosk.devices.retry_s = 3600  # only the tap below retries
        yield 3
        tap(app.retry_btn)
        yield lambda: app.state.labels_printed == 1
        yield lambda: app.banner.text == "" and app.problem.opacity == 0 and "Skrivare: [color=7ee787]OK" in app.status.text
        yield 3
        seen["print_back"] = {**look(app), "progress": app.pages["dodsbo"].progress.text,
                              "labels_printed": app.state.labels_printed}
        shot("truth-printer-back")
        app.go("summary")
        yield 5
        seen["summary"] = app.pages["summary"].overview.text
        shot("truth-summary")

    return run_script(kiosk, script, seen, str(out))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]) if len(sys.argv) > 4 else None))
