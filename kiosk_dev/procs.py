"""Child processes of the benchmarks and the tests."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen, wait_s: float = 10) -> None:
    """End a child: SIGTERM, then SIGKILL if it has not gone within `wait_s`; always reaped."""
    proc.terminate()
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(wait_s)
