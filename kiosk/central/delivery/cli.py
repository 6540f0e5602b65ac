"""`kiosk central deliver [--once] [--db CENTRAL]` (the argparse entry is in kiosk/cli.py)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from ...config import load
from . import state, worker
from .config import read


def main(args) -> int:
    config = load(args.config)
    cfg = read(config)
    db = Path(args.db) if args.db else config.data_path(config.central.db)
    if not db.exists():
        print(f"no central database at {db}", file=sys.stderr)
        return 2
    worker.install_log_filter(cfg)
    if args.once:
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
