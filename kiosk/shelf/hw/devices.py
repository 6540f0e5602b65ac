"""The shelf hardware behind one object: scanner and badge reader (evdev), pile LEDs, status LED
and buzzer (gpiozero), thermal printer (python-escpos).

    devices = hw.build(config)            # simulator=None: Pi hardware if this is a Pi
    devices.attach(controller)            # scans/badges -> controller; every Result -> apply
    devices.start()
    ...
    devices.stop()

Each part has a real backend and a simulated one, picked by config (`kiosk.hardware`), so the same
kiosk runs on a Pi and on a laptop:

| part            | Pi                                   | simulator                          |
|-----------------|--------------------------------------|------------------------------------|
| scanner, badge  | `InputWatcher` (evdev, grabbed)      | `SimulatedInput` (`.inject(code)`) |
|                 |                                      | unless `*.device` is set           |
| LEDs, buzzer    | gpiozero, `gpio.pin_factory`         | gpiozero `MockFactory` pins        |
| printer         | `printer.backend` (usb/serial/...)   | the same (default: file)           |
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from ...core.domain import SLOT_NAMES, SLOTS
from .inputs import Finder, InputWatcher, SimulatedInput
from .keymap import Decoder
from .printer import STATUS_SV, PrintOutcome, PrintService, make_transport
from .shelf import Buzzer, Shelf, factory_name, make_pin_factory

log = logging.getLogger(__name__)

__all__ = ["build", "Devices", "PrintOutcome", "is_raspberry_pi"]

MODEL_FILE = "/proc/device-tree/model"


def is_raspberry_pi(model_file: str = MODEL_FILE) -> bool:
    try:
        return "raspberry pi" in Path(model_file).read_bytes().decode("ascii", "replace").lower()
    except OSError:
        return False


def want_simulator(config, simulator: bool | None) -> bool:
    if simulator is not None:
        return simulator
    mode = config.kiosk.hardware
    if mode == "simulator":
        return True
    if mode == "pi":
        return False
    return not is_raspberry_pi()


class Devices:
    """The kiosk's hardware. Attributes: shelf, buzzer, printer, scanner, badge (None if none)."""

    def __init__(self, shelf: Shelf, buzzer: Buzzer, printer: PrintService, scanner, badge,
                 simulator: bool, retry_s: float = 10.0):
        self.shelf = shelf
        self.buzzer = buzzer
        self.printer = printer
        self.scanner = scanner
        self.badge = badge
        self.simulator = simulator
        self.retry_s = retry_s
        self.controller = None
        # Called with (Print job, PrintOutcome) after every print attempt from `apply` (the UI
        # shows the Swedish message). Once started, printing runs in its own thread; listeners
        # are then called through `dispatch` (see attach) when one was given.
        self.print_listeners: list[Callable] = []
        self.last_outcomes: list[tuple] = []  # (job, PrintOutcome), newest last
        self._net_status = "offline"
        self._print_q: queue.Queue | None = None
        self._print_thread: threading.Thread | None = None
        self._lock = threading.RLock()  # one command at a time into the controller
        self._dispatch: Callable[[Callable[[], None]], None] | None = None
        self._stop = threading.Event()
        self._maint: threading.Thread | None = None

    # -- effects --------------------------------------------------------------------------------
    def apply(self, result) -> None:
        """Carry out a controller Result's effects: lights, sound, prints. Never raises."""
        fx = getattr(result, "effects", None)
        if fx is None:
            return
        try:
            self.shelf.show(fx.lights)
        except Exception:
            log.exception("shelf update failed")
        if fx.sound is not None:
            try:
                self.buzzer.sound(fx.sound.kind)
            except Exception:
                log.exception("buzzer failed")
        for job in fx.prints:
            self._print(job)

    def _print(self, job) -> None:
        worker = self._print_q
        if worker is None:  # not started (scripts, tests): print right here
            self._notify(job, self.printer.submit(job), from_worker=False)
            return
        try:
            job_id = self.printer.keep(job)  # safe (durably, or in memory) before printing
        except Exception:
            log.exception("print queue write failed; printing %s without keeping it", job.kind)
            job_id = None
        worker.put((job, job_id))

    def _print_worker(self, jobs: "queue.Queue") -> None:
        """Prints in its own thread: a printer that is off (connect timeouts) never stalls the
        screen or the scanner."""
        while True:
            item = jobs.get()
            try:
                if item is None:
                    return
                job, job_id = item
                try:
                    outcome = self.printer.flush(job_id) if job_id else self.printer.print_now(job)
                except Exception:
                    log.exception("printing %s failed", job.kind)
                    continue
                self._notify(job, outcome, from_worker=True)
            finally:
                jobs.task_done()

    def wait_prints(self, timeout: float = 10.0) -> bool:
        """Block until the print thread has tried every job handed to it (tests, scripts)."""
        jobs = self._print_q
        if jobs is None:
            return True
        end = time.monotonic() + timeout
        while jobs.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.01)
        return not jobs.unfinished_tasks

    def _notify(self, job, outcome, from_worker: bool) -> None:
        self.last_outcomes = (self.last_outcomes + [(job, outcome)])[-20:]
        for listener in list(self.print_listeners):
            def call(listener=listener):
                try:
                    listener(job, outcome)
                except Exception:
                    log.exception("print listener failed")
            if from_worker and self._dispatch is not None:
                self._dispatch(call)
            else:
                call()

    # -- status LED and what the screen should say -----------------------------------------------
    def set_status(self, kind: str) -> None:
        """The connection state from the sync layer: online | offline. A hardware fault (see
        `faults`) shows as error on the status LED whatever the connection."""
        if kind not in ("online", "offline", "error"):
            raise ValueError(f"unknown status {kind!r}")
        self._net_status = kind
        self.refresh_status()

    def refresh_status(self) -> None:
        self.shelf.set_status("error" if self.faults() else self._net_status)

    def faults(self) -> list[str]:
        """Hardware problems, in Swedish, for the screen (empty when all is well). Uses the last
        known printer state: no device is queried here."""
        out = []
        for reader, name in ((self.scanner, "Skannern"), (self.badge, "Tagg-läsaren")):
            if isinstance(reader, InputWatcher) and not reader.present:
                out.append(f"{name} är inte ansluten. Kontrollera USB-kabeln.")
        state = self.printer.last_state
        if state != "ok":
            out.append(STATUS_SV.get(state, STATUS_SV["error"]))
        for slot in sorted(self.shelf.failed_slots, key=SLOTS.index):
            out.append(f"Lampan vid {SLOT_NAMES[slot]} fungerar inte: titta på skärmen i stället.")
        return out

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, controller, dispatch: Callable[[Callable[[], None]], None] | None = None) -> None:
        """Scanner codes -> {"cmd": "scan"}, badge reads -> {"cmd": "badge"}; every Result of the
        controller (from any source) -> `apply`.

        The readers run in their own threads. `dispatch(fn)`, if given, runs fn on the thread
        that owns the controller (the UI passes kivy's Clock.schedule_once wrapper); without it
        the command runs in the reader thread under a lock.
        """
        self.controller = controller
        self._dispatch = dispatch
        if self.apply not in controller.listeners:
            controller.listeners.append(self.apply)
        if self.scanner is not None:
            self.scanner.on_code = lambda code: self._command({"cmd": "scan", "code": code})
        if self.badge is not None:
            self.badge.on_code = lambda badge: self._command({"cmd": "badge", "badge": badge})

    def _command(self, command: dict) -> None:
        controller = self.controller
        if controller is None:
            return

        def run():
            with self._lock:
                try:
                    controller.handle(command)
                except Exception:
                    log.exception("controller failed on a %s command", command.get("cmd"))

        if self._dispatch is not None:
            self._dispatch(run)
        else:
            run()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        for reader in (self.scanner, self.badge):
            if reader is not None:
                reader.start()
        self._stop.clear()
        if self._print_thread is None:
            self._print_q = queue.Queue()
            self._print_thread = threading.Thread(target=self._print_worker, args=(self._print_q,),
                                                  name="hw-printer", daemon=True)
            self._print_thread.start()
        if self._maint is None or not self._maint.is_alive():
            self._maint = threading.Thread(target=self._maintain, name="hw-maint", daemon=True)
            self._maint.start()
        self.refresh_status()

    def _maintain(self) -> None:
        """Every retry_s: ask the printer how it is, print kept jobs once it is back, and keep
        the status LED honest."""
        while not self._stop.is_set():  # first round at once: the printer's state at start
            try:
                state, _ = self.printer.status()
                if state == "ok" and self.printer.pending():
                    for outcome in self.printer.retry():
                        log.info("kept print job %s: %s", outcome.job_id, "printed" if outcome.ok else outcome.state)
                self.refresh_status()
            except Exception:
                log.exception("device maintenance failed")
            self._stop.wait(self.retry_s)

    def stop(self) -> None:
        self._stop.set()
        for reader in (self.scanner, self.badge):
            if reader is not None:
                reader.stop()
        if self._print_thread is not None:
            self._print_q.put(None)
            self._print_thread.join(15)
            self._print_thread, self._print_q = None, None
        if self._maint is not None:
            self._maint.join(2)
            self._maint = None

    def close(self) -> None:
        self.stop()
        self.shelf.close()
        self.buzzer.close()
        self.printer.close()

    def status(self) -> dict:
        """Everything about the devices, as data. Asks the printer (may wait up to
        printer.timeout_s): the UI thread should use `faults()` and `printer.last_state`."""
        pstate, pmessage = self.printer.status()
        return {
            "simulator": self.simulator,
            "faults": self.faults(),
            "scanner": self.scanner.status() if self.scanner is not None else None,
            "badge": self.badge.status() if self.badge is not None else None,
            "printer": {"state": pstate, "message": pmessage, "pending": self.printer.pending(),
                        "backend": self.printer.transport.describe()},
            "gpio": {"pin_factory": factory_name(self.shelf.factory), "error": self.shelf.factory_error,
                     "failed_slots": sorted(self.shelf.failed_slots), "unwired_slots": sorted(self.shelf.unwired_slots),
                     "status_led": self.shelf.status_led is not None, "buzzer": self.buzzer.present},
        }


