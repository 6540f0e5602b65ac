"""`kiosk sync`, `kiosk status`, `kiosk bench-sync` (wired in kiosk/cli.py; `kiosk central` is kiosk/central/cli.py)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

from ..core.config import load

EXIT_UNREACHABLE = 3  # the broker could not be reached in time
EXIT_UNACKED = 4  # connected, but central did not confirm everything in time
EXIT_LOCKED = 5  # another process (the kiosk itself) already sends this journal


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
    from ..wire import mqtt as session
    from .publisher import Publisher, SyncLock

    config = load(args.config)
    if not config.mqtt.enabled:
        print("sync is off: mqtt.enabled is false in the config", file=sys.stderr)
        return 2
    db = _journal_path(args, config)
    if args.once and not db.exists():
        print(f"no journal at {db}", file=sys.stderr)
        return 2
    lock = SyncLock(db)
    why = lock.acquire()
    if why is not None:
        print(f"kiosk sync: {why}. Nothing to do: that process confirms the events with central "
              "by itself (see `kiosk status`).", file=sys.stderr)
        return EXIT_LOCKED
    lock.release()
    where = session.describe(config.mqtt)
    pub = Publisher(config, db)
    stop = _stop_on_signals()
    pub.start()
    try:
        if not args.once:
            last = None
            while not stop.wait(1.0):
                st = pub.status()
                key = (st["online"], st["pending"], st["confirmed_seq"], st["last_error"])
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
                print(f"all events confirmed by central (via {where}): seq {st['confirmed_seq']}, pending 0")
                return 0
            if not pub.running:
                break
        st = pub.status()
        if st["connected_at"] is None:
            print(f"cannot reach the MQTT broker at {where} within {args.timeout:g} s: "
                  f"{st['last_error'] or 'no answer'}; {st['pending']} events stay queued",
                  file=sys.stderr)
            return EXIT_UNREACHABLE
        print(f"{st['pending']} events not confirmed by central within {args.timeout:g} s "
              f"(confirmed up to seq {st['confirmed_seq']}, sent to {where} up to seq {st['sent_seq']}): "
              f"{st['last_error'] or 'central has not confirmed them yet (is central running?)'}",
              file=sys.stderr)
        return EXIT_UNACKED
    finally:
        pub.stop()


def status_main(args) -> int:
    from ..wire.journal import Journal
    from ..wire import mqtt as session

    config = load(args.config)
    db = _journal_path(args, config)
    if not db.exists():
        print(f"no journal at {db}", file=sys.stderr)
        return 2
    journal = Journal(db, config.kiosk.site, config.kiosk.id)
    try:
        box = journal.outbox()
        age = None
        if box["oldest_unconfirmed_ts"]:
            import datetime as dt

            oldest = dt.datetime.fromisoformat(box["oldest_unconfirmed_ts"].replace("Z", "+00:00"))
            age = round((dt.datetime.now(dt.timezone.utc) - oldest).total_seconds(), 1)
        doc = {
            "site": journal.site, "kiosk": journal.kiosk, "journal": str(db),
            "journal_id": box["journal_id"], "journal_start": box["journal_start"],
            "last_seq": box["last_seq"],
            "confirmed_by_central": box["confirmed_seq"],
            "sent": box["sent_seq"], "last_sent_at": box["last_sent_at"],
            "pending": box["pending"],
            "oldest_unconfirmed_seq": box["oldest_unconfirmed_seq"],
            "oldest_unconfirmed_ts": box["oldest_unconfirmed_ts"],
            "oldest_unconfirmed_age_s": age,
            "broker": session.describe(config.mqtt) if config.mqtt.enabled else None,
        }
        if box["pending"] and box["sent_seq"] > box["confirmed_seq"]:
            doc["why"] = ("sent to the broker but not confirmed by central: central is down or "
                          "behind, or (MQTT v3.1.1) the broker's ACL dropped the events silently")
    finally:
        journal.close()
    print(json.dumps(doc, indent=2))
    return 0


def bench_main(args) -> int:
    try:
        from kiosk_dev import sync_bench
    except ImportError:
        print("kiosk bench-sync runs from a source checkout (kiosk_dev/ is not installed here)",
              file=sys.stderr)
        return 2
    sync_bench.run(args)
    return 0
