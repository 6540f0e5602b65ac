"""`kiosk central deliver [--once] [--db CENTRAL]` (the argparse entry is in kiosk/cli.py);
CENTRAL is a SQLite file or a postgresql:// URL."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from ..db import display_name, errors, is_url
from . import outbox, state, worker
from .config import load, read


def main(args) -> int:
    config = load(args.config)
    cfg = read(config)
    target = str(args.db) if args.db else str(config.db_target())  # --db as given (relative: to the cwd)
    if not is_url(target):
        if not Path(target).exists():
            print(f"no central database at {target}", file=sys.stderr)
            return 2
    worker.install_log_filter(cfg)
    try:
        db = outbox.connect(target)
    except errors("operational") as exc:
        print(f"cannot open the central database {display_name(target)}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.once:
            outbox.ensure_schema(db)
            counts = worker.run_once(cfg, db)
            print(json.dumps({**counts, "state": {k: v for k, v in state.summary(db).items() if k != "failing_items"}}))
            for line in state.summary_lines(db)[1:]:
                print(line)
            return 0
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        worker.run(cfg, db, stop)
        return 0
    finally:
        db.close()
