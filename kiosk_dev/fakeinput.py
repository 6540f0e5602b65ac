"""Objects with the evdev `InputDevice` API, fed with real `evdev.InputEvent`s.

There is no /dev/uinput on a CI machine, so tests (and the simulator) drive `InputWatcher` with
these. `fileno()` is a real pipe, so `select` works exactly as on a device node; `unplug()` makes
reads fail with ENODEV, as the kernel does when the USB cable is pulled.
"""

from __future__ import annotations

import collections
import errno
import os
import threading
import time

from evdev import InputEvent, ecodes as e

from kiosk.shelf.hw.keymap import encode


class DeviceInfo(collections.namedtuple("DeviceInfo", "bustype vendor product version")):
    pass


def key_events(keys, start: float = 1_700_000_000.0, step: float = 0.002) -> list[InputEvent]:
    """(code, value) key strokes -> real InputEvents as a keyboard sends them: MSC_SCAN, the key,
    then SYN_REPORT, `step` seconds apart."""
    events = []
    t = start
    for code, value in keys:
        sec, usec = int(t), int(round((t - int(t)) * 1e6))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        events.append(InputEvent(sec, usec, e.EV_MSC, e.MSC_SCAN, 0x70000 + code))
        events.append(InputEvent(sec, usec, e.EV_KEY, code, value))
        events.append(InputEvent(sec, usec, e.EV_SYN, e.SYN_REPORT, 0))
        t += step
    return events


def typed(text: str, layout: str = "us", terminator: str = "enter", start: float | None = None,
          step: float = 0.002, **kw) -> list[InputEvent]:
    return key_events(encode(text, layout, terminator, **kw), time.time() if start is None else start, step)


class FakeInputDevice:
    """The evdev InputDevice surface the kiosk uses: name, path, info, capabilities(), fileno(),
    read_one(), read(), read_loop(), grab(), ungrab(), close()."""

    def __init__(self, path: str = "/dev/input/event7", name: str = "Fake Barcode Scanner",
                 vendor: int = 0x05E0, product: int = 0x1200, keys: bool = True):
        self.path = path
        self.name = name
        self.phys = "usb-fake/input0"
        self.info = DeviceInfo(3, vendor, product, 1)
        self._keys = keys
        self._queue: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.unplugged = False
        self.closed = False
        self.grabbed = False
        self.grab_count = 0

    # -- test side ------------------------------------------------------------------------------
    def feed(self, events) -> None:
        with self._lock:
            self._queue.extend(events)
            os.write(self._w, b"e")

    def unplug(self) -> None:
        """The cable is pulled: every read from now on fails with ENODEV."""
        with self._lock:
            self.unplugged = True
            try:
                os.write(self._w, b"u")
            except OSError:
                pass

    # -- evdev API ------------------------------------------------------------------------------
    def capabilities(self, verbose: bool = False, absinfo: bool = True) -> dict:
        keys = list(range(e.KEY_ESC, e.KEY_KPDOT + 1)) + [e.KEY_102ND, e.KEY_KPENTER, e.KEY_RIGHTALT]
        return {e.EV_SYN: [0], e.EV_KEY: keys if self._keys else [e.KEY_VOLUMEUP], e.EV_MSC: [e.MSC_SCAN]}

    def fileno(self) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed device")
        return self._r

    def _drain(self) -> None:
        try:
            os.read(self._r, 4096)
        except (BlockingIOError, OSError):
            pass

    def read_one(self):
        with self._lock:
            if self.unplugged:
                raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
            if not self._queue:
                self._drain()
                return None
            return self._queue.popleft()

    def read(self):
        with self._lock:
            if self.unplugged:
                raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
            if not self._queue:
                self._drain()
                raise BlockingIOError(errno.EAGAIN, "no events")
            events = list(self._queue)
            self._queue.clear()
            self._drain()
        return iter(events)

    def read_loop(self):
        import select
        while True:
            select.select([self.fileno()], [], [])
            yield from self.read()

    def grab(self) -> None:
        if self.unplugged:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
        self.grabbed = True
        self.grab_count += 1

    def ungrab(self) -> None:
        if self.unplugged:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
        self.grabbed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for fd in (self._r, self._w):
                try:
                    os.close(fd)
                except OSError:
                    pass


class FakeBus:
    """A set of plugged-in fake devices, as `Finder(list_paths, opener)` wants them.

    `plug(factory)` makes a device appear (a new object each time it is opened after a replug,
    as the kernel gives a new node); `unplug(path)` pulls it.
    """

    def __init__(self):
        self._plugged: dict[str, dict] = {}
        self.opened: dict[str, list[FakeInputDevice]] = {}
        self.opens = 0
        self._lock = threading.Lock()

    def plug(self, path: str, **kw) -> None:
        with self._lock:
            self._plugged[path] = kw

    def unplug(self, path: str) -> None:
        with self._lock:
            self._plugged.pop(path, None)
            devices = list(self.opened.get(path, ()))
        for dev in devices:
            dev.unplug()

    def list_paths(self) -> list[str]:
        with self._lock:
            return list(self._plugged)

    def open(self, path: str) -> FakeInputDevice:
        with self._lock:
            self.opens += 1
            if path not in self._plugged:
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            dev = FakeInputDevice(path=path, **self._plugged[path])
            self.opened.setdefault(path, []).append(dev)
        return dev

    def live(self, path: str) -> FakeInputDevice | None:
        """The open (not closed) device object at `path`: where a test feeds events."""
        with self._lock:
            devices = [d for d in self.opened.get(path, ()) if not d.closed]
        return devices[-1] if devices else None

    def finder(self):
        from kiosk.shelf.hw.inputs import Finder
        return Finder(list_paths=self.list_paths, opener=self.open)
