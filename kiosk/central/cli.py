"""`kiosk central [--db FILE] [--gaps]` and `kiosk central import JOURNAL.db [--db FILE]`."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

IMPORT_BATCH = 500


def import_journal(store, journal_path: Path) -> dict:
    """Load a kiosk's journal file through the same validation and dedupe as MQTT (idempotent:
    a second import stores nothing new). Returns the counts."""
    import collections

    from ..journal import Journal
    from ..sync import topics

    journal = Journal.open_existing(journal_path)
    counts: collections.Counter = collections.Counter()
    try:
        t = topics.topic(journal.site, journal.kiosk, "events")
        rows = journal.db.execute("select payload from events order by seq").fetchall()
        for i in range(0, len(rows), IMPORT_BATCH):
            counts.update(store.ingest([(t, r[0].encode("utf-8")) for r in rows[i:i + IMPORT_BATCH]]))
        with store._lock:
            store.conn.execute("BEGIN IMMEDIATE")
            try:
                store._set_start(journal.site, journal.kiosk, journal.journal_id, journal.journal_start,
                                 journal.last_seq, store_now())
                store.conn.execute("COMMIT")
            except BaseException:
                store.conn.execute("ROLLBACK")
                raise
        out = {"journal": str(journal_path), "site": journal.site, "kiosk": journal.kiosk,
               "journal_id": journal.journal_id, "events": len(rows)}
    finally:
        journal.close()
    out.update({k: counts.get(k, 0) for k in ("stored", "duplicate", "dead")})
    return out


def store_now() -> str:
    from .store import _now

    return _now()


def main(args) -> int:
    from ..config import load
    from .store import CentralStore, gaps_report

    config = load(args.config)
    db = Path(args.db) if args.db else config.data_path(config.central.db)
    if getattr(args, "action", None) == "import":
        if not args.journal:
            print("usage: kiosk central import JOURNAL.db [--db CENTRAL]", file=sys.stderr)
            return 2
        try:
            store = CentralStore.from_config(config, db)
        except (OSError, sqlite3.Error) as exc:
            print(f"cannot open the central database {db}: {exc}", file=sys.stderr)
            return 2
        try:
            out = import_journal(store, Path(args.journal))
        except (FileNotFoundError, ValueError) as exc:
            print(f"cannot import {args.journal}: {exc}", file=sys.stderr)
            return 2
        finally:
            store.close()
        print(json.dumps(out, indent=2))
        return 0
    if args.gaps:
        if not db.exists():
            print(f"no central database at {db}", file=sys.stderr)
            return 2
        print(json.dumps(gaps_report(db), indent=2, ensure_ascii=False))
        return 0
    from .collector import Central

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        CentralStore.from_config(config, db).close()  # fail early and clearly on a bad path
    except (OSError, sqlite3.Error) as exc:
        print(f"cannot open the central database {db}: {exc}", file=sys.stderr)
        return 2
    central = Central(config, db)
    log.info("central: storing into %s", db)
    central.run(stop)
    log.info("central: stopped; %s", dict(central.stats))
    return 0
