"""UI benchmark: cold start of `kiosk run` to the first shown screen (READY=1 over a real
$NOTIFY_SOCKET, as systemd sees it), RSS after a simulated day, and tap -> first changed pixel
over a scripted day (kiosk_dev/ui_tap_bench.py), each beside a baseline measured in the same run
(a one-label Kivy app). Goal on a Pi-class machine: < 3 s and < 150 MB.

    python -m kiosk_dev.ui_bench            (or `run(args)` from `kiosk bench`)
    python -m kiosk_dev.ui_bench --quick    (once each, a short day: a smoke run, as `kiosk bench --quick`)
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .procs import stop
from .xvfb import display_env

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _config_text(d: Path) -> str:
    return (f'[kiosk]\ndata_dir = "{d}/data"\nhardware = "simulator"\n[mqtt]\nenabled = false\n'
            f'[gpio]\npin_factory = "mock"\n[printer]\nbackend = "dummy"\npreview_dir = "{d}/previews"\n')


def _time_to_ready(cmd: list[str], env: dict, timeout: float = 60.0) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "notify.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(0.5)
        env = dict(env, NOTIFY_SOCKET=str(path))
        env.pop("WATCHDOG_USEC", None)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - t0 < timeout:
                try:
                    if b"READY=1" in sock.recv(4096):
                        return time.perf_counter() - t0
                except socket.timeout:
                    if proc.poll() is not None:
                        raise RuntimeError(f"{cmd} exited with {proc.returncode} before READY") from None
            raise RuntimeError("no READY=1 in time")
        finally:
            stop(proc, 15)
            sock.close()


def run(args=None) -> None:
    rounds = getattr(args, "rounds", 3) if args is not None else 3
    with display_env() as env, tempfile.TemporaryDirectory() as tmp:
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        cfg = Path(tmp) / "bench.toml"
        cfg.write_text(_config_text(Path(tmp)))
        kiosk_cmd = [sys.executable, "-m", "kiosk", "--config", str(cfg), "run", "--size", "800x480"]
        base_cmd = [sys.executable, "-m", "kiosk_dev.ui_bench", "--child-minimal"]
        _time_to_ready(base_cmd, env)  # warm the page cache once for both
        base = [_time_to_ready(base_cmd, env) for _ in range(rounds)]
        kiosk = [_time_to_ready(kiosk_cmd, env) for _ in range(rounds)]
        print(f"ui cold start to first screen: kiosk run {statistics.median(kiosk):.2f} s "
              f"(median of {rounds}; goal < 3 s) | baseline one-label Kivy app {statistics.median(base):.2f} s")
        sorts = int(getattr(args, "ui_day_sorts", None) or DAY_SORTS)
        out = subprocess.run([sys.executable, "-m", "kiosk_dev.ui_bench", "--child-day", tmp, str(sorts)], env=env,
                             capture_output=True, text=True, timeout=300)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RSS")]
        if out.returncode != 0 or not lines:
            print("ui day RSS: failed:", out.stderr[-2000:])
        base_rss = subprocess.run([sys.executable, "-m", "kiosk_dev.ui_bench", "--child-minimal", "--rss"], env=env,
                                  capture_output=True, text=True, timeout=120).stdout.strip()
        for ln in lines:
            print(f"ui {ln} (goal < 150 MB) | baseline one-label Kivy app {base_rss}")
            try:
                base = float(base_rss.split()[0])
                ready, day, rest = (float(v) for v in re.findall(r"(\d+) MB", ln))
                print(f"ui RSS above the baseline: first screen +{ready - base:.0f} MB, "
                      f"after the day +{day - base:.0f} MB, at rest after it +{rest - base:.0f} MB (goal <= +40 MB)")
            except ValueError:
                pass
    from . import ui_tap_bench

    ui_tap_bench.run(args)  # tap -> first changed pixel over a scripted day, beside the baseline


# -- children ------------------------------------------------------------------------------------


def _child_minimal(report_rss: bool) -> int:
    from kiosk.shelf.ui import kivyenv

    kivyenv.prepare(800, 480)
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.uix.label import Label

    from kiosk.shelf import sdnotify

    class Minimal(App):
        def build(self):
            def flip(*_):
                Window.unbind(on_flip=flip)
                sdnotify.ready()
                if report_rss:
                    Clock.schedule_once(lambda dt: (print(f"{_rss_mb():.0f} MB", flush=True), self.stop()), 0.5)
            Window.bind(on_flip=flip)
            return Label(text="Returpost")

    Minimal().run()
    return 0


DAY_SORTS = 240  # letters sorted in the simulated day (and scanned); a tenth of it as many printouts


def _child_day(tmp: str, sorts: int = DAY_SORTS) -> int:
    """A busy simulated day through the app (same commands the taps send), then RSS."""
    from kiosk.shelf.ui import kivyenv

    kivyenv.prepare(800, 480)
    kivyenv.register_fonts()
    from kiosk.core.clock import TZ, FixedClock
    from kiosk.core.config import parse
    from kiosk.core.domain import PILES, SCAN_ORDER
    from kiosk.shelf.runtime import Kiosk
    from kiosk.shelf.ui.app import KioskApp

    from .ui_driver import Driver, wait

    clock = FixedClock(dt.datetime(2026, 11, 23, 8, 0, tzinfo=TZ))
    kiosk = Kiosk(parse(_config_text(Path(tmp) / "day")), clock=clock, simulator=True, sync=False)
    labels = max(1, sorts // 8)  # Dödsbo labels printed (30 in the full day)
    result: dict = {}

    def script(d: Driver):
        app = d.app
        yield 3
        result["ready"] = _rss_mb()
        app.do({"cmd": "login", "operator": "ANNA"})
        app.go("sort")
        for i in range(sorts):
            pile = PILES[i % len(PILES)]
            app.do({"cmd": "sort", "pile": pile, **({"letter": "B"} if pile == "leta_kund" else {}),
                    **({"about": "Priskompensation"} if pile == "tillfalliga" else {})})
            if i % 20 == 0:
                yield 1
        app.go("scan")
        app.do({"cmd": "scan_phase"})
        n = 0
        for pile in SCAN_ORDER:
            for _ in range(kiosk.controller.state.counts[pile]):
                n += 1
                app.do({"cmd": "scan", "code": f"7350{n:09d}"})
                if n % 10 == 0:
                    yield 1
            app.do({"cmd": "next_pile"})
        for page in ("dodsbo", "sekretess", "letakund", "datecheck", "incoming", "other", "summary", "home"):
            app.go(page)
            yield 2
        for _ in range(labels):
            app.do({"cmd": "dodsbo_label", "personnummer": "191212121212"})
        app.do({"cmd": "cover_slip"})
        for letter in "ABCDH" * max(1, labels // 5):
            app.do({"cmd": "leta_kund", "letter": letter})
        app.go("summary")
        app.do({"cmd": "close_day"})
        yield 30
        result["day"] = _rss_mb()
        result["events"] = kiosk.journal.last_seq
        yield wait(5)  # then the kiosk at rest (screens left give up their texts)
        result["idle"] = _rss_mb()

    drivers: list[Driver] = []

    def ready(a):
        drivers.append(Driver(a, script, timeout=60))
        drivers[0].start()

    KioskApp(kiosk, on_ready=ready).run()
    if not drivers or drivers[0].error or "day" not in result:
        print(drivers[0].error if drivers else "never ready", file=sys.stderr)
        return 1
    print(f"RSS at first screen {result['ready']:.0f} MB, after a simulated day ({result['events']} events, "
          f"every screen shown, {labels + 2} printouts previewed) {result['day']:.0f} MB, at rest 5 s later "
          f"{result['idle']:.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    if "--child-minimal" in sys.argv:
        sys.exit(_child_minimal("--rss" in sys.argv))
    if "--child-day" in sys.argv:
        at = sys.argv.index("--child-day")
        sys.exit(_child_day(sys.argv[at + 1], *(int(v) for v in sys.argv[at + 2:at + 3])))
    if "--quick" in sys.argv:
        import argparse

        from .bench import QUICK

        run(argparse.Namespace(**QUICK))
    else:
        run()
