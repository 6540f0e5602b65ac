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
base (Check, System), inputs, display, camera, printer, broker, clock, service, storage (disk, persistence,
journal), central (database, broker certificate), cli (`kiosk doctor`).
"""

from __future__ import annotations

from .base import (
    INSTALLED_CONFIG,
    MIN_FREE_MB,
    UNSENT_STALE,
    VOLATILE_FS,
    Check,
    System,
    fel,
    info,
    ok,
    simulated,
)
from .broker import check_broker
from .camera import check_camera
from .central import CERT_WARN_DAYS, check_broker_cert, check_central_db
from .cli import config_path, format_checks, main  # noqa: E402  (cli uses run_checks lazily)
from .clock import _adjtimex, check_clock
from .display import check_display
from .inputs import check_input, input_devices
from .printer import check_printer
from .service import check_hw_watchdog, check_service
from .storage import check_disk, check_journal, check_persistent

__all__ = ["INSTALLED_CONFIG", "MIN_FREE_MB", "UNSENT_STALE", "VOLATILE_FS", "CERT_WARN_DAYS", "Check", "System",
           "ok", "fel", "info", "simulated", "check_input", "input_devices", "check_display", "check_camera", "check_printer",
           "check_broker", "check_clock", "_adjtimex", "check_service", "check_hw_watchdog", "check_disk",
           "check_persistent", "check_journal", "check_central_db", "check_broker_cert", "run_checks",
           "run_central_checks", "format_checks", "config_path", "main"]


def _db_folder(cfg):
    """The folder of central's SQLite file; for a PostgreSQL URL the data folder (var/)."""
    target = cfg.db_target()
    return cfg.data_path(cfg.kiosk.data_dir) if isinstance(target, str) else target.parent


def run_central_checks(cfg, system: System | None = None, min_free_mb: int = MIN_FREE_MB) -> list[Check]:
    system = system or System()
    checks = [ok("Inställningar", f"{cfg.source} är giltig")]
    for step in (lambda: check_service("returpost-central.service", system),
                 lambda: check_broker(cfg, system, central=True),
                 lambda: check_broker_cert(system),
                 lambda: check_central_db(cfg, system),
                 lambda: check_disk(_db_folder(cfg), min_free_mb)):
        try:
            checks.append(step())
        except Exception as exc:
            checks.append(fel("Kontroll", f"kontrollen misslyckades: {type(exc).__name__}: {exc}",
                              "Kontakta support med den här raden."))
    return checks


# -- all of it --------------------------------------------------------------------------------------

def run_checks(cfg, system: System | None = None, min_free_mb: int = MIN_FREE_MB) -> list[Check]:
    system = system or System()
    data_dir = cfg.data_path(cfg.kiosk.data_dir)
    checks = [ok("Inställningar", f"{cfg.source} är giltig ({cfg.kiosk.site}/{cfg.kiosk.id})")]
    steps = [
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
    ]
    for step in steps:
        try:
            checks.append(step())
        except Exception as exc:  # a check that breaks is reported, never a crash
            checks.append(fel("Kontroll", f"kontrollen misslyckades: {type(exc).__name__}: {exc}",
                              "Kontakta support med den här raden."))
    try:
        checks.extend(check_journal(cfg, system))
    except Exception as exc:
        checks.append(fel("Journal", f"kontrollen misslyckades: {type(exc).__name__}: {exc}",
                          "Kontakta support med den här raden."))
    return checks
