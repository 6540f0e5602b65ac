"""`kiosk sync`, `kiosk status`, `kiosk central`, `kiosk bench-sync` (wired in kiosk/cli.py)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

from ..config import load

EXIT_UNREACHABLE = 3  # the broker could not be reached in time
EXIT_UNACKED = 4  # connected, but not everything was acknowledged in time


def _journal_path(args, config) -> Path:
    return Path(args.db) if getattr(args, "db", None) else config.journal_path


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum, frame):
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    return stop


def sync_main(args) -> int:
    from . import topics
    from .publisher import Publisher

    config = load(args.config)
    if not config.mqtt.enabled:
        print("sync is off: mqtt.enabled is false in the config", file=sys.stderr)
        return 2
    db = _journal_path(args, config)
    if args.once and not db.exists():
        print(f"no journal at {db}", file=sys.stderr)
        return 2
    where = topics.describe(config.mqtt)
    if args.resend_from is not None:
        n = resend_from(config, db, args.resend_from)
        print(f"{n} events from seq {args.resend_from} on are queued again")
    pub = Publisher(config, db)
    stop = _stop_on_signals()
    pub.start()
    try:
        if not args.once:
            last = None
            while not stop.wait(1.0):
                st = pub.status()
                key = (st["online"], st["pending"], st["last_error"])
                if key != last:
                    print(json.dumps(st), flush=True)
                    last = key
                if not pub.running:
                    return 1
            return 0
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and not stop.is_set():
            if pub.wait_drained(min(0.2, max(0.0, deadline - time.monotonic()))):
                st = pub.status()
                print(f"all events acknowledged by {where}: last seq {st['last_seq']}, pending 0")
                return 0
            if not pub.running:
                break
        st = pub.status()
        if st["connected_at"] is None:
            print(f"cannot reach the MQTT broker at {where} within {args.timeout:g} s: "
                  f"{st['last_error'] or 'no answer'}; {st['pending']} events stay queued",
                  file=sys.stderr)
            return EXIT_UNREACHABLE
        print(f"{st['pending']} events not acknowledged by {where} within {args.timeout:g} s "
              f"(last seq acknowledged {st['last_seq']}): {st['last_error'] or 'still sending'}",
              file=sys.stderr)
        return EXIT_UNACKED
    finally:
        pub.stop()


def resend_from(config, db: Path, seq: int) -> int:
    """Queue events from `seq` on again (they are still in the journal unless purged): the
    recovery when central reports a gap, e.g. after a broker lost its queue in a crash.
    Central drops what it already has by id."""
    from ..journal import Journal

    journal = Journal(db, config.kiosk.site, config.kiosk.id)
    try:
        with journal.transaction():
            cur = journal.db.execute("update events set sent_at = null where seq >= ? and sent_at is not null", [seq])
            return cur.rowcount
    finally:
        journal.close()


def status_main(args) -> int:
    from ..journal import Journal
    from . import topics

    config = load(args.config)
    db = _journal_path(args, config)
    if not db.exists():
        print(f"no journal at {db}", file=sys.stderr)
        return 2
    journal = Journal(db, config.kiosk.site, config.kiosk.id)
    try:
        row = journal.db.execute(
            "select min(seq), min(ts), count(*) from events where sent_at is null").fetchone()
        sent = journal.db.execute(
            "select max(seq), max(sent_at) from events where sent_at is not null").fetchone()
        doc = {
            "site": journal.site, "kiosk": journal.kiosk, "journal": str(db),
            "last_seq": journal.last_seq, "pending": row[2],
            "oldest_pending_seq": row[0], "oldest_pending_ts": row[1],
            "last_sent_seq": sent[0], "last_sent_at": sent[1],
            "broker": topics.describe(config.mqtt) if config.mqtt.enabled else None,
        }
    finally:
        journal.close()
    print(json.dumps(doc, indent=2))
    return 0


def central_main(args) -> int:
    from .central import run_central

    return run_central(args)


def bench_main(args) -> int:
    from . import bench

    bench.run(args)
    return 0
