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
| LEDs, buzzer    | gpiozero, `gpio.pin_factory`         | gpiozero `MockFactory` pins        |
| printer         | `printer.backend` (usb/serial/...)   | the same (default: file)           |
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from .inputs import Finder, InputWatcher, SimulatedInput
from .keymap import Decoder
from .printer import PrintOutcome, PrintService, make_transport
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
        # shows the Swedish message).
        self.print_listeners: list[Callable] = []
        self.last_outcomes: list[tuple] = []
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
        outcomes = []
        for job in fx.prints:
            outcome = self.printer.submit(job)
            outcomes.append((job, outcome))
            for listener in list(self.print_listeners):
                try:
                    listener(job, outcome)
                except Exception:
                    log.exception("print listener failed")
        if outcomes:
            self.last_outcomes = outcomes

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
        if self._maint is None or not self._maint.is_alive():
            self._maint = threading.Thread(target=self._maintain, name="hw-maint", daemon=True)
            self._maint.start()

    def _maintain(self) -> None:
        """Print kept jobs once the printer is back."""
        while not self._stop.wait(self.retry_s):
            try:
                if self.printer.pending():
                    state, _ = self.printer.status()
                    if state == "ok":
                        for outcome in self.printer.retry():
                            log.info("kept print job %s: %s", outcome.job_id, "printed" if outcome.ok else outcome.state)
            except Exception:
                log.exception("print retry failed")

    def stop(self) -> None:
        self._stop.set()
        for reader in (self.scanner, self.badge):
            if reader is not None:
                reader.stop()
        if self._maint is not None:
            self._maint.join(2)
            self._maint = None

    def close(self) -> None:
        self.stop()
        self.shelf.close()
        self.buzzer.close()
        self.printer.close()

    def status(self) -> dict:
        """Everything `kiosk devices` and the UI status line show."""
        pstate, pmessage = self.printer.status()
        return {
            "simulator": self.simulator,
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
    buzzer = Buzzer(g.buzzer, factory, beep_on_accept=g.get("beep_on_accept", False))

    p = config.data["printer"]
    if queue_path is None:
        queue_path = config.data_path(config.kiosk.data_dir) / "print_queue.db"
    printer = PrintService(make_transport(p, config), queue_path, codepage=p["codepage"], profile=p["profile"],
                           preview_dir=config.data_path(p["preview_dir"]))

    readers = {}
    for role, section in (("scanner", "scanner"), ("badge", "badge_reader")):
        s = config.data[section]
        if sim and not (finder is not None and s["device"]):
            readers[role] = SimulatedInput(role)
        elif not s["device"] and role == "badge":
            readers[role] = None
        else:
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
