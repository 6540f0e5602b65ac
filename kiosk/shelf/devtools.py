"""Development tooling (`kiosk_dev/`: benchmarks, fakes, the local broker, the X driver, Xvfb,
screenshots) lives in a source checkout beside `kiosk/` and is never installed on a kiosk. The
commands that use it (`kiosk bench`, `kiosk screenshots`, `kiosk bench-sync`, `kiosk run --xvfb`)
import it lazily through `dev_module`, which says clearly when it is absent."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType


class DevToolsMissing(RuntimeError):
    """Development tooling (kiosk_dev) is not here: an installed kiosk, not a source checkout."""


def dev_module(name: str) -> ModuleType:
    """`kiosk_dev.<name>`, from the checkout this `kiosk` package was imported from (an editable
    install or PYTHONPATH); DevToolsMissing with a clear message when there is none."""
    try:
        return importlib.import_module(f"kiosk_dev.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("kiosk_dev", f"kiosk_dev.{name}"):
            raise
    checkout = Path(__file__).resolve().parents[2]  # kiosk/shelf/ inside a checkout: kiosk_dev/ beside it
    if (checkout / "kiosk_dev" / "__init__.py").is_file() and str(checkout) not in sys.path:
        sys.path.append(str(checkout))
        return importlib.import_module(f"kiosk_dev.{name}")
    raise DevToolsMissing(
        f"this command needs the development tools (kiosk_dev.{name}), which are not installed on a kiosk:"
        " run it from a source checkout (scripts/setup test, then .venv/bin/kiosk ...)")
