"""The kiosk's imperative shell without Kivy: journal, controller, devices, sync publisher, and a
background poller that gathers device and sync status so the UI thread never waits on them.

`Kiosk(config)` is what `kiosk run`, the UI tests, the screenshots and the benchmark all build.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from ..clock import SystemClock
from ..config import Config
from ..controller import Controller, Result
from ..effects import Lights, Print
from ..journal import Journal, connect

log = logging.getLogger(__name__)


def on_pi() -> bool:
    """True on a Raspberry Pi (the device tree names the model)."""
    try:
        return "raspberry pi" in Path("/proc/device-tree/model").read_text(errors="ignore").lower()
    except OSError:
        return False


def simulator_mode(config: Config) -> bool:
    mode = config.kiosk.hardware
    if mode == "simulator":
        return True
    if mode == "pi":
        return False
    return not on_pi()


# ---------------------------------------------------------------------------------------------
# Devices: the hardware helper's `kiosk.hw.build` when present, else this small simulator
# with the same surface (shelf, printer, scanner, apply, attach).
# ---------------------------------------------------------------------------------------------


class SimShelf:
    def __init__(self) -> None:
        self._on: dict[str, str] = {}
        self.failed_slots: tuple[str, ...] = ()

    def show(self, lights: Lights) -> None:
        self._on = dict(lights.on)

    def pattern(self, slot: str) -> str:
        return self._on.get(slot, "off")


class SimPrinter:
    """Prints nothing: a job is 'printed' by a worker thread (the UI shows the PNG preview)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Print] = queue.Queue()
        self._done = 0
        self._thread = threading.Thread(target=self._work, name="sim-printer", daemon=True)
        self._thread.start()

    def submit(self, job: Print) -> None:
        self._queue.put(job)

    def _work(self) -> None:
        while True:
            self._queue.get()
            self._done += 1

    def pending(self) -> int:
        return self._queue.qsize()

    def status(self) -> dict:
        return {"ok": True, "state": "ok", "message": "Skrivare: simulator (förhandsvisning)"}

    def retry(self) -> None:
        pass


class SimScanner:
    present = False  # the physical keyboard acts as the scanner in the UI


class SimDevices:
    simulator = True

    def __init__(self) -> None:
        self.shelf = SimShelf()
        self.printer = SimPrinter()
        self.scanner = SimScanner()

    def apply(self, result: Result) -> None:
        if result.effects.lights is not None:
            self.shelf.show(result.effects.lights)
        for job in result.effects.prints:
            self.printer.submit(job)

    def attach(self, controller: Controller) -> None:
        controller.listeners.append(self.apply)

    def close(self) -> None:
        pass


def build_devices(config: Config, controller: Controller, simulator: bool):
    try:
        from .. import hw  # the hardware helper's package, when merged
    except ImportError:
        hw = None
    if hw is not None and hasattr(hw, "build"):
        devices = hw.build(config, controller, simulator)
    else:
        devices = SimDevices()
    devices.attach(controller)
    return devices


def build_publisher(config: Config, journal_path: Path):
    if not config.mqtt.enabled:
        return None
    try:
        from ..sync.publisher import Publisher
    except ImportError:
        return None
    return Publisher(config, journal_path)


# ---------------------------------------------------------------------------------------------
# Status: polled off the UI thread
# ---------------------------------------------------------------------------------------------


class StatusPoller:
    """Every `interval` seconds, in its own thread: sync, printer, scanner and clock status.
    The UI reads `snapshot` (a plain dict, replaced atomically)."""

    def __init__(self, kiosk: "Kiosk", interval: float = 2.0):
        self.kiosk = kiosk
        self.interval = interval
        self.snapshot: dict = {"sync": {"online": False, "pending": 0, "last_error": None},
                               "printer": {"ok": True, "message": ""}, "scanner": False,
                               "clock_synced": None, "failed_slots": ()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db = None
        self._clock_checked = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ui-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.snapshot = self.poll()
            except Exception:
                log.exception("status poll failed")
            self._stop.wait(self.interval)

    def poll(self) -> dict:
        k = self.kiosk
        snap = dict(self.snapshot)
        if k.publisher is not None:
            try:
                snap["sync"] = dict(k.publisher.status())
            except Exception as exc:  # a broken publisher must not take the status bar down
                snap["sync"] = {"online": False, "pending": None, "last_error": str(exc)}
        else:
            if self._db is None:
                self._db = connect(k.journal.path)
            pending = self._db.execute("select count(*) from events where sent_at is null").fetchone()[0]
            snap["sync"] = {"online": False, "pending": pending, "last_error": "sync är avstängd" if not
                            k.config.mqtt.enabled else "ingen synk i denna version"}
        try:
            snap["printer"] = _printer_status(k.devices.printer)
        except Exception as exc:
            snap["printer"] = {"ok": False, "message": f"Skrivaren svarar inte ({exc})."}
        snap["scanner"] = bool(getattr(k.devices.scanner, "present", False))
        snap["failed_slots"] = tuple(getattr(k.devices.shelf, "failed_slots", ()) or ())
        now = time.monotonic()
        if snap.get("clock_synced") is None or now - self._clock_checked > 60:
            self._clock_checked = now
            synced = getattr(k.clock, "synced", None)
            snap["clock_synced"] = bool(synced) if synced is not None else None
        return snap


def _printer_status(printer) -> dict:
    raw = printer.status()
    if isinstance(raw, dict):
        out = dict(raw)
        out.setdefault("ok", out.get("state", "ok") in ("ok", "idle", "ready"))
        out.setdefault("message", "")
    else:
        out = {"ok": bool(getattr(raw, "ok", True)), "message": str(getattr(raw, "message", raw))}
    try:
        out["pending"] = int(printer.pending())
    except Exception:
        out["pending"] = 0
    return out


# ---------------------------------------------------------------------------------------------


class Kiosk:
    """Everything but the window."""

    def __init__(self, config: Config, clock=None, simulator: bool | None = None,
                 journal_path: Path | None = None, sync: bool = True):
        self.config = config
        self.simulator = simulator_mode(config) if simulator is None else simulator
        self.clock = clock or SystemClock()
        self.journal = Journal(journal_path or config.journal_path, config.kiosk.site, config.kiosk.id)
        self.controller = Controller(config, self.journal, self.clock)
        self.devices = build_devices(config, self.controller, self.simulator)
        self.publisher = build_publisher(config, self.journal.path) if sync else None
        self.poller = StatusPoller(self)

    def start(self) -> None:
        if self.publisher is not None:
            try:
                self.publisher.start()
            except Exception:
                log.exception("sync publisher did not start; events stay in the journal")
        self.poller.start()

    def stop(self) -> None:
        self.poller.stop()
        if self.publisher is not None:
            try:
                self.publisher.stop()
            except Exception:
                log.exception("sync publisher stop failed")
        close = getattr(self.devices, "close", None)
        if close:
            try:
                close()
            except Exception:
                log.exception("devices close failed")
        self.journal.close()
