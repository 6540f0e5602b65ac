"""The kiosk's imperative shell without Kivy: journal, controller, devices, sync publisher, and a
background poller that gathers device and sync status so the UI thread never waits on them.

`Kiosk(config)` is what `kiosk run`, the UI tests, the screenshots and the benchmark all build.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from .clock import SystemClock
from .config import Config
from .controller import Controller
from .journal import Journal, connect

log = logging.getLogger(__name__)


def simulator_mode(config: Config) -> bool:
    """kiosk.hardware: simulator | pi | auto (the simulator unless this is a Raspberry Pi)."""
    from .hw import want_simulator

    return want_simulator(config, None)


def build_devices(config: Config, simulator: bool, **kw):
    """The hardware helper's devices (kiosk.hw): real on a Pi, simulated (mock pins, keyboard
    scanner, file printer) elsewhere."""
    from . import hw

    return hw.build(config, None, simulator, **kw)


def build_publisher(config: Config, journal_path: Path):
    if not config.mqtt.enabled:
        return None
    try:
        from .sync.publisher import Publisher
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
                               "clock_synced": None, "faults": []}
        self._online: bool | None = None
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
            snap["sync"] = {"online": False, "pending": pending, "last_error": "sync avstängd"}
        online = bool(snap["sync"].get("online"))
        if online != self._online:
            self._online = online
            try:
                k.devices.set_status("online" if online else "offline")  # the status LED
            except Exception:
                log.exception("status LED update failed")
        printer = k.devices.printer
        try:
            state, message = printer.status()  # may talk to the device: never on the UI thread
            snap["printer"] = {"ok": state == "ok", "state": state, "message": message,
                               "pending": printer.pending()}
        except Exception as exc:
            snap["printer"] = {"ok": False, "state": "error", "message": f"Skrivaren svarar inte ({exc}).",
                               "pending": 0}
        if k.publisher is not None:  # central's printer alert reads it from the retained status
            try:
                k.publisher.set_printer(snap["printer"]["state"], snap["printer"]["pending"] or 0)
                snap["inbox"] = k.publisher.inbox()
            except Exception:
                log.exception("printer state / inbox for sync failed")
        snap["scanner"] = bool(getattr(k.devices.scanner, "present", False))
        try:
            snap["faults"] = list(k.devices.faults())
        except Exception:
            log.exception("device faults failed")
        now = time.monotonic()
        if snap.get("clock_synced") is None or now - self._clock_checked > 50:
            self._clock_checked = now
            synced = getattr(k.clock, "synced", None)
            snap["clock_synced"] = bool(synced) if synced is not None else None
        return snap


# ---------------------------------------------------------------------------------------------


class Kiosk:
    """Everything but the window."""

    def __init__(self, config: Config, clock=None, simulator: bool | None = None,
                 journal_path: Path | None = None, sync: bool = True, **devices_kw):
        self.config = config
        self.simulator = simulator_mode(config) if simulator is None else simulator
        self.clock = clock or SystemClock()
        self.journal = Journal(journal_path or config.journal_path, config.kiosk.site, config.kiosk.id)
        self.controller = Controller(config, self.journal, self.clock)
        self.devices = build_devices(config, self.simulator, **devices_kw)
        self.devices.attach(self.controller)  # the UI attaches again with its dispatch
        self.publisher = build_publisher(config, self.journal.path) if sync else None
        self.poller = StatusPoller(self)

    def start(self) -> None:
        self.devices.start()
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
        try:
            self.devices.close()
        except Exception:
            log.exception("devices close failed")
        self.journal.close()
