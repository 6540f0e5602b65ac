"""`kiosk central [--db FILE|URL] [--gaps]`, `kiosk central import JOURNAL.db [--db FILE|URL]` and
`kiosk central migrate --to postgresql://... [--db central.db]`."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

IMPORT_BATCH = 500


def import_journal(store, journal_path: Path) -> dict:
    """Load a kiosk's journal file through the same validation and dedupe as MQTT (idempotent:
    a second import stores nothing new). Returns the counts."""
    import collections

    from ..wire.journal import Journal
    from ..wire import topics

    journal = Journal.open_existing(journal_path)
    counts: collections.Counter = collections.Counter()
    try:
        t = topics.topic(journal.site, journal.kiosk, "events")
        rows = journal.db.execute("select payload from events order by seq").fetchall()
        for i in range(0, len(rows), IMPORT_BATCH):
            counts.update(store.ingest([(t, r[0].encode("utf-8")) for r in rows[i:i + IMPORT_BATCH]]))
        store.set_start(journal.site, journal.kiosk, journal.journal_id, journal.journal_start, journal.last_seq)
        out = {"journal": str(journal_path), "site": journal.site, "kiosk": journal.kiosk,
               "journal_id": journal.journal_id, "events": len(rows)}
    finally:
        journal.close()
    out.update({k: counts.get(k, 0) for k in ("stored", "duplicate", "dead")})
    return out


def main(args) -> int:
    from .delivery.config import load
    from .db import display_name, errors, is_url
    from .store import CentralStore, gaps_report

    config = load(args.config)
    db = config.db_target(args.db or None)
    name = display_name(db)
    if getattr(args, "action", None) == "migrate":
        from . import migrate

        return migrate.main(db, args.to)
    if getattr(args, "action", None) == "import":
        if not args.journal:
            print("usage: kiosk central import JOURNAL.db [--db CENTRAL]", file=sys.stderr)
            return 2
        try:
            store = CentralStore.from_config(config, db)
        except (OSError, *errors("operational")) as exc:
            print(f"cannot open the central database {name}: {exc}", file=sys.stderr)
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
        if not is_url(db) and not Path(db).exists():
            print(f"no central database at {name}", file=sys.stderr)
            return 2
        from .delivery import state as delivery_state

        report = gaps_report(db)
        from .shedding import shed_senders

        report["shed"] = shed_senders(db)  # senders central shed in a flood (kiosk/central/shedding.py)
        try:
            report["deliveries"] = delivery_state.summary(db)
            lines = delivery_state.summary_lines(db)
        except Exception as exc:  # the delivery room's own failure must not hide the store's report
            report["deliveries"] = None
            lines = [f"deliveries: cannot read them: {type(exc).__name__}: {exc}"]
        print(json.dumps(report, indent=2, ensure_ascii=False))
        for line in lines:
            print(line, file=sys.stderr)
        return 0
    from .collector import Central

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        CentralStore.from_config(config, db).close()  # fail early and clearly on a bad path
    except (OSError, *errors("operational")) as exc:
        print(f"cannot open the central database {name}: {exc}", file=sys.stderr)
        return 2
    central = Central(config, db)
    deliveries = start_delivery(config, db, stop)
    log.info("central: storing into %s", name)
    try:
        central.run(stop)
    finally:
        stop.set()
        if deliveries is not None:
            deliveries.join(10.0)
    log.info("central: stopped; %s", dict(central.stats))
    return 0


def start_delivery(config, db, stop: threading.Event) -> threading.Thread | None:
    """The delivery worker (kiosk/central/delivery/) in a thread until `stop` is set; its config
    decides whether any notification target, billing or follow-up folder exists. A bad delivery
    config is logged and leaves ingest running."""
    from ..core.config import ConfigError
    from .delivery import config as delivery_config
    from .delivery import worker

    try:
        cfg = delivery_config.read(config)
    except ConfigError as exc:
        log.error("central: delivery worker not started: %s", exc)
        return None
    # The outbox before ingest starts: created later (the worker imports Apprise first), its cursors
    # would start after alerts stored meanwhile, and those would never be notified.
    from .delivery import outbox

    try:
        conn = outbox.connect(db)
        try:
            outbox.ensure_schema(conn)
        finally:
            conn.close()
    except Exception as exc:  # the delivery room's failure leaves ingest running, as a bad config does
        log.error("central: delivery worker not started: %s: %s", type(exc).__name__, exc)
        return None
    t = threading.Thread(target=worker.run, args=(cfg, db, stop), name="delivery", daemon=True)
    t.start()
    return t
