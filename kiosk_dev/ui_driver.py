"""Drive the running app from inside its own event loop: a script is a generator that yields
what to wait for (a number of frames, or a condition). Used by the screenshots, the benchmark and
the UI tests. `tap`/`type_keys` send real X input events through the XTest extension, as xdotool
does (xdotool itself when libXtst is missing), through SDL2 and Kivy's input provider as a
touchscreen tap arrives, so the whole input path is exercised."""

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


def wait(seconds: float):
    """A script step that waits `seconds` of wall-clock time: `yield wait(0.6)` (the frames go on)."""
    until = time.monotonic() + seconds

    def passed() -> bool:
        return time.monotonic() >= until

    passed.__doc__ = f"{seconds} s to pass"
    return passed


def settled(widget, seconds: float = 1.2):
    """A script step that waits until `widget` has stayed at one place on the window for `seconds`
    (longer than the app's once-a-second live refresh, which may bring a strip up and move the
    screen under it): `yield settled(button)` before tapping a button that such a strip may move."""
    seen = {"at": None, "since": time.monotonic()}

    def still() -> bool:
        at = tuple(round(v) for v in widget.to_window(*widget.pos))
        now = time.monotonic()
        if at != seen["at"]:
            seen["at"], seen["since"] = at, now
        return now - seen["since"] >= seconds

    still.__doc__ = f"{widget!r} to stay in place for {seconds} s"
    return still


# -- real input through X (the XTest extension, as xdotool uses it) -----------------------------


def have_xdotool() -> bool:
    return shutil.which("xdotool") is not None


class _XTest:
    """XTest fake input on one X connection kept open (libX11 + libXtst through ctypes): the same
    X events xdotool sends, without starting a process per tap (~50 ms each on a busy machine).
    `None` when the libraries or the display are missing: then xdotool is used."""

    _instance = None

    def __init__(self):
        import ctypes
        import ctypes.util

        self.x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        self.xtst = ctypes.CDLL(ctypes.util.find_library("Xtst") or "libXtst.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XFlush.argtypes = [ctypes.c_void_p]
        self.x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.x11.XStringToKeysym.restype = ctypes.c_ulong
        self.x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self.x11.XKeysymToKeycode.restype = ctypes.c_ubyte
        self.x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self.xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                                   ctypes.c_ulong]
        self.xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.dpy = self.x11.XOpenDisplay(None)
        if not self.dpy:
            raise OSError("no X display")

    @classmethod
    def get(cls):
        if cls._instance is None:
            try:
                cls._instance = cls()
            except (OSError, AttributeError):
                cls._instance = False
        return cls._instance or None

    def keycode(self, char: str) -> int:
        """The keycode typing `char` without modifiers, 0 when there is none."""
        name = {"\n": "Return", " ": "space"}.get(char, char)
        if not (name.isalnum() and (not name.isalpha() or name.islower() or len(name) > 1)):
            return 0
        sym = self.x11.XStringToKeysym(name.encode())
        return self.x11.XKeysymToKeycode(self.dpy, sym) if sym else 0

    def click(self, x: int, y: int) -> None:
        self.xtst.XTestFakeMotionEvent(self.dpy, -1, x, y, 0)
        self.xtst.XTestFakeButtonEvent(self.dpy, 1, True, 0)
        self.xtst.XTestFakeButtonEvent(self.dpy, 1, False, 0)
        self.x11.XSync(self.dpy, 0)

    def type(self, codes: list[int]) -> None:
        for code in codes:
            self.xtst.XTestFakeKeyEvent(self.dpy, code, True, 0)
            self.xtst.XTestFakeKeyEvent(self.dpy, code, False, 0)
            self.x11.XSync(self.dpy, 0)
            time.sleep(0.008)  # as xdotool type --delay 8


def screen_point(widget) -> tuple[int, int]:
    """The widget's centre in X screen coordinates (the window sits at 0,0: kivyenv)."""
    x, y = widget.to_window(*widget.center)
    return int(Window.left + x), int(Window.top + Window.height - y)


def wait_out_guard(widget) -> None:
    """kiosk.shelf.ui.widgets.Btn ignores taps for a moment after the screen changed (any button) and
    within its double-tap window (a guarded one): a script that means a new, deliberate tap
    waits that out first, as a person reading the screen would."""
    cls = type(widget)
    if getattr(widget, "rest_pending", None):  # the rest from the next frame's start: apply it now
        widget._rest(widget.rest_pending)
    until = getattr(cls, "quiet_all_until", 0.0)
    if getattr(widget, "guard", False):
        until = max(until, getattr(widget, "quiet_until", 0.0))
    wait = until - time.monotonic()
    if wait > 0:
        time.sleep(wait + 0.02)


def tap(widget, patient: bool = True) -> None:
    """A real X click at the widget's centre; `patient`: first wait out a guarded button's
    double-tap window (so the tap is a deliberate one, as a person's second letter would be)."""
    if patient:
        wait_out_guard(widget)
    x, y = screen_point(widget)
    xt = _XTest.get()
    if xt is not None:
        xt.click(x, y)
        return
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True, timeout=10)


def double_tap(widget, interval_s: float) -> subprocess.Popen:
    """Two real X clicks on the widget `interval_s` apart, sent by xdotool in its own process
    (so the app's loop keeps running between them); wait for the returned process to end."""
    wait_out_guard(widget)  # the first tap is a deliberate one
    x, y = screen_point(widget)
    return subprocess.Popen(["xdotool", "mousemove", str(x), str(y), "click", "1", "sleep", f"{interval_s:.3f}",
                             "click", "1"])


def type_keys(text: str, enter: bool = True) -> None:
    xt = _XTest.get()
    codes = [xt.keycode(c) for c in text + ("\n" if enter else "")] if xt is not None else [0]
    if all(codes):
        xt.type(codes)
        return
    subprocess.run(["xdotool", "type", "--delay", "8", text], check=True, timeout=20)
    if enter:
        subprocess.run(["xdotool", "key", "Return"], check=True, timeout=10)


def find_button(text: str, exact: bool = False):
    """The enabled, shown button whose text contains (or equals) `text`; the topmost view (a
    preview on top of a screen) is searched first."""
    from kivy.uix.behaviors import ButtonBehavior

    for root in list(Window.children):
        for w in root.walk(restrict=True):
            if isinstance(w, ButtonBehavior) and not w.disabled and (w.text == text if exact else text in w.text):
                return w
    raise LookupError(f"no enabled button with {text!r}")


def has_button(text: str, exact: bool = False) -> bool:
    """An enabled, shown button with that text is there (see `find_button`)."""
    try:
        find_button(text, exact)
    except LookupError:
        return False
    return True
