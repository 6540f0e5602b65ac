"""`kiosk doctor`: load the kiosk's config, run its checks, print them in Swedish (or JSON); the
exit code (the frame is shared with central's doctor: kiosk/wire/doctor.py)."""

from __future__ import annotations

from ...core import config as kconfig
from ...wire import doctor as frame
from . import run_checks
from .base import System


def main(args, system: System | None = None) -> int:
    return frame.main(args, kconfig.load, run_checks,
                      lambda cfg: f"Kioskkontroll för {cfg.kiosk.site}/{cfg.kiosk.id} ({cfg.source})", system)
