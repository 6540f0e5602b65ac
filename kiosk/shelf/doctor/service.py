"""The systemd unit and the hardware watchdog."""

from __future__ import annotations

import subprocess

from .base import Check, System, fel, info, ok, simulated


def check_service(unit: str, system: System) -> Check:
    name = "Tjänsten"
    try:
        out = system.run(["systemctl", "is-active", unit], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return info(name, "systemctl finns inte här: tjänsten kontrolleras inte")
    state = out.stdout.strip()
    if state == "active":
        return ok(name, f"{unit} är igång")
    if state in ("", "unknown") and out.returncode not in (0, 3, 4):
        first = (out.stderr.strip().splitlines() or [""])[0][:100]
        return info(name, f"systemd svarar inte här ({first})")
    return fel(name, f"{unit} är {state or 'okänd'}",
               f"Se vad som hände: journalctl -u {unit} -n 50. Starta: sudo systemctl restart {unit}. "
               "Är det precis installerat: starta om datorn.")


def check_hw_watchdog(cfg, system: System) -> Check:
    name = "Vakthund (hårdvara)"
    if simulated(cfg, system):
        return info(name, "simulatorläge: ingen hårdvaruvakthund")
    if any((system.dev_root / n).exists() for n in ("watchdog0", "watchdog")):
        return ok(name, "finns; systemd matar den (RuntimeWatchdogSec)")
    return fel(name, "ingen /dev/watchdog0",
               "Lägg dtparam=watchdog=on i /boot/firmware/config.txt (installationen gör det) "
               "och starta om.")
