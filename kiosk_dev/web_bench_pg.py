"""The web app's pages on PostgreSQL beside the same pages on SQLite, in one run.

    python -m kiosk_dev.web_bench_pg [--kiosks 100] [--days 365] [--repeat 10] [--dir DIR] [--no-cache]

The web benchmark (kiosk_dev/web_bench.py `run`, with its own baseline: the same answers by full
replay of `events`) on a SQLite central and on a fresh PostgreSQL database, one after the other in
one process: the SQLite run builds the data set (kiosks x days of realistic days, materialised)
or copies it from the cache (var/web-bench), and the PostgreSQL run fills its database from that
cached set by `kiosk central migrate` (web_bench.build), so both serve the same rows. The pages'
medians are printed side by side with the PostgreSQL/SQLite ratio. Figures only, never asserted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from . import web_bench

CACHE = Path(__file__).resolve().parent.parent / "var" / "web-bench"


def run(kiosks: int, days: int, repeat: int, folder: Path, out=sys.stdout, replay_days: int = 10,
        cache: Path | None = CACHE) -> dict:
    from .pgtest import create_database, drop_database

    results = {}
    # SQLite first: it builds the data set (or copies it from the cache) and leaves it cached for
    # PostgreSQL, which web_bench.build fills from it by `kiosk central migrate` (then analyze)
    results["SQLite"] = web_bench.run(kiosks, days, repeat, folder, out=out, replay_days=replay_days, cache=cache)
    url = create_database("kiosk_webbench")
    try:
        results["PostgreSQL"] = web_bench.run(kiosks, days, repeat, folder, out=out, replay_days=replay_days,
                                              cache=cache, db_url=url)
    finally:
        drop_database(url)
    lite, pg = results["SQLite"]["pages"], results["PostgreSQL"]["pages"]
    print(f"\n  {'page':30s} {'SQLite median':>14s} {'PostgreSQL median':>18s} {'(p95)':>8s} {'PG/SQLite':>10s}",
          file=out)
    for name in lite:
        s, p = lite[name][0], pg[name][0]
        print(f"  {name:30s} {s:11.1f} ms {p:15.1f} ms {pg[name][1]:8.1f} {p / max(s, 1e-9):9.2f}x", file=out)
    print(f"  materialised rows equal the replayed rows: SQLite {results['SQLite']['same']}, "
          f"PostgreSQL {results['PostgreSQL']['same']}", file=out)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kiosks", type=int, default=100)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--dir", help="working folder (default: a temp folder)")
    p.add_argument("--no-cache", action="store_true", help="build the data set even if it is cached")
    a = p.parse_args(argv)
    folder = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="web-bench-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        res = run(a.kiosks, a.days, a.repeat, folder, cache=None if a.no_cache else CACHE)
    finally:
        if not a.dir:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if all(r["same"] for r in res.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
