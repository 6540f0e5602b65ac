"""Child process of tests/test_ui_camera.py: camera mode on the sorting screen through the real app
on the Xvfb display in $DISPLAY with real X input. The `files` camera reads the folder FRAMES (beside
DATA_DIR) that the test generated: "Nästa kuvert" lays each envelope; an `auto` one is shown with its
pile lit and committed when the next one is laid, an `ask` one is answered by tapping a candidate,
a hand in the way is said while the pile buttons keep sorting by hand, "Fel" drops a proposal and
"Ta bort kuvertet" then commits nothing.

    python tests/ui_camera_driver.py DATA_DIR OUT.json SIZE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ui_child import press, run_script, signed_in_at, simulator_kiosk  # noqa: E402  (a child process: ROOT first)


def main(data_dir: str, out_path: str, size: str) -> int:
    frames = Path(data_dir).parent / "frames"
    plan = json.loads((frames / "plan.json").read_text(encoding="utf-8"))
    kiosk = simulator_kiosk(data_dir, size, extra=f'[camera]\nbackend = "files"\nfolder = "{frames}"\n')
    from kiosk.shelf.camera.flow import PILE_NAMES
    from kiosk_dev.ui_driver import Driver

    seen: dict = {"steps": []}

    def script(d: Driver):
        app = d.app
        mode = lambda: app.camera_mode  # noqa: E731

        def note(name: str) -> None:
            sc = mode().screen
            seen["steps"].append({"step": name, "message": sc.message, "read": list(sc.read), "light": sc.light,
                                  "options": [o.label for o in sc.options], "manual": sc.manual,
                                  "shelf": {k: v for k, v in app.kiosk.devices.shelf.snapshot().items() if v != "off"},
                                  "panel": _panel_text(app),
                                  "events": [e["type"] for e in app.kiosk.journal.events()]})

        def next_read(n: int):
            press("Nästa kuvert")
            return lambda: mode().reads == n and not mode().busy

        yield from signed_in_at(app, "1. Sortera", "sort")
        note("start")
        yield next_read(1)  # 1: an auto envelope, shown and lit, not yet committed
        yield 3
        note("auto")
        from kivy.core.window import Window

        Window.screenshot(name=str(Path(data_dir) / "camera-auto.png"))
        yield next_read(2)  # 2: laying the next commits the first; this one asks
        yield 3
        note("ask")
        Window.screenshot(name=str(Path(data_dir) / "camera-ask.png"))
        label = next(o.label for o in mode().screen.options if o.pile == plan["ask_pile"])
        press(label, exact=True)
        yield lambda: mode().screen.light == plan["ask_pile"]
        yield 2
        note("chosen")
        yield next_read(3)  # 3: a hand in the way: said; nothing committed or dropped
        yield 3
        note("hand")
        Window.screenshot(name=str(Path(data_dir) / "camera-hand.png"))
        n = len(list(app.kiosk.journal.events()))
        press(PILE_NAMES["ovriga_brev"])  # manual sorting keeps working beside the camera
        yield lambda: len(list(app.kiosk.journal.events())) == n + 1
        yield 2
        note("manual")
        yield next_read(4)  # 4: the chosen envelope is committed; this one is shown
        yield 3
        note("fourth")
        press("Fel", exact=True)
        yield lambda: mode().screen.light is None
        yield 2
        note("wrong")
        press("Ta bort kuvertet")
        yield 3
        note("taken_away")

    return run_script(kiosk, script, seen, out_path)


def _panel_text(app) -> str:
    from kivy.uix.label import Label

    panel = app.camera_mode.panels[0]
    return " | ".join(w.text for w in panel.walk(restrict=True) if isinstance(w, Label) and w.text)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
