"""The shelf hardware: scanner and badge reader (`inputs`, `keymap`), pile LEDs, status LED and
buzzer (`shelf`), thermal printer (`printer`, `escpos_render`), all behind one `Devices` object
(`devices`). Callers use `hw.build(config)`; see `kiosk/shelf/hw/devices.py`."""

from .devices import Devices, PrintOutcome, build, is_raspberry_pi, want_simulator

__all__ = ["build", "Devices", "PrintOutcome", "is_raspberry_pi", "want_simulator"]
