"""The doctor's building blocks: a Check (OK / FEL / INFO with what to do) and the System it looks at."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

INSTALLED_CONFIG = "/etc/returpost-kiosk/config.toml"
MIN_FREE_MB = 200
UNSENT_STALE = dt.timedelta(hours=1)
VOLATILE_FS = {"tmpfs", "ramfs"}


@dataclass
class Check:
    name: str
    status: str            # "OK" | "FEL" | "INFO"
    detail: str
    fix: str = ""


@dataclass
class System:
    """Where the doctor looks: the real machine by default, a prepared tree in tests."""

    sys_root: Path = Path("/sys")
    dev_root: Path = Path("/dev")
    mountinfo: Path = Path("/proc/self/mountinfo")
    model: Path = Path("/proc/device-tree/model")
    broker_cert: Path = Path("/etc/mosquitto/returpost/certs/server.crt")
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
    euid: Callable[[], int] = os.geteuid
    broker_timeout: float = 5.0
    net_timeout: float = 2.0
    adjtimex: Callable[[], tuple[int, int] | None] | None = None


def ok(name, detail) -> Check:
    return Check(name, "OK", detail)


def fel(name, detail, fix) -> Check:
    return Check(name, "FEL", detail, fix)


def info(name, detail) -> Check:
    return Check(name, "INFO", detail)


def simulated(cfg, system: System) -> bool:
    """Whether the kiosk runs its simulated devices: hardware = simulator, or auto on a machine
    that is not a Raspberry Pi (the same rule the kiosk applies)."""
    hw = cfg.kiosk.hardware
    if hw != "auto":
        return hw == "simulator"
    from ..hw.devices import is_raspberry_pi

    return not is_raspberry_pi(str(system.model))


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "porten är stängd"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "inget svar inom tidsgränsen"
    if isinstance(exc, socket.gaierror):
        return "namnet går inte att slå upp"
    return getattr(exc, "strerror", None) or str(exc)
