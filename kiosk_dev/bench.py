"""`kiosk bench`: speed figures printed beside a baseline measured in the same run.

Core: the controller's command-to-effect latency including the durable commit (median, p99) and
sustained commands/s, against one bare SQLite insert+commit with the same settings (WAL,
synchronous=FULL) on the same disk. Goal: p99 within 3x of the bare commit.
Other areas add their own benchmarks (kiosk_dev.<area>_bench.run) and are run after the core.
"""

from __future__ import annotations

import datetime as dt
import importlib
import statistics
import tempfile
import time
from pathlib import Path

from kiosk.core.clock import TZ, FixedClock
from kiosk.core.config import load
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal, connect

# Each area's benchmark module (`run(args)` prints lines); the old in-package names are kept as a
# fallback while the sync and ui benchmarks move here.
AREAS = (
    ("kiosk_dev.hw_bench",),
    ("kiosk_dev.watchdog_bench",),
    ("kiosk_dev.sync_bench",),
    ("kiosk_dev.ui_bench",),
)


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


ROUND = 250  # the two loops alternate in rounds, so machine noise falls on both alike


class BareCommits:
    """One bare insert+commit per call, same pragmas as the journal, same disk."""

    def __init__(self, path: Path):
        self.db = connect(path)
        self.db.execute("create table t (seq integer primary key, id text, payload text)")
        self.payload = '{"v":1,"type":"sorted","data":{"pile":"faktura"}}' * 4
        self.i = 0

    def __call__(self) -> None:
        self.i += 1
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("insert into t (id, payload) values (?, ?)", [f"id-{self.i}", self.payload])
        self.db.execute("COMMIT")


class ControllerCommands:
    """A realistic day's commands (sorting, then scanning) through the real controller."""

    def __init__(self, path: Path, n: int):
        cfg = load(None)
        self.start = dt.datetime(2026, 11, 23, 7, 0, tzinfo=TZ)
        self.controller = Controller(cfg, Journal(path, cfg.kiosk.site, cfg.kiosk.id), FixedClock(self.start))
        self.controller.handle({"cmd": "login", "operator": "ANNA"}, self.start)
        self.n, self.i = n, 0
        self.piles = ["dodsbo", "sekretess", "faktura", "ovriga_streckkod", "leta_kund", "ovriga_brev"]

    def __call__(self) -> None:
        i, n = self.i, self.n
        self.i += 1
        if i == n // 2:
            cmd = {"cmd": "scan_phase"}
        elif i > n // 2:
            cmd = {"cmd": "scan", "code": f"7350{i:09d}"}
        else:
            cmd = {"cmd": "sort", "pile": self.piles[i % len(self.piles)]}
            if cmd["pile"] == "leta_kund":  # a Leta Kund letter is sorted by its type
                cmd["letter"] = "ABCDH"[i % 5]
        result = self.controller.handle(cmd, self.start + dt.timedelta(seconds=i))
        if result.status == "error":
            raise RuntimeError(f"benchmark command failed: {result.message}")


def measure(n: int, folder: Path) -> tuple[list[float], list[float], float, float]:
    bare, ctrl = BareCommits(folder / "bare.db"), ControllerCommands(folder / "journal.db", n)
    lat_bare: list[float] = []
    lat_ctrl: list[float] = []
    time_bare = time_ctrl = 0.0
    done = 0
    while done < n:
        k = min(ROUND, n - done)
        for fn, lat in ((bare, lat_bare), (ctrl, lat_ctrl)):
            t_round = time.perf_counter()
            for _ in range(k):
                t0 = time.perf_counter()
                fn()
                lat.append(time.perf_counter() - t0)
            spent = time.perf_counter() - t_round
            if fn is bare:
                time_bare += spent
            else:
                time_ctrl += spent
        done += k
    bare.db.conn.close()
    ctrl.controller.journal.close()
    return lat_bare, lat_ctrl, n / time_bare, n / time_ctrl


def core(n: int, folder: Path) -> None:
    bare, lat, bare_rate, rate = measure(n, folder)
    ms = lambda s: f"{s * 1000:.3f} ms"  # noqa: E731
    b50, b99 = statistics.median(bare), _pct(bare, 99)
    c50, c99 = statistics.median(lat), _pct(lat, 99)
    print(f"core: {n} commands through the controller, durable commit each (WAL, synchronous=FULL)")
    print(f"  bare sqlite insert+commit   median {ms(b50)}  p99 {ms(b99)}  ({bare_rate:.0f}/s)")
    print(f"  controller command->effect  median {ms(c50)}  p99 {ms(c99)}  ({rate:.0f} commands/s sustained)")
    print(f"  ratio controller/bare       median {c50 / b50:.2f}x  p99 {c99 / b99:.2f}x  (goal: p99 within 3x)")


# `kiosk bench --quick`: every benchmark once on a tiny size (a smoke run: the figures are printed
# but mean little); the attribute names are those the areas' `run(args)` read.
QUICK = {"commands": 200, "events": 200, "repeat": 1, "rounds": 1, "hw_repeat": 5, "watchdog_calls": 500,
         "flood_messages": 2000, "ui_day_sorts": 24, "ui_sort_taps": 7, "ui_baseline_taps": 8}


def main(args) -> int:
    if getattr(args, "quick", False):
        for name, value in QUICK.items():
            setattr(args, name, value)
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    core(args.commands, folder)
    skip = {a.strip() for a in (getattr(args, "skip", "") or "").split(",") if a.strip()}
    unknown = skip - {area(names) for names in AREAS}
    if unknown:
        raise SystemExit(f"kiosk bench --skip: no area {', '.join(sorted(unknown))}")
    for names in AREAS:
        if area(names) in skip:
            print(f"{area(names)}: skipped (--skip)")
            continue
        module = _first_module(names)
        if module is not None:
            module.run(args)
    return 0


def area(names: tuple[str, ...]) -> str:
    """An area's short name: kiosk_dev.ui_bench -> ui."""
    return names[0].rsplit(".", 1)[-1].removesuffix("_bench")


def _first_module(names: tuple[str, ...]):
    """The first of `names` that exists; a module that exists but fails to import still raises."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
    return None
