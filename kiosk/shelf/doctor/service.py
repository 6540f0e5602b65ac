"""The hardware watchdog (the systemd unit's check is shared: kiosk/wire/doctor.py)."""

from __future__ import annotations

from .base import Check, System, fel, info, ok, simulated


def check_hw_watchdog(cfg, system: System) -> Check:
    name = "Vakthund (hårdvara)"
    if simulated(cfg, system):
        return info(name, "simulatorläge: ingen hårdvaruvakthund")
    if any((system.dev_root / n).exists() for n in ("watchdog0", "watchdog")):
        return ok(name, "finns; systemd matar den (RuntimeWatchdogSec)")
    return fel(name, "ingen /dev/watchdog0",
               "Lägg dtparam=watchdog=on i /boot/firmware/config.txt (installationen gör det) "
               "och starta om.")
