"""systemd's sd_notify protocol (READY, WATCHDOG, STATUS) over $NOTIFY_SOCKET.

A no-op when the kiosk is not started by systemd. The UI loop calls `watchdog()` on every few
frames, so a hung UI loop stops the pings and systemd restarts the kiosk.
"""

from __future__ import annotations

import os
import socket


def _send(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
        return True
    except OSError:
        return False


def ready(status: str = "") -> bool:
    return _send("READY=1" + (f"\nSTATUS={status}" if status else ""))


def watchdog() -> bool:
    return _send("WATCHDOG=1")


def status(text: str) -> bool:
    return _send(f"STATUS={text}")


def stopping() -> bool:
    return _send("STOPPING=1")


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec for this process, in seconds, or None when not set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None