def build(config, controller=None, simulator: bool | None = None, *, finder: Finder | None = None,
          pin_factory=None, queue_path: Path | None = None) -> Devices:
    """The devices the config describes. simulator=None: auto-detect Pi hardware (kiosk.hardware).

    finder / pin_factory / queue_path override discovery, the GPIO factory and the print queue
    file (tests)."""
    sim = want_simulator(config, simulator)
    g = config.gpio

    factory, factory_error = pin_factory, ""
    if factory is None:
        try:
            factory = make_pin_factory(g.pin_factory, sim)
        except Exception as exc:
            factory_error = f"{type(exc).__name__}: {exc}"
    shelf = Shelf(dict(config.data["slots"]), g.status_led, factory, factory_error)
    buzzer = Buzzer(g.buzzer, factory, beep_on_accept=g.beep_on_accept)

    p = config.data["printer"]
    if queue_path is None:
        queue_path = config.data_path(config.kiosk.data_dir) / "print_queue.db"
    printer = PrintService(make_transport(p, config), queue_path, codepage=p["codepage"], profile=p["profile"],
                           preview_dir=config.data_path(p["preview_dir"]))

    readers = {}
    for role, section in (("scanner", "scanner"), ("badge", "badge_reader")):
        s = config.data[section]
        if not s["device"] and sim:  # the on-screen keyboard (or a script) stands in
            readers[role] = SimulatedInput(role)
        elif not s["device"] and role == "badge":
            readers[role] = None
        else:  # a configured device is read for real, in the simulator too (a laptop with a scanner)
            decoder = Decoder(s["layout"], s["terminator"], s["gap_ms"] / 1000.0, role=role)
            readers[role] = InputWatcher(role, s["device"], decoder, finder=finder)
    scanner, badge = readers["scanner"], readers["badge"]
    # Two HID devices: neither may take the other's device.
    if isinstance(scanner, InputWatcher) and isinstance(badge, InputWatcher):
        scanner.exclude = lambda: {badge.device_path} if badge.present else set()
        badge.exclude = lambda: {scanner.device_path} if scanner.present else set()

    devices = Devices(shelf, buzzer, printer, scanner, badge, sim, retry_s=p.get("retry_s", 10.0))
    if controller is not None:
        devices.attach(controller)
    return devices
