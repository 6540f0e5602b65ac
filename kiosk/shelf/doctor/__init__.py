"""`kiosk doctor`: checks an installed kiosk end to end and says what to do, in Swedish.

Each check prints OK, FEL (something is wrong: the line after it says what to do) or INFO (not
checked here, and why). The exit code is 0 when nothing is FEL, 1 when something is, 2 when the
config cannot be read (nothing else can be checked then).

Run it as the kiosk user on an installed kiosk (the installer prints the command):
    sudo -u kiosk /opt/returpost-kiosk/venv/bin/kiosk --config /etc/returpost-kiosk/config.toml doctor
It never creates files in the data directory as another user (a journal file owned by root
would stop the kiosk), and connects to the broker with its own client id so the running kiosk
keeps its connection.

The language is Swedish throughout: the person reading it may be at the shelf with a phone
call to support, and the words must match what the kiosk shows.

Layout (one small module per area; this file composes them and holds the order of the checks):
base (Check, System), inputs, display, camera, printer, clock, service (hardware watchdog), storage
(persistence, journal), cli (`kiosk doctor`). The checks central's doctor runs too (broker, systemd
unit, free disk) and the command's frame are in `kiosk/wire/doctor.py`; central's own
(`kiosk doctor --central`) in `kiosk/central/doctor.py`.
"""

from __future__ import annotations

from ...wire.doctor import check_broker, check_disk, check_service, run_steps
from .base import INSTALLED_CONFIG, MIN_FREE_MB, UNSENT_STALE, VOLATILE_FS, Check, System, fel, info, ok, simulated
from .camera import check_camera
from .clock import _adjtimex, check_clock
from .display import check_display
from .inputs import check_input, input_devices
from .printer import check_printer
from .service import check_hw_watchdog
from .storage import check_journal, check_persistent

__all__ = ["INSTALLED_CONFIG", "MIN_FREE_MB", "UNSENT_STALE", "VOLATILE_FS", "Check", "System",
           "ok", "fel", "info", "simulated", "check_input", "input_devices", "check_display", "check_camera", "check_printer",
           "check_broker", "check_clock", "_adjtimex", "check_service", "check_hw_watchdog", "check_disk",
           "check_persistent", "check_journal", "run_checks"]


def run_checks(cfg, system: System | None = None, min_free_mb: int = MIN_FREE_MB) -> list[Check]:
    system = system or System()
    data_dir = cfg.data_path(cfg.kiosk.data_dir)
    checks = [ok("Inställningar", f"{cfg.source} är giltig ({cfg.kiosk.site}/{cfg.kiosk.id})")]
    checks += run_steps([
        lambda: check_input("scanner", cfg.scanner, cfg, system),
        lambda: check_input("badge_reader", cfg.badge_reader, cfg, system),
        lambda: check_display(cfg, system),
        lambda: check_camera(cfg, system),
        lambda: check_printer(cfg, system),
        lambda: check_broker(cfg, system),
        lambda: check_service("returpost-kiosk.service", system),
        lambda: check_hw_watchdog(cfg, system),
        lambda: check_clock(cfg, system),
        lambda: check_disk(data_dir, min_free_mb),
        lambda: check_persistent(data_dir, system),
    ])
    return checks + run_steps([lambda: check_journal(cfg, system)], name="Journal")
