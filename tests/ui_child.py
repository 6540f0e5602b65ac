"""What the UI child processes (tests/ui_*_driver.py) share: a clock moving at real speed from a
fixed local start, and the simulator kiosk's config with its paper in a folder of the test's own."""

from __future__ import annotations

import datetime as dt
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
    from kiosk.config import parse

    paper = Path(data_dir).parent / "paper"
    return parse(f'[kiosk]\ndata_dir = "{data_dir}"\nhardware = "simulator"\n[mqtt]\nenabled = false\n'
                 f'[gpio]\npin_factory = "mock"\n'
                 f'[printer]\nbackend = "file"\npath = "{paper}/printer.bin"\npreview_dir = "{paper}/previews"\n'
                 + extra)
