"""What the UI child processes (tests/ui_*_driver.py) share: a clock moving at real speed from a
fixed local start, and the simulator kiosk's config with its paper in a folder of the test's own."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path


class OffsetClock:
    """Wall time at real speed from a fixed local start; `skip(s)` jumps wall and idle time."""

    def __init__(self, start: dt.datetime):
        self.start, self.t0 = start, time.monotonic()
        self.skipped = 0.0
        self.synced = True

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.t0 + self.skipped)

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


def simulator_config(data_dir: str, extra: str = ""):
    """The simulator kiosk without sync; the printer's file and previews beside the data dir."""
    from kiosk.core.config import parse

    paper = Path(data_dir).parent / "paper"
    return parse(f'[kiosk]\ndata_dir = "{data_dir}"\nhardware = "simulator"\n[mqtt]\nenabled = false\n'
                 f'[gpio]\npin_factory = "mock"\n'
                 f'[printer]\nbackend = "file"\npath = "{paper}/printer.bin"\npreview_dir = "{paper}/previews"\n'
                 + extra)


def run_script(kiosk, script, seen: dict, out_path: str) -> int:
    """The kiosk's UI driven by `script` (kiosk_dev.ui_driver.Driver) until it ends; what it saw,
    its error and whether it finished go to `out_path` as JSON. Exit status 0 when it finished."""
    from kiosk.shelf.ui.app import KioskApp
    from kiosk_dev.ui_driver import Driver

    drivers: list[Driver] = []

    def ready(app):
        drivers.append(Driver(app, script, timeout=20))
        drivers[0].start()

    KioskApp(kiosk, on_ready=ready).run()
    driver = drivers[0] if drivers else None
    seen["error"] = driver.error if driver else "app never ready"
    seen["done"] = bool(driver and driver.done)
    Path(out_path).write_text(json.dumps(seen, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 0 if seen["done"] and not seen["error"] else 1


def simulator_kiosk(data_dir: str, size: str, start: tuple = (2026, 11, 23, 9, 0), extra: str = ""):
    """Kivy prepared for `size` ("800x480"), and the simulator kiosk on an OffsetClock from
    `start` (local time); `extra` is more config (TOML)."""
    from kiosk.shelf.ui import kivyenv

    w, h = (int(v) for v in size.split("x"))
    kivyenv.prepare(w, h)
    kivyenv.register_fonts()
    from kiosk.core.clock import TZ
    from kiosk.shelf.runtime import Kiosk

    return Kiosk(simulator_config(data_dir, extra), clock=OffsetClock(dt.datetime(*start, tzinfo=TZ)), simulator=True,
                 sync=False)


def press(text: str, exact: bool = False) -> None:
    """A real X tap on the shown, enabled button with this text (kiosk_dev.ui_driver)."""
    from kiosk_dev.ui_driver import find_button, tap

    tap(find_button(text, exact))


def signed_in_at(app, step_button: str, screen: str):
    """A driver script's start (`yield from`): ANNA signs in by touch and opens a step from Home."""
    yield 3
    press("ANNA")
    yield lambda: app.sm.current == "home"
    press(step_button)
    yield lambda: app.sm.current == screen
    yield 2


def scanning_started(app):
    """A driver script's step (`yield from`): from the sorting screen, on to scanning, begun."""
    from kiosk.core import routine

    press("Klar – till skanning")
    yield lambda: app.sm.current == "scan"
    press("Starta skanningen")
    yield lambda: app.controller.state.phase == routine.SCANNING
