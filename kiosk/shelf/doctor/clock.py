"""The clock: synchronised with NTP (timedatectl, or the kernel's adjtimex)."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess

from .base import Check, System, fel, ok


def _adjtimex() -> tuple[int, int] | None:
    """(state, status) from the kernel's NTP state; state 5 (TIME_ERROR) = not synchronised."""

    class Timex(ctypes.Structure):
        _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                    ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                    ("status", ctypes.c_int), ("rest", ctypes.c_byte * 256)]

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        t = Timex()
        state = libc.adjtimex(ctypes.byref(t))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state, t.status


def check_clock(cfg, system: System) -> Check:
    name = "Klocka"
    fix = ("Kiosken behöver nätverk till en tidsserver (NTP). Kontrollera nätverket; "
           "`timedatectl timesync-status` visar vilken server som används.")
    try:
        out = system.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                         capture_output=True, text=True, timeout=5)
        value = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        value = ""
    if value == "yes":
        return ok(name, "synkroniserad med tidsserver (NTP)")
    if value == "no":
        return fel(name, "inte synkroniserad: tiderna i journalen kan bli fel", fix)
    kernel = (system.adjtimex or _adjtimex)()
    if kernel is None:
        return fel(name, "går inte att avgöra (varken timedatectl eller kärnans NTP-status svarar)", fix)
    state, status = kernel
    if state == 5 or status & 0x40:  # TIME_ERROR / STA_UNSYNC
        return fel(name, "inte synkroniserad enligt kärnan (timedatectl svarar inte här)", fix)
    return ok(name, "synkroniserad enligt kärnan (timedatectl svarar inte här)")
