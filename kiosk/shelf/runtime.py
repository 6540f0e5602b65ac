"""The kiosk's imperative shell without Kivy: journal, controller, devices, sync publisher, and a
background poller that gathers device and sync status so the UI thread never waits on them.

`Kiosk(config)` is what `kiosk run`, the UI tests, the screenshots and the benchmark all build.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from ..core.clock import SystemClock
from ..core.config import Config
from .controller import Controller
from ..wire.journal import Journal, connect
from ..core.routine import PRINT_FAILURES

log = logging.getLogger(__name__)


def _logged(step, failed: str) -> None:
    """Run `step`; if it raises, log `failed` with the traceback and go on (start and stop must
    not stop half way)."""
    try:
        step()
    except Exception:
        log.exception(failed)


def simulator_mode(config: Config) -> bool:
    """kiosk.hardware: simulator | pi | auto (the simulator unless this is a Raspberry Pi)."""
    from .hw import want_simulator

    return want_simulator(config, None)


def build_devices(config: Config, simulator: bool, **kw):
    """The hardware helper's devices (kiosk.shelf.hw): real on a Pi, simulated (mock pins, keyboard
    scanner, file printer) elsewhere."""
    from . import hw

    return hw.build(config, None, simulator, **kw)


def build_publisher(config: Config, journal_path: Path):
    if not config.mqtt.enabled:
        return None
    try:
        from .publisher import Publisher
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

    def _withdrawals_stored(self, confirmed_seq: int) -> frozenset[str]:
        """The ids of today's withdrawn alerts whose alert_cancelled event central has confirmed."""
        day = self.kiosk.controller.state.day
        if day is None or not confirmed_seq:
            return frozenset()
        if self._db is None:
            self._db = connect(self.kiosk.journal.path)
        rows = self._db.execute("select payload from events where type = 'alert_cancelled' and day = ? and seq <= ?",
                                [day.isoformat(), confirmed_seq]).fetchall()
        return frozenset(json.loads(p).get("data", {}).get("alert") for (p,) in rows)

    def poll(self) -> dict:
        k = self.kiosk
        snap = dict(self.snapshot)
        snap["at"] = time.monotonic()  # when this look began (the UI trusts only looks begun after an event)
        if k.publisher is not None:
            try:
                snap["sync"] = dict(k.publisher.status())
            except Exception as exc:  # a broken publisher must not take the status bar down
                snap["sync"] = {"online": False, "pending": None, "last_error": str(exc)}
        else:
            if self._db is None:
                self._db = connect(k.journal.path)
            pending = self._db.execute("select count(*) from events where sent_at is null").fetchone()[0]
            snap["sync"] = {"online": False, "enabled": False, "pending": pending, "last_error": "sync avstängd"}
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
                k.record_deliveries(snap["inbox"])
                snap["withdrawals_stored"] = self._withdrawals_stored(snap["sync"].get("confirmed_seq") or 0)
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
        self.devices.printer.outcome_listeners.append(self.record_print)

    # -- what the day records from the printer and from central (kiosk/core/truth.py reads it) -------
    def record_print(self, outcome) -> None:
        """The printer took a label or cover slip (or did not): recorded in the journal after the
        fact, so the day's counts say what was printed, also after a restart."""
        command = {"cmd": "print_outcome", "job": outcome.ref, "ok": bool(outcome.ok)}
        if not outcome.ok:
            command["reason"] = outcome.state if outcome.state in PRINT_FAILURES else "error"
        try:
            self.controller.handle(command)
        except Exception:
            log.exception("recording a print outcome failed")

    def record_deliveries(self, doc: dict | None) -> None:
        """Central's inbox reports an alert of today delivered to a TL (or acknowledged): recorded
        once (`alert_delivered`), so the summary and a restarted kiosk know it without central."""
        if not doc:
            return
        for alert in self.controller.state.alerts:
            if alert.get("delivered_at") or not alert.get("id"):
                continue
            entry = next((a for a in doc.get("alerts", []) if a.get("id") == alert["id"]), None)
            if entry is None:
                continue
            notified, ack = entry.get("notified") or {}, entry.get("acknowledged")
            at = notified.get("at") if notified.get("state") == "delivered" else (ack or {}).get("at")
            if at:
                self.controller.handle({"cmd": "alert_delivered", "alert": alert["id"], "at": at})

    def lost_prints(self) -> None:
        """After a restart, for a label or cover slip the journal has as waiting: printed if the
        print queue says the printer took it (the power went before the journal heard); lost if
        the printer no longer holds it (a dödsbo label lives in memory only)."""
        waiting = {p["job"] for p in self.controller.state.prints if p["state"] == "queued" and p["job"]}
        if not waiting:
            return
        printer = self.devices.printer
        printed, held = printer.printed_refs(), printer.waiting_refs()
        for job in sorted(waiting - held):
            report = {"cmd": "print_outcome", "job": job, "ok": job in printed}
            self.controller.handle(report if job in printed else {**report, "reason": "lost"})

    def start(self) -> None:
        _logged(self.lost_prints, "checking for prints lost in a restart failed")
        self.devices.start()
        if self.publisher is not None:
            _logged(self.publisher.start, "sync publisher did not start; events stay in the journal")
        self.poller.start()

    def stop(self) -> None:
        self.poller.stop()
        if self.publisher is not None:
            _logged(self.publisher.stop, "sync publisher stop failed")
        _logged(self.devices.close, "devices close failed")
        self.journal.close()
