"""The delivery worker: `run_once` (one pass: clock alerts, derive, send what is due) and `run`
(the loop `kiosk central` runs in a thread until its stop event is set).

Targets never wait on each other: each target is a lane (a notification target by its id,
billing's file, billing's POST, the follow-up workbook) with its own thread, its own backoff and a
bound on each send (`DeliveryConfig.send_limit_s`, past which the send is given up as failed even
if the target accepted the connection and never answers). A lane sends its due rows oldest first;
after a failure it pauses (the row's backoff, doubling up to `backoff_max_s`, holds the lane's
other rows too) while every other lane goes on. Sends
happen outside any transaction, on the worker's own connections, so no lane holds up central's
ingest. Several workers (one per central process) may run on one database: see `outbox`.

The log says a lane's trouble once per state change (failing, then working again), not at every
retry; a failing pass is logged once per distinct error, with its traceback only the first time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path
from typing import Callable

from ..db import Database
from ..heartbeat import DELIVERY, Heartbeat
from . import clock, outbox, send
from .config import DeliveryConfig, read

log = logging.getLogger(__name__)
LEASE_FACTOR = 3  # a claim lasts this many send timeouts (plus 5 s)
MAX_SENDS = 1000  # sends per lane and pass at most (the next pass goes on)
STOP_WAIT_S = 3.0  # at stop, how long the loop waits for the lanes' sends under way


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


class _LaneLog:
    """What the log last said of each lane (per process): it speaks again only on a change."""

    def __init__(self):
        self._lock = threading.Lock()
        self._failing: dict[tuple[str, str], str] = {}  # (lane, its label) -> the error said
        self._gone: set[str] = set()  # lanes said to be missing from the config

    def failed(self, lane: str, label: str, error: str, attempts: int) -> None:
        with self._lock:
            if (lane, label) in self._failing:
                return
            self._failing[(lane, label)] = error
        log.warning("delivery to %s failing: %s (attempt %d); retrying with backoff, logged again when it works",
                    label, error, attempts)

    def worked(self, lane: str, label: str) -> None:
        with self._lock:
            if self._failing.pop((lane, label), None) is None:
                return
        log.info("delivery to %s works again", label)


    def gone(self, lane: str) -> None:
        with self._lock:
            if lane in self._gone:
                return
            self._gone.add(lane)
        log.warning("deliveries to %s wait: that target is no longer in the config; correct the config "
                    "(a target keeps its deliveries by its name) or release them on /leveranser", lane)


LANE_LOG = _LaneLog()


class Lane:
    """One target's lane: its own thread, and the send it gave up on (if that send still runs, the
    lane waits for it rather than stacking threads on a dead target). Its pause after a failure
    is in the database (`outbox.mark_failed`)."""

    def __init__(self, name: str):
        self.name = name
        self.thread: threading.Thread | None = None
        self.hung: threading.Thread | None = None

    def busy(self) -> bool:
        return any(t is not None and t.is_alive() for t in (self.thread, self.hung))


class Lanes:
    """The lanes of one worker. `start_due` starts a thread for each lane with work due that is
    not already sending or pausing; `join` waits for them (each send is bounded)."""

    def __init__(self, cfg: DeliveryConfig, database: Database, live: bool,
                 clock_now: Callable[[], dt.datetime] | None = None):
        self.cfg, self.database, self.live, self.clock_now = cfg, database, live, clock_now
        self.lanes: dict[str, Lane] = {}
        self._lock = threading.Lock()
        self.counts = {"delivered": 0, "failed": 0}
        self.closed = False  # set just before the worker closes the database under the lanes

    def close(self) -> None:
        """The database is about to close: a send still under way is neither marked nor logged as a
        failure (its claim lapses and the row is sent again, with the same key, after a restart)."""
        self.closed = True

    def start_due(self, now: dt.datetime) -> list[str]:
        known = self.cfg.lanes()  # a lane whose target left the config is not tried: /leveranser shows it
        started = []
        for name in outbox.due_lanes(self.database, now):
            if name not in known:
                LANE_LOG.gone(name)
                continue
            lane = self.lanes.setdefault(name, Lane(name))
            if lane.busy():
                continue
            lane.thread = threading.Thread(target=self._drain, args=(lane, now), name=f"delivery:{name}",
                                           daemon=True)
            lane.thread.start()
            started.append(name)
        return started

    def join(self, timeout: float | None = None) -> None:
        """Wait for the lanes' threads (each send is bounded; `timeout`: at most this long in all)."""
        end = None if timeout is None else time.monotonic() + timeout
        for lane in list(self.lanes.values()):
            if lane.thread is not None:
                lane.thread.join(None if end is None else max(0.0, end - time.monotonic()))

    def _at(self, now: dt.datetime) -> dt.datetime:
        return self.clock_now() if self.clock_now else (_utcnow() if self.live else now)

    def _drain(self, lane: Lane, now: dt.datetime) -> None:
        errors = _lane_errors(lane.name)
        try:
            for _ in range(MAX_SENDS):
                claimed = outbox.claim(self.database, _utcnow() if self.live else now,
                                       lease_s=LEASE_FACTOR * self.cfg.timeout_s + 5.0, limit=1, lane=lane.name)
                errors.worked()
                if not claimed or not self._send(lane, claimed[0], now):
                    return
        except Exception as exc:  # the database failed (the target's own failures are marked): next pass
            if self.closed:
                log.info("delivery lane %s: stopped during a send; its claim lapses and it is sent again", lane.name)
                return
            errors.failed(exc)

    def _send(self, lane: Lane, row: dict, now: dt.datetime) -> bool:
        """One row, within `send_limit_s`; marks it; True when the lane may go on."""
        result: dict = {}
        late = threading.Event()  # set when the lane gave up on this send

        def attempt() -> None:
            try:
                result["error"] = send.deliver(row, self.cfg, self.database, now)
            except Exception as exc:  # the adapter's own failure is this send's failure
                result["error"] = f"{type(exc).__name__}: {exc}"
            if late.is_set() and result["error"] is None and not self.closed:
                # the target answered after all: marked delivered, so it is not sent again
                try:
                    outbox.mark_delivered(self.database, row["n"], self._at(now))
                except Exception:  # the database closed meanwhile: the claim lapses, sent again (same key)
                    log.info("delivery lane %s: a late answer could not be marked", lane.name, exc_info=True)

        t = threading.Thread(target=attempt, name=f"send:{lane.name}", daemon=True)
        t.start()
        t.join(self.cfg.send_limit_s)
        if t.is_alive():
            late.set()
            lane.hung = t
            error: str | None = f"no answer within {self.cfg.send_limit_s:g} s"
        else:
            error = result.get("error")
        at = self._at(now)
        label = row["target_label"]
        if error is None:
            if outbox.mark_delivered(self.database, row["n"], at):
                with self._lock:
                    self.counts["delivered"] += 1
                log.info("delivered %s %s to %s (attempt %d)", row["channel"], row["cause"], label, row["attempts"] + 1)
            LANE_LOG.worked(lane.name, label)
            return True
        with self._lock:
            self.counts["failed"] += 1
        outbox.mark_failed(self.database, row["n"], at, error, self.cfg)  # the lane pauses with it
        LANE_LOG.failed(lane.name, label, error, row["attempts"] + 1)
        return False


