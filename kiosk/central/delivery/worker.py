"""The delivery worker: `run_once` (one pass: clock alerts, derive, send what is due) and `run`
(the loop `kiosk central` runs in a thread until its stop event is set).

Sends happen outside any transaction with a timeout each, on the worker's own connections: a
slow or dead target holds up only the deliveries queued behind it, never central's ingest.
Several workers (one per central process) may run on one database: see `outbox`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Callable

from ..db import Database
from ..heartbeat import DELIVERY, Heartbeat
from . import clock, outbox, send
from .config import DeliveryConfig, read

log = logging.getLogger(__name__)
LEASE_FACTOR = 3  # a claim lasts this many send timeouts (plus 5 s)
MAX_SENDS = 1000  # sends per pass at most (the next pass goes on)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def install_log_filter(cfg: DeliveryConfig) -> None:
    """Scrub the targets' secrets from Apprise's and our own log lines."""
    urls = [t.url for t in cfg.targets] + ([cfg.billing_url] if cfg.billing_url else [])
    # logger filters act only where a record is made, so every logger that may see a URL is named
    names = ("apprise", "urllib3", "urllib3.connectionpool", "urllib3.util.retry", "requests",
             __name__, __name__.rsplit(".", 1)[0] + ".clock", __name__.rsplit(".", 1)[0] + ".send")
    for name in names:
        lg = logging.getLogger(name)
        for f in list(lg.filters):
            if isinstance(f, send.ScrubFilter):
                lg.removeFilter(f)
        lg.addFilter(send.ScrubFilter(urls))


def run_once(cfg: DeliveryConfig, db: str | Path | Database, now: dt.datetime | None = None,
             clock_now: Callable[[], dt.datetime] | None = None) -> dict:
    """One pass at `now` (default: the wall clock) on central's database (a Database, or a path
    or URL opened for this pass). Returns counts: raised, made, delivered, failed."""
    live = now is None  # the wall clock: marks carry the time the target answered
    now = now or _utcnow()
    own = not isinstance(db, Database)
    database = outbox.connect(db)
    try:
        if own:
            outbox.ensure_schema(database)
        raised = clock.raise_due(database, now, cfg.rules) if cfg.clock_enabled else []
        made = outbox.derive(database, cfg, now)
        delivered = failed = 0
        for _ in range(MAX_SENDS):
            # one row claimed at a time, so no claim lapses while it waits behind slow sends
            claimed = outbox.claim(database, _utcnow() if live else now,
                                   lease_s=LEASE_FACTOR * cfg.timeout_s + 5.0, limit=1)
            if not claimed:
                break
            row = claimed[0]
            error = send.deliver(row, cfg, database, now)
            at = clock_now() if clock_now else (_utcnow() if live else now)
            if error is None:
                if outbox.mark_delivered(database, row["n"], at):
                    delivered += 1
                    log.info("delivered %s %s to %s (attempt %d)", row["channel"], row["cause"],
                             row["target_label"], row["attempts"] + 1)
            else:
                failed += 1
                outbox.mark_failed(database, row["n"], at, error, cfg)
                log.warning("delivery of %s %s to %s failed (attempt %d): %s", row["channel"], row["cause"],
                            row["target_label"], row["attempts"] + 1, error)
        return {"raised": len(raised), "made": made, "delivered": delivered, "failed": failed}
    finally:
        if own:
            database.close()


def run(config, db_path: str | Path, stop_event: threading.Event) -> None:
    """The worker loop for the central process: a pass every `delivery.interval_s` until
    `stop_event` is set. A failing pass is logged and retried; it never stops central."""
    cfg = config if isinstance(config, DeliveryConfig) else read(config)
    install_log_filter(cfg)
    if cfg.targets:
        import apprise  # noqa: F401  (loading its plugins takes a second: not on the first alert)
    database = outbox.connect(db_path)
    beat = Heartbeat(DELIVERY)
    ready = False
    log.info("delivery worker: %d notification target(s), billing %s, follow-up %s", len(cfg.targets),
             "on" if (cfg.billing_dir or cfg.billing_url) else "off", "on" if cfg.followup_dir else "off")
    try:
        while not stop_event.is_set():
            try:
                if not ready:
                    outbox.ensure_schema(database)
                    ready = True
                run_once(cfg, database)
                beat.beat(database)  # a pass done: /readyz of the web app
            except Exception:
                log.exception("delivery worker: pass failed; retrying")
            stop_event.wait(cfg.interval_s)
    finally:
        if database is not db_path:
            database.close()
