"""Start a private Xvfb on a free display number (Xvfb picks it: -displayfd)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

from .procs import stop as stop_process


class Xvfb:
    def __init__(self, width: int = 1280, height: int = 1280):
        self.width, self.height = width, height
        self.proc: subprocess.Popen | None = None
        self.display: str | None = None

    def start(self, timeout: float = 20.0) -> str:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise RuntimeError("Xvfb is not installed (Debian package xvfb; scripts/setup test installs it)")
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            [exe, "-displayfd", str(write_fd), "-screen", "0", f"{self.width}x{self.height}x24",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        deadline = time.monotonic() + timeout
        data = b""
        with os.fdopen(read_fd, "rb") as fh:
            while not data.endswith(b"\n"):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("Xvfb did not start")
                chunk = fh.read(1)
                if not chunk:
                    break
                data += chunk
        number = data.strip().decode()
        if not number.isdigit():
            self.stop()
            raise RuntimeError("Xvfb did not report a display number")
        self.display = f":{number}"
        return self.display

    def env(self) -> dict:
        env = dict(os.environ)
        env["DISPLAY"] = self.display or ""
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, 5)
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


@contextmanager
def display_env(width: int = 1280, height: int = 1280) -> Iterator[dict]:
    """The environment for child processes that need a screen: this process's own when it has a
    display, else a private Xvfb's, stopped on exit."""
    from kiosk.shelf.ui.kivyenv import display_available

    if display_available():
        yield dict(os.environ)
        return
    with Xvfb(width, height) as xvfb:
        yield xvfb.env()
