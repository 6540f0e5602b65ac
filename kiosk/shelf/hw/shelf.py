"""Pile LEDs, the status LED and the buzzer on GPIO (gpiozero).

Patterns have a fixed meaning: steady = put here, slow blink = take from here (scanning),
fast blink = error, off = idle. The pin factory comes from config (`gpio.pin_factory`): lgpio on a
Pi 5, `MockFactory` in the simulator and tests, where the pins are real gpiozero mock pins whose
state history tests read.

Degraded mode: an LED that cannot be set up or driven (pin busy, no GPIO access) is recorded in
`failed_slots`; the shelf keeps working for the others and the screen names the slot instead.
"""

from __future__ import annotations

import logging
import threading

from ...core.domain import SLOTS
from ...core.effects import FAST_BLINK, OFF, PATTERNS, SLOW_BLINK, STEADY, Lights

log = logging.getLogger(__name__)

# (on seconds, off seconds)
BLINK = {SLOW_BLINK: (0.6, 0.6), FAST_BLINK: (0.12, 0.12)}
STATUS_PATTERN = {"online": STEADY, "offline": SLOW_BLINK, "error": FAST_BLINK}
# Buzzer: (on, off, beeps). accept is silent unless gpio.beep_on_accept (most scanners beep).
BEEPS = {"accept": (0.05, 0.05, 1), "reject": (0.12, 0.08, 3), "error": (0.5, 0.2, 2)}


def make_pin_factory(name: str, simulator: bool):
    """The gpiozero pin factory the config names. Raises (ImportError, gpiozero errors) when the
    hardware library is missing or the GPIO chip cannot be opened."""
    if simulator or name == "mock":
        from gpiozero.pins.mock import MockFactory
        return MockFactory()
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory
        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory
        return RPiGPIOFactory()
    if name == "pigpio":
        from gpiozero.pins.pigpio import PiGPIOFactory
        return PiGPIOFactory()
    if name == "native":
        from gpiozero.pins.native import NativeFactory
        return NativeFactory()
    from gpiozero import Device
    return Device._default_pin_factory()  # auto: gpiozero's own choice (lgpio first)


def factory_name(factory) -> str:
    return type(factory).__name__ if factory is not None else "none"


