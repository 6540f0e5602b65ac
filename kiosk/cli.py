"""The `kiosk` command. One CLI convention: each room's commands live in `<room>/cli.py`
(`shelf/hw/cli.py`, `shelf/sync_cli.py`, `shelf/doctor/cli.py`, `central/cli.py`, ...); this file wires them and holds the core room's
own small commands (`kiosk report`); `simulate` and `example` keep their `main` beside their code."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .core import logs
from .core.config import ConfigError
from .shelf.devtools import DevToolsMissing, dev_module
from .wire.journal_errors import JournalError


def _simulate(args) -> int:
    from .shelf import simulate

    return simulate.main(args)


def _report(args) -> int:
    """`kiosk report`: the follow-up sheet from a kiosk journal file (kiosk/core/followup.py)."""
    from pathlib import Path

    from .core import followup
    from .core.config import load
    from .wire.journal import Journal

    if getattr(args, "central", None):  # the sheet from central's database (kiosk/central)
        from .central import report as central_report

        return central_report.main(args)
    config = load(args.config)
    db = Path(args.db) if args.db else config.journal_path
    if not db.exists():
        print(f"no journal at {db}", file=sys.stderr)
        return 2
    try:
        journal = Journal.open_existing(db)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    days = [d for d in journal.days()
            if (not args.date_from or d >= args.date_from) and (not args.date_to or d <= args.date_to)]
    rows = [followup.follow_up_row(s, journal.site, journal.kiosk) for s in followup.day_summaries(journal, days)]
    return followup.write(rows, args.format, getattr(args, "out", None), source=str(db))


def _bench(args) -> int:
    return dev_module("bench").main(args)


def _example(args) -> int:
    from .shelf import example

    return example.main(args)


# --- touch UI (kiosk/ui) ---
def _run(args) -> int:
    from .shelf.ui import run

    return run.main(args)


def _screenshots(args) -> int:
    return dev_module("screenshots").main(args)  # DevToolsMissing on an installed kiosk: exit 2


# -- hw: shelf hardware commands (kiosk/shelf/hw/cli.py) --
def _devices(args) -> int:
    from .shelf.hw import cli as hw_cli

    return hw_cli.devices_main(args)


def _print_test(args) -> int:
    from .shelf.hw import cli as hw_cli

    return hw_cli.print_test_main(args)


# -- sync and central (kiosk/shelf/sync_cli.py, kiosk/central) --
def _sync(args) -> int:
    from .shelf import sync_cli

    return sync_cli.sync_main(args)


def _status(args) -> int:
    from .shelf import sync_cli

    return sync_cli.status_main(args)


def _central(args) -> int:
    from .central import cli as central_cli

    return central_cli.main(args)


# -- delivery (kiosk/central/delivery) --
def _deliver(args) -> int:
    from .central.delivery import cli as delivery_cli

    return delivery_cli.main(args)


def _bench_sync(args) -> int:
    from .shelf import sync_cli

    return sync_cli.bench_main(args)


def _bench_ingest(args) -> int:
    dev_module("ingest_bench").run(args)  # DevToolsMissing on an installed kiosk: exit 2
    return 0


# -- deployment (kiosk/shelf/doctor/, central's in kiosk/central/doctor.py) --
def _doctor(args) -> int:
    if getattr(args, "central", False):
        from .central import doctor as central_doctor

        return central_doctor.main(args)
    from .shelf.doctor import cli as doctor_cli

    return doctor_cli.main(args)


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
    r.add_argument("--central", metavar="DB", help="central's database (a file or a postgresql:// URL): "
                   "one row per day and site/kiosk")
    r.add_argument("--out", help="write to this file (required for xlsx; default stdout)")
    r.set_defaults(func=_report)

    b = sub.add_parser("bench", help="benchmarks: command latency with durable commit vs bare SQLite commit")
    b.add_argument("--commands", type=int, default=10000)
    b.add_argument("--dir", help="folder for the benchmark journal (default: a temp folder)")
    b.add_argument("--quick", action="store_true", help="every benchmark once on a tiny size (a smoke run)")
    b.add_argument("--skip", default="", metavar="AREA,...",
                   help="areas not to run: hw, watchdog, sync, ui (each has its own command too)")
    b.set_defaults(func=_bench)

    e = sub.add_parser("example", help="run the bundled example day through the simulator and show its summary")
    e.add_argument("--out", help="folder for the journal and previews (default: a new temp folder)")
    e.set_defaults(func=_example)

    # --- touch UI (kiosk/ui) ---
    k = sub.add_parser("run", help="run the kiosk with its touch UI (the simulator when no Pi hardware is found)")
    k.add_argument("--size", choices=("800x480", "1280x720", "720x1280"), help="window size (default: ui.size)")
    k.add_argument("--fullscreen", action="store_true", help="fill the screen (default: ui.fullscreen)")
    k.add_argument("--simulator", action="store_true", help="force the simulator even on a Pi")
    k.add_argument("--xvfb", action="store_true", help="no display: start a private Xvfb (demos and checks)")
    k.set_defaults(func=_run)
    ss = sub.add_parser("screenshots", help="PNG of every UI screen at 800x480, 1280x720 and 720x1280")
    ss.add_argument("--out", default="docs/screenshots")
    ss.add_argument("--sizes", default="800x480,1280x720,720x1280")
    ss.set_defaults(func=_screenshots)

    # -- hw: shelf hardware commands --
    d = sub.add_parser("devices", help="input devices, printer and GPIO as the kiosk sees them (changes nothing)")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    mode = d.add_mutually_exclusive_group()
    mode.add_argument("--simulator", action="store_true", help="as the simulator sees them (mock pins)")
    mode.add_argument("--pi", action="store_true", help="as on a Pi (real pins) whatever kiosk.hardware says")
    d.set_defaults(func=_devices)
    t = sub.add_parser("print-test", help="print a test slip (å ä ö, sizes, cut) on the configured printer")
    t.add_argument("--preview", metavar="PNG", help="also write the slip's PNG preview here")
    t.add_argument("--dump", action="store_true", help="show the text the printer gets, decoded")
    t.set_defaults(func=_print_test)

    # -- sync and central (kiosk/shelf/sync_cli.py, kiosk/central) --
    s = sub.add_parser("sync", help="publish the journal's unsent events to the MQTT broker")
    s.add_argument("--once", action="store_true", help="drain the outbox and exit (0 = all confirmed by central)")
    s.add_argument("--db", help="journal file (default: the configured one)")
    s.add_argument("--timeout", type=float, default=30.0, help="seconds --once may take (default 30)")
    s.set_defaults(func=_sync)
    s = sub.add_parser("status", help="the journal's outbox: confirmed by central, sent, pending, oldest unconfirmed")
    s.add_argument("--db", help="journal file (default: the configured one)")
    s.set_defaults(func=_status)
    s = sub.add_parser("central", help="the central collector: store every kiosk's events from MQTT "
                       "(no subcommand); import, migrate, deliver, backup, restore")
    s.add_argument("--db", help="central database, a file or a postgresql:// URL (default: central.db in the config)")
    s.add_argument("--gaps", action="store_true", help="print per kiosk journal the seq gaps, dead-letter counts and last status, then exit")
    s.set_defaults(func=_central, action=None)
    cs = s.add_subparsers(dest="central_command", metavar="{import,migrate,deliver,backup,restore}")
    im = cs.add_parser("import", help="load a kiosk's journal file through the same validation and dedupe as MQTT")
    im.add_argument("journal", help="the kiosk's journal.db")
    im.add_argument("--db", default=argparse.SUPPRESS, help="central database (default: central.db in the config)")
    im.set_defaults(func=_central, action="import")
    mg = cs.add_parser("migrate", help="copy a SQLite central into an empty PostgreSQL database, counts verified")
    mg.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db (empty; schema made here)")
    mg.add_argument("--db", default=argparse.SUPPRESS, help="the SQLite central database (default: central.db in the config)")
    mg.set_defaults(func=_central, action="migrate")
    # -- delivery (kiosk/central/delivery) --
    dl = cs.add_parser("deliver", help="central's delivery outbox: clock alerts, notifications, billing, follow-up")
    dl.add_argument("--once", action="store_true", help="one pass, then exit (tests, cron)")
    dl.add_argument("--db", default=argparse.SUPPRESS, help="central database (default: central.db in the config)")
    dl.set_defaults(func=_deliver)
    from .central import backup as central_backup  # `kiosk central backup|restore` (stdlib only)

    central_backup.add_commands(cs)
    s = sub.add_parser("bench-sync", help="benchmark: outbox drain vs bare paho; central ingest vs bare insert")
    s.add_argument("--events", type=int, default=20000)
    s.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    s.add_argument("--dir", help="working folder (default: a temp folder)")
    s.add_argument("--flood-only", action="store_true", help="only the flood figure")
    s.add_argument("--flood-messages", type=int, default=50000, help="garbage messages of each flood")
    s.add_argument("--postgresql", action="store_true",
                   help="the floods also with central on a throw-away PostgreSQL database")
    s.set_defaults(func=_bench_sync)
    bi = sub.add_parser("bench-ingest", help="benchmark: 1/2/4 central consumers on PostgreSQL, 1 on SQLite, "
                                             "beside bare psycopg COPY and executemany")
    bi.add_argument("--events", type=int, default=20000)
    bi.add_argument("--kiosks", type=int, default=20)
    bi.add_argument("--consumers", default="1,2,4", help="consumer counts on PostgreSQL (comma-separated)")
    bi.add_argument("--engines", default="postgresql,sqlite", help="postgresql, sqlite or both")
    bi.add_argument("--dir", help="working folder (default: a temp folder)")
    bi.set_defaults(func=_bench_ingest)
    # -- web: the TL web app at central (kiosk/central/web/cli.py) --
    from .central.web import cli as web_cli

    web_cli.add_parsers(sub)
    # -- camera: the camera above the shelf (kiosk/shelf/camera/cli.py) --
    from .shelf.camera import cli as camera_cli

    camera_cli.add_parsers(sub)
    # -- deployment (kiosk/shelf/doctor/) --
    d = sub.add_parser("doctor", help="check an installed kiosk end to end (Swedish; exit 1 on FEL)")
    d.add_argument("--json", action="store_true", help="the checks as JSON")
    d.add_argument("--central", action="store_true", help="check the central host instead of a kiosk")
    d.add_argument("--min-free-mb", type=int, default=200, help="free disk space needed (MB)")
    d.set_defaults(func=_doctor)
    return p


# the commands that open the broker connection (kiosk doctor checks the same in Swedish itself)
CONNECTING_COMMANDS = {"run", "sync", "central"}
# Each machine installs one role (pyproject's extras): a command of the other role names what is missing.
ROLE_PACKAGES = {
    "kiosk": {"kivy", "evdev", "gpiozero", "escpos", "usb", "serial", "PIL"},
    "central": {"starlette", "jinja2", "uvicorn", "multipart", "authlib", "prometheus_client", "argon2", "apprise", "holidays",
                "psycopg", "psycopg_pool", "openpyxl"},
}
SETUP_MODE = {"kiosk": "scripts/setup", "central": "scripts/setup central"}


def _missing_role(exc: ModuleNotFoundError) -> str | None:
    top = (exc.name or "").split(".")[0]
    return next((role for role, names in ROLE_PACKAGES.items() if top in names), None)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(verbose=args.verbose)  # journald priorities under systemd (kiosk/core/logs.py)
    try:
        if args.command in CONNECTING_COMMANDS:  # a missing TLS file stops them at start, named
            from .core.config import check_files, load

            check_files(load(args.config))
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except JournalError as exc:  # a read-only data dir, a damaged journal: no traceback
        print(f"journal error: {exc}", file=sys.stderr)
        return 2
    except DevToolsMissing as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        role = _missing_role(exc)
        if role is None:
            raise
        print(f"kiosk: this command needs the {role} role, which is not installed here (no module {exc.name!r}):"
              f" pip install 'returpost-kiosk[{role}]', or {SETUP_MODE[role]} in a checkout", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a script or folder that cannot be read or written: say which, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
