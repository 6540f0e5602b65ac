"""Drive the running app from inside its own event loop: a script is a generator that yields
what to wait for (a number of frames, or a condition). Used by the screenshots, the benchmark and
the UI tests. `tap`/`type_keys` send real X input events with xdotool (through SDL2 and Kivy's
input provider, as a touchscreen tap arrives), so the whole input path is exercised."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
import traceback

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window

log = logging.getLogger(__name__)


class Timeout(AssertionError):
    pass


class Driver:
    def __init__(self, app: App, script, timeout: float = 30.0):
        self.app = app
        self.script = script
        self.timeout = timeout
        self.error: str | None = None
        self.done = False
        self._gen = None
        self._frames = 0
        self._until = None
        self._deadline = 0.0
        self._what = ""
        self.settle_frames = 2

    def start(self) -> None:
        self._gen = self.script(self)
        Clock.schedule_interval(self._step, 0)

    def _step(self, dt):
        try:
            if self._frames > 0:
                self._frames -= 1
                return
            if self._until is not None:
                if not self._until():
                    if time.monotonic() > self._deadline:
                        frame = self._gen.gi_frame
                        where = f" (script line {frame.f_lineno})" if frame is not None else ""
                        raise Timeout(f"timed out waiting for {self._what}{where}")
                    return
                self._until = None
                self._frames = self.settle_frames  # let layout settle before the next tap
                return
            wait = next(self._gen)
            if isinstance(wait, int):
                self._frames = wait
            elif callable(wait):
                self._until = wait
                self._what = getattr(wait, "__doc__", None) or getattr(wait, "__name__", "condition")
                self._deadline = time.monotonic() + self.timeout
        except StopIteration:
            self.done = True
            Clock.unschedule(self._step)
            self.app.stop()
        except Exception:
            self.error = traceback.format_exc()
            log.error("driver failed:\n%s", self.error)
            Clock.unschedule(self._step)
            self.app.stop()
        return None


# -- real input through X (xdotool) ------------------------------------------------------------


def have_xdotool() -> bool:
    return shutil.which("xdotool") is not None


def screen_point(widget) -> tuple[int, int]:
    """The widget's centre in X screen coordinates (the window sits at 0,0: kivyenv)."""
    x, y = widget.to_window(*widget.center)
    return int(Window.left + x), int(Window.top + Window.height - y)


def tap(widget) -> None:
    x, y = screen_point(widget)
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True, timeout=10)


def type_keys(text: str, enter: bool = True) -> None:
    subprocess.run(["xdotool", "type", "--delay", "8", text], check=True, timeout=20)
    if enter:
        subprocess.run(["xdotool", "key", "Return"], check=True, timeout=10)


def find_button(text: str, exact: bool = False):
    """The enabled, shown button whose text contains (or equals) `text`; the topmost view (a
    preview on top of a screen) is searched first."""
    from kivy.uix.button import Button

    for root in list(Window.children):
        for w in root.walk(restrict=True):
            if isinstance(w, Button) and not w.disabled and (w.text == text if exact else text in w.text):
                return w
    raise LookupError(f"no enabled button with {text!r}")
