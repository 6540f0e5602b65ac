"""The `kiosk` command. Each subcommand lives in its own module; this file only wires them."""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from .config import ConfigError


def _simulate(args) -> int:
    from . import simulate

    return simulate.main(args)


def _report(args) -> int:
    from . import report_cli

    return report_cli.main(args)


def _bench(args) -> int:
    from . import bench

    return bench.main(args)


def _example(args) -> int:
    from . import example

    return example.main(args)


# -- sync and central (kiosk/sync) --
def _sync(args) -> int:
    from .sync import cli as sync_cli

    return sync_cli.sync_main(args)


def _status(args) -> int:
    from .sync import cli as sync_cli

    return sync_cli.status_main(args)


def _central(args) -> int:
    from .sync import cli as sync_cli

    return sync_cli.central_main(args)


def _bench_sync(args) -> int:
    from .sync import cli as sync_cli

    return sync_cli.bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="Returpost kiosk")
    p.add_argument("--version", action="version", version=f"kiosk {__version__}")
    p.add_argument("--config", help="config file (TOML) laid over the default; also $KIOSK_CONFIG")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="run a JSONL command script headless and print the day summaries")
    s.add_argument("script")
    s.add_argument("--db", help="journal file (default: OUT/journal.db)")
    s.add_argument("--out", help="folder for printout previews (default: a new temp folder)")
    s.set_defaults(func=_simulate)

    r = sub.add_parser("report", help="the follow-up sheet from a journal file")
    r.add_argument("--db", help="kiosk journal file (default: the configured one)")
    r.add_argument("--from", dest="date_from", help="first day YYYY-MM-DD")
    r.add_argument("--to", dest="date_to", help="last day YYYY-MM-DD")
    r.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    r.add_argument("--central", metavar="DB", help="central's database: one row per day and site/kiosk")
    r.add_argument("--out", help="write to this file (required for xlsx; default stdout)")
    r.set_defaults(func=_report)

    b = sub.add_parser("bench", help="benchmarks: command latency with durable commit vs bare SQLite commit")
    b.add_argument("--commands", type=int, default=10000)
    b.add_argument("--dir", help="folder for the benchmark journal (default: a temp folder)")
    b.set_defaults(func=_bench)

    e = sub.add_parser("example", help="run the bundled example day through the simulator and show its summary")
    e.add_argument("--out", help="folder for the journal and previews (default: a new temp folder)")
    e.set_defaults(func=_example)
    # -- sync and central (kiosk/sync) --
    s = sub.add_parser("sync", help="publish the journal's unsent events to the MQTT broker")
    s.add_argument("--once", action="store_true", help="drain the outbox and exit (0 = all acknowledged)")
    s.add_argument("--db", help="journal file (default: the configured one)")
    s.add_argument("--timeout", type=float, default=30.0, help="seconds --once may take (default 30)")
    s.add_argument("--resend-from", type=int, metavar="SEQ", help="queue events from SEQ on again (after central reports a gap)")
    s.set_defaults(func=_sync)
    s = sub.add_parser("status", help="the journal's outbox: pending events, last sent seq")
    s.add_argument("--db", help="journal file (default: the configured one)")
    s.set_defaults(func=_status)
    s = sub.add_parser("central", help="the central collector: store every kiosk's events from MQTT")
    s.add_argument("--db", help="central database (default: central.db in the config)")
    s.add_argument("--gaps", action="store_true", help="print the per-kiosk seq gaps and last status, then exit")
    s.set_defaults(func=_central)
    s = sub.add_parser("bench-sync", help="benchmark: outbox drain vs bare paho; central ingest vs bare insert")
    s.add_argument("--events", type=int, default=20000)
    s.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    s.add_argument("--dir", help="working folder (default: a temp folder)")
    s.set_defaults(func=_bench_sync)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
