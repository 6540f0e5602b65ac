"""Scanner and badge reader: USB HID devices read with evdev, grabbed exclusively.

`InputWatcher` finds its device (name pattern, vendor:product or a /dev/input/by-id path), grabs
it, decodes key events to codes (`keymap.Decoder`) and hands each code to a callback. Unplugged,
it logs once, shows `present = False`, and looks for the device again every `reconnect_s`
(no busy loop) until it is back. `SimulatedInput` is the laptop stand-in: the UI keyboard (or a
script) injects codes.

Device discovery is injectable (`Finder(list_paths, opener)`) so tests drive the real watcher with
objects that have the evdev `InputDevice` API (see `kiosk_dev.fakeinput`).
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import re
import select
import threading
import time
from dataclasses import dataclass
from typing import Callable

from .keymap import Decoder

log = logging.getLogger(__name__)

VIDPID_RE = re.compile(r"^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$")
RECONNECT_S = 0.5
EMPTY_READS_LIMIT = 50  # readable but nothing to read this many times in a row: treat as gone


def _evdev_list() -> list[str]:
    try:
        import evdev
        return list(evdev.list_devices())
    except (ImportError, OSError):
        return []


def _evdev_open(path: str):
    import evdev
    return evdev.InputDevice(path)


@dataclass
class Finder:
    """How devices are listed and opened: evdev by default, fakes in tests."""

    list_paths: Callable[[], list[str]] = _evdev_list
    opener: Callable[[str], object] = _evdev_open

    def describe(self) -> list[dict]:
        """Every input device visible: path, name, vendor:product, whether it types keys."""
        out = []
        for path in self.list_paths():
            try:
                dev = self.opener(path)
            except OSError as exc:
                out.append({"path": path, "error": exc.strerror or str(exc)})
                continue
            try:
                out.append({"path": path, "name": dev.name, "id": _vidpid(dev), "keys": _types_keys(dev),
                            "phys": getattr(dev, "phys", "")})
            finally:
                _close(dev)
        return out

    def find(self, spec: str, exclude: set[str] = frozenset()):
        """Open the device `spec` names, or None when it is not there."""
        spec = spec.strip()
        if not spec:
            return None
        if spec.startswith("/"):  # a stable path such as /dev/input/by-id/usb-...-event-kbd
            path = os.path.realpath(spec)
            if path in exclude or (path not in self.list_paths() and not os.path.exists(path)):
                return None
            try:
                return self.opener(path)
            except OSError as exc:
                log.debug("cannot open %s: %s", spec, exc)
                return None
        vidpid = VIDPID_RE.match(spec)
        candidates = []
        for path in sorted(self.list_paths()):
            if path in exclude:
                continue
            try:
                dev = self.opener(path)
            except OSError:
                continue
            if vidpid:
                ok = _vidpid(dev) == f"{vidpid.group(1)}:{vidpid.group(2)}".lower()
            else:
                ok = name_matches(spec, dev.name)
            if ok:
                candidates.append(dev)
            else:
                _close(dev)
        # A scanner often shows several interfaces (keyboard, consumer keys): take one that types.
        best = next((d for d in candidates if _types_keys(d)), candidates[0] if candidates else None)
        for dev in candidates:
            if dev is not best:
                _close(dev)
        return best


def name_matches(pattern: str, name: str) -> bool:
    """Case-insensitive: a glob when the pattern has * ? [, else a substring."""
    pattern, name = pattern.lower(), (name or "").lower()
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def _vidpid(dev) -> str:
    info = getattr(dev, "info", None)
    if info is None:
        return ""
    return f"{info.vendor:04x}:{info.product:04x}"


def _types_keys(dev) -> bool:
    try:
        from evdev import ecodes as e
        keys = dev.capabilities().get(e.EV_KEY, [])
        return e.KEY_ENTER in keys or e.KEY_1 in keys
    except Exception:
        return False


def _close(dev) -> None:
    try:
        dev.close()
    except Exception:
        pass


class InputWatcher:
    """Reads one HID device in a thread and calls `on_code(code)` for every decoded code."""

    def __init__(self, role: str, spec: str, decoder: Decoder, on_code: Callable[[str], None] | None = None,
                 *, finder: Finder | None = None, reconnect_s: float = RECONNECT_S,
                 clock: Callable[[], float] = time.time, grab: bool = True,
                 exclude: Callable[[], set[str]] | None = None):
        self.role = role
        self.spec = spec
        self.decoder = decoder
        self.on_code = on_code
        self.finder = finder or Finder()
        self.reconnect_s = reconnect_s
        self.clock = clock
        self.want_grab = grab
        self.exclude = exclude or (lambda: set())
        self.present = False
        self.grabbed = False
        self.device_name = ""
        self.device_path = ""
        self.connects = 0  # successful connections (status, tests)
        self.attempts = 0  # discovery attempts (to prove there is no busy loop)
        self.last_error = ""
        self._announced = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._changed = threading.Condition()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"hid-{self.role}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._wake_r = self._wake_w = -1

    def wait_present(self, present: bool = True, timeout: float = 5.0) -> bool:
        """Block until `present` has the wanted value (tests, the CLI)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.present == present, timeout)

    def _set_present(self, value: bool) -> None:
        with self._changed:
            self.present = value
            self._changed.notify_all()

    # -- the reader thread ----------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            dev = self._connect()
            if dev is None:
                self._stop.wait(self.reconnect_s)
                continue
            try:
                self._pump(dev)
            except (OSError, ValueError) as exc:  # ENODEV on unplug; ValueError: fd closed
                reason = errno.errorcode.get(getattr(exc, "errno", None) or 0, "") or str(exc)
                self.last_error = reason
                log.warning("%s %r disconnected (%s); looking for it again every %.1f s",
                            self.role, self.device_name, reason, self.reconnect_s)
                self._announced = True
            finally:
                if self.decoder.pending:
                    self.decoder.expire(float("inf"))  # logs the half-typed code as dropped
                self.decoder.reset()
                self._set_present(False)
                self.grabbed = False
                if self.want_grab:
                    try:
                        dev.ungrab()
                    except Exception:
                        pass
                _close(dev)

    def _connect(self):
        self.attempts += 1
        try:
            dev = self.finder.find(self.spec, self.exclude())
        except Exception as exc:  # discovery must never kill the reader
            log.debug("%s: discovery failed: %s", self.role, exc)
            dev = None
        if dev is None:
            if not self._announced:  # once per absence, not every poll
                self._announced = True
                log.warning("%s %r not found; looking for it every %.1f s", self.role, self.spec, self.reconnect_s)
            return None
        self._announced = False
        self.device_name = getattr(dev, "name", "") or ""
        self.device_path = getattr(dev, "path", "") or ""
        if self.want_grab:
            try:
                dev.grab()
                self.grabbed = True
            except OSError as exc:
                self.grabbed = False
                log.error("%s %r: cannot grab exclusively (%s): its keystrokes may also reach the UI",
                          self.role, self.device_name, exc.strerror or exc)
        self.connects += 1
        self.last_error = ""
        log.info("%s connected: %r at %s%s", self.role, self.device_name, self.device_path,
                 " (grabbed)" if self.grabbed else "")
        self._set_present(True)
        return dev

    def _pump(self, dev) -> None:
        empty = 0
        while not self._stop.is_set():
            deadline = self.decoder.deadline
            timeout = None if deadline is None else max(0.0, deadline - self.clock()) + 0.005
            readable, _, _ = select.select([dev.fileno(), self._wake_r], [], [], timeout)
            if self._wake_r in readable:
                return
            got = False
            if readable:
                while True:
                    event = dev.read_one()
                    if event is None:
                        break
                    got = True
                    code = self.decoder.feed(event)
                    if code is not None:
                        self._emit(code)
                if got:
                    empty = 0
                else:
                    empty += 1
                    if empty >= EMPTY_READS_LIMIT:
                        raise OSError(errno.ENODEV, "device readable but silent")
                    self._stop.wait(0.01)
            self.decoder.expire(self.clock())

    def _emit(self, code: str) -> None:
        if self.on_code is None:
            return
        try:
            self.on_code(code)
        except Exception:  # the reader must survive whatever the receiver does
            log.exception("%s: handling a code failed", self.role)

    def status(self) -> dict:
        return {"role": self.role, "spec": self.spec, "present": self.present, "grabbed": self.grabbed,
                "device": self.device_name, "path": self.device_path, "dropped": self.decoder.dropped,
                "simulated": False}


class SimulatedInput:
    """The laptop stand-in for a scanner or badge reader: codes are injected (UI keyboard, scripts)."""

    def __init__(self, role: str, on_code: Callable[[str], None] | None = None):
        self.role = role
        self.on_code = on_code
        self.present = False
        self.grabbed = False
        self.device_name = f"simulated {role}"
        self.device_path = ""

    def start(self) -> None:
        self.present = True

    def stop(self) -> None:
        self.present = False

    def wait_present(self, present: bool = True, timeout: float = 0.0) -> bool:
        return self.present == present

    def inject(self, code: str) -> None:
        """A code as if scanned (the simulator's keyboard-as-scanner)."""
        code = code.strip()
        if code and self.on_code is not None:
            self.on_code(code)

    def status(self) -> dict:
        return {"role": self.role, "spec": "", "present": self.present, "grabbed": False,
                "device": self.device_name, "path": "", "dropped": 0, "simulated": True}
