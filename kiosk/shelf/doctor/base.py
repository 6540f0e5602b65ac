"""The kiosk doctor's building blocks: Check and System (shared with central's doctor, in
`kiosk/wire/doctor.py`), and what only a kiosk asks: whether it runs its simulated devices."""

from __future__ import annotations

import datetime as dt

from ...wire.doctor import INSTALLED_CONFIG, MIN_FREE_MB, Check, System, _why, fel, info, ok

__all__ = ["INSTALLED_CONFIG", "MIN_FREE_MB", "UNSENT_STALE", "VOLATILE_FS", "Check", "System", "_why", "fel", "info",
           "ok", "simulated"]

UNSENT_STALE = dt.timedelta(hours=1)
VOLATILE_FS = {"tmpfs", "ramfs"}


def simulated(cfg, system: System) -> bool:
    """Whether the kiosk runs its simulated devices: hardware = simulator, or auto on a machine
    that is not a Raspberry Pi (the same rule the kiosk applies)."""
    hw = cfg.kiosk.hardware
    if hw != "auto":
        return hw == "simulator"
    from ..hw.devices import is_raspberry_pi

    return not is_raspberry_pi(str(system.model))