def run_once(cfg: DeliveryConfig, db: str | Path | Database, now: dt.datetime | None = None,
             clock_now: Callable[[], dt.datetime] | None = None) -> dict:
    """One pass at `now` (default: the wall clock) on central's database (a Database, or a path
    or URL opened for this pass): every lane with work due sends side by side, and the pass
    returns when each has sent what was due or stopped at a failure. Returns counts: raised,
    made, delivered, failed."""
    live = now is None  # the wall clock: marks carry the time the target answered
    now = now or _utcnow()
    own = not isinstance(db, Database)
    database = outbox.connect(db)
    try:
        if own:
            outbox.ensure_schema(database)
        outbox.adopt(database, cfg)
        raised, made = _prepare(cfg, database, now)
        lanes = Lanes(cfg, database, live, clock_now)
        lanes.start_due(now)
        lanes.join()
        return {"raised": len(raised), "made": made, **lanes.counts}
    finally:
        if own:
            database.close()


def _prepare(cfg: DeliveryConfig, database: Database, now: dt.datetime) -> tuple[list, int]:
    raised = clock.raise_due(database, now, cfg.rules) if cfg.clock_enabled else []
    return raised, outbox.derive(database, cfg, now)


class _ErrorLog:
    """A failure that repeats (a full disk, a lost database) is logged once per distinct error,
    with its traceback the first time, and once when it works again: not every `interval_s`."""

    def __init__(self, what: str):
        self.what = what
        self.last: str | None = None
        self.repeats = 0
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        with self._lock:
            if text == self.last:
                self.repeats += 1
                return
            self.last, self.repeats = text, 0
        log.error("%s failed; retried, logged again when it changes", self.what, exc_info=exc)

    def worked(self) -> None:
        with self._lock:
            if self.last is None:
                return
            repeats, self.last, self.repeats = self.repeats, None, 0
        log.info("%s works again (after %d more failure(s))", self.what, repeats)


_LANE_ERRORS: dict[str, _ErrorLog] = {}
_LANE_ERRORS_LOCK = threading.Lock()


def _lane_errors(lane: str) -> _ErrorLog:
    with _LANE_ERRORS_LOCK:
        return _LANE_ERRORS.setdefault(lane, _ErrorLog(f"delivery lane {lane}"))


def run(config, db_path: str | Path, stop_event: threading.Event) -> None:
    """The worker loop for the central process: a pass every `delivery.interval_s` until
    `stop_event` is set; each pass raises clock alerts, derives, and starts the lanes with work
    due (not waiting for them: a slow lane delays no pass). A failing pass is retried; it never
    stops central."""
    cfg = config if isinstance(config, DeliveryConfig) else read(config)
    install_log_filter(cfg)
    if cfg.targets:
        import apprise  # noqa: F401  (loading its plugins takes a second: not on the first alert)
    database = outbox.connect(db_path)
    beat = Heartbeat(DELIVERY)
    ready = False
    lanes = Lanes(cfg, database, live=True)
    passes = _ErrorLog("delivery worker: a pass")
    log.info("delivery worker: %d notification target(s), billing %s, follow-up %s", len(cfg.targets),
             "on" if (cfg.billing_dir or cfg.billing_url) else "off", "on" if cfg.followup_dir else "off")
    try:
        while not stop_event.is_set():
            try:
                if not ready:
                    outbox.ensure_schema(database)
                    outbox.adopt(database, cfg)
                    ready = True
                now = _utcnow()
                _prepare(cfg, database, now)
                lanes.start_due(now)
                passes.worked()
                beat.beat(database)  # a pass done: /readyz of the web app
            except Exception as exc:
                passes.failed(exc)
            stop_event.wait(cfg.interval_s)
    finally:
        # a send under way finishes and is marked before the database closes; one that hangs is
        # not waited for long (its claim lapses and it is sent again, same key, after a restart)
        lanes.join(STOP_WAIT_S)
        lanes.close()
        if database is not db_path:
            database.close()
