"""Benchmark for the watchdog feeder (called from `kiosk bench`: `watchdog_bench.run(args)`).

The UI loop may tick the feeder every frame (30 fps). This prints what that costs per frame
beside the baseline measured in the same run: sending WATCHDOG=1 to a notify socket on every
frame with `kiosk.shelf.sdnotify.watchdog()` (what an unpaced loop would do).
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

from kiosk.shelf import sdnotify
from kiosk.shelf.watchdog import WatchdogFeeder


def _per_call(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def run(args=None, n: int = 20000) -> None:
    n = int(getattr(args, "watchdog_calls", None) or n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "notify"
        sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sink.bind(str(path))
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sink.setblocking(False)
        old = os.environ.get("NOTIFY_SOCKET")
        os.environ["NOTIFY_SOCKET"] = str(path)

        def drain():
            try:
                while True:
                    sink.recv(64)
            except BlockingIOError:
                pass

        try:
            def bare():
                sdnotify.watchdog()
                drain()

            base = _per_call(bare, n)
            feeder = WatchdogFeeder(interval=7.5)  # WatchdogSec=30
            feeder.tick()
            paced = _per_call(feeder.tick, n)
        finally:
            sink.close()
            if old is None:
                os.environ.pop("NOTIFY_SOCKET", None)
            else:
                os.environ["NOTIFY_SOCKET"] = old
    frame = 1 / 30
    print(f"watchdog: sdnotify.watchdog() every frame (baseline): {base * 1e6:8.2f} us/frame "
          f"= {base / frame * 100:.3f}% of a 30 fps frame")
    print(f"watchdog: WatchdogFeeder.tick() every frame (paced):  {paced * 1e6:8.2f} us/frame "
          f"= {paced / frame * 100:.4f}% of a 30 fps frame ({base / paced:.0f}x less than baseline)")
