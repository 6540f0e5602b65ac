"""`kiosk doctor`: load the config, run the checks, print them in Swedish (or JSON); the exit code."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from ...core import config as kconfig
from .base import (
    INSTALLED_CONFIG,
    MIN_FREE_MB,
    Check,
    System,
    fel,
)


def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4} {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"{'':<4} {'':<{width}}  Gör så här: {c.fix}")
    bad = sum(c.status == "FEL" for c in checks)
    lines.append("")
    lines.append("Allt ser bra ut." if not bad else f"{bad} fel hittades: åtgärda raderna med FEL ovan.")
    return "\n".join(lines)


def config_path(arg: str | None) -> str | None:
    if arg or os.environ.get("KIOSK_CONFIG"):
        return arg or os.environ["KIOSK_CONFIG"]
    return INSTALLED_CONFIG if Path(INSTALLED_CONFIG).exists() else None


def main(args, system: System | None = None) -> int:
    path = config_path(getattr(args, "config", None))
    central = getattr(args, "central", False)
    try:
        if central:  # central's own keys too (delivery), as `kiosk central` checks them at start
            from ...central.delivery.config import load as load_central

            cfg = load_central(path)
        else:
            cfg = kconfig.load(path)
    except kconfig.ConfigError as exc:
        check = fel("Inställningar", str(exc),
                    "Rätta raden som nämns i inställningsfilen, eller kör installationen igen.")
        if getattr(args, "json", False):
            print(json.dumps([asdict(check)], ensure_ascii=False, indent=1))
        else:
            print(format_checks([check]))
        return 2
    from . import run_central_checks, run_checks  # the composition lives in the package

    runner = run_central_checks if central else run_checks
    checks = runner(cfg, system, min_free_mb=getattr(args, "min_free_mb", MIN_FREE_MB))
    if getattr(args, "json", False):
        print(json.dumps([asdict(c) for c in checks], ensure_ascii=False, indent=1))
    elif central:
        print(f"Kontroll av centralen ({cfg.source})\n")
        print(format_checks(checks))
    else:
        print(f"Kioskkontroll för {cfg.kiosk.site}/{cfg.kiosk.id} ({cfg.source})\n")
        print(format_checks(checks))
    sys.stdout.flush()
    return 1 if any(c.status == "FEL" for c in checks) else 0