class Shelf:
    """One LED per configured slot plus the status LED."""

    def __init__(self, slot_pins: dict[str, int], status_pin: int = 0, factory=None,
                 factory_error: str = "", blink: dict | None = None):
        self.factory = factory
        self.factory_error = factory_error
        self.blink = dict(BLINK, **(blink or {}))
        self.slot_pins = dict(slot_pins)
        self.leds: dict[str, object] = {}
        self.failed_slots: set[str] = set()
        self.errors: dict[str, str] = {}
        self._patterns: dict[str, str] = {}
        self._lock = threading.RLock()
        self.status = "offline"
        self.status_led = None
        # Called with snapshot() after every change of the picture (the on-screen shelf);
        # from the thread that applied it.
        self.listeners: list = []
        if factory is None:  # no GPIO at all: one log line, every LED degraded
            log.error("GPIO unavailable (%s): no LED can be driven; the screen names the slots instead",
                      factory_error or "no pin factory")
            self.failed_slots = set(self.slot_pins)
            self.errors = {slot: "no GPIO" for slot in self.slot_pins}
            if status_pin:
                self.errors["status"] = "no GPIO"
            return
        for slot, pin in self.slot_pins.items():
            led = self._make(slot, pin)
            if led is not None:
                self.leds[slot] = led
        if status_pin:
            self.status_led = self._make("status", status_pin)

    @property
    def unwired_slots(self) -> set[str]:
        """Slots with no LED in the config (a site may choose not to wire some)."""
        return set(SLOTS) - set(self.slot_pins)

    def _make(self, what: str, pin: int):
        try:
            from gpiozero import LED
            return LED(pin, pin_factory=self.factory)
        except Exception as exc:  # GPIOPinInUse, PinInvalidPin, permissions, ...
            self._fail(what, f"pin {pin}: {type(exc).__name__}: {exc}")
            return None

    def _fail(self, what: str, why: str) -> None:
        if what == "status":
            log.error("status LED cannot be driven: %s", why)
        else:
            log.error("LED of slot %s cannot be driven (degraded: the screen names it): %s", what, why)
            self.failed_slots.add(what)
        self.errors[what] = why

    # -- patterns -------------------------------------------------------------------------------
    def show(self, lights: Lights | None) -> None:
        """Show the whole shelf picture (unnamed slots off). None leaves the shelf as it is."""
        if lights is None:
            return
        with self._lock:
            before = self.snapshot()
            for slot in SLOTS:
                self._set(slot, lights.pattern(slot))
            after = self.snapshot()
        if after != before:
            for listener in list(self.listeners):
                try:
                    listener(after)
                except Exception:
                    log.exception("shelf listener failed")

    def clear(self) -> None:
        self.show(Lights())

    def pattern(self, slot: str) -> str:
        """What the slot is showing (what the on-screen shelf draws, LED or not)."""
        return self._patterns.get(slot, OFF)

    def snapshot(self) -> dict[str, str]:
        return {slot: self.pattern(slot) for slot in SLOTS}

    def _set(self, slot: str, pattern: str) -> None:
        if pattern not in PATTERNS:
            log.warning("unknown LED pattern %r for %s: showing fast blink", pattern, slot)
            pattern = FAST_BLINK
        if self._patterns.get(slot, OFF) == pattern and slot in self._patterns:
            return  # unchanged: do not restart a blink's phase
        self._patterns[slot] = pattern
        led = self.leds.get(slot)
        if led is None:
            return
        try:
            _drive(led, pattern, self.blink)
        except Exception as exc:
            self.leds.pop(slot, None)
            self._fail(slot, f"{type(exc).__name__}: {exc}")

    def set_status(self, kind: str) -> None:
        """online = steady, offline = slow blink, error = fast blink."""
        if kind not in STATUS_PATTERN:
            raise ValueError(f"unknown status {kind!r}")
        with self._lock:
            if kind == self.status and self._patterns.get("_status"):
                return
            self.status = kind
            self._patterns["_status"] = STATUS_PATTERN[kind]
            if self.status_led is not None:
                try:
                    _drive(self.status_led, STATUS_PATTERN[kind], self.blink)
                except Exception as exc:
                    self._fail("status", str(exc))
                    self.status_led = None

    def pins(self) -> dict[str, int]:
        return dict(self.slot_pins)

    def close(self) -> None:
        with self._lock:
            for led in list(self.leds.values()) + ([self.status_led] if self.status_led else []):
                try:
                    led.close()
                except Exception:
                    pass
            self.leds.clear()
            self.status_led = None


def _drive(led, pattern: str, blink: dict) -> None:
    if pattern == STEADY:
        led.on()
    elif pattern == OFF:
        led.off()
    else:
        on, off = blink[pattern]
        led.blink(on_time=on, off_time=off, background=True)


class Buzzer:
    """The buzzer: a pattern per sound kind. `enabled=False` (no pin) keeps only the log."""

    def __init__(self, pin: int = 0, factory=None, beep_on_accept: bool = False):
        self.pin = pin
        self.beep_on_accept = beep_on_accept
        self.device = None
        self.error = ""
        self.sounded: list[str] = []  # kinds sounded, newest last (status, tests)
        if pin and factory is not None:
            try:
                from gpiozero import Buzzer as _Buzzer
                self.device = _Buzzer(pin, pin_factory=factory)
            except Exception as exc:
                self.error = f"pin {pin}: {type(exc).__name__}: {exc}"
                log.error("buzzer cannot be driven: %s", self.error)

    @property
    def present(self) -> bool:
        return self.device is not None

    def sound(self, kind: str) -> None:
        if kind not in BEEPS:
            log.warning("unknown sound %r", kind)
            return
        if kind == "accept" and not self.beep_on_accept:
            return
        self.sounded.append(kind)
        del self.sounded[:-50]
        if self.device is None:
            return
        on, off, n = BEEPS[kind]
        try:
            self.device.beep(on_time=on, off_time=off, n=n, background=True)
        except Exception as exc:
            log.error("buzzer failed: %s", exc)

    def close(self) -> None:
        if self.device is not None:
            try:
                self.device.close()
            except Exception:
                pass
            self.device = None
