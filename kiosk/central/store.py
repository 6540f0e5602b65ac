"""Central's store: every kiosk's events once, per kiosk journal (DESIGN.md §5).

`CentralStore` is one `kiosk.central.db.Database`: a SQLite file (WAL, synchronous=FULL) or a
PostgreSQL database that several central processes write at once. Its schema is the migrations
of room "store" (`MIGRATIONS`). Tables others read (contract):
- `events(id, site, kiosk, journal, seq, ts, day, type, operator, payload, topic, received_at)`:
  every valid event once. Keyed by `id` and by (site, kiosk, journal, seq). A redelivery (same id,
  same content) is a duplicate and dropped; the same id with other content is dead-lettered, never
  taken as a redelivery; a used (site, kiosk, journal, seq) under another id is dead-lettered.
  An event re-stamped by its kiosk into a new journal id (same id, type, data, ts: see
  `Journal.rotate_journal_id`) is a duplicate of the stored one and counts as received for the
  new journal (`event_aliases`).
- `journals(site, kiosk, journal, n, start_seq, acked_seq, max_seq, events, kiosk_last_seq, ...)`:
  per kiosk journal the seq up to which every event is stored (`acked_seq`, what the end-to-end
  ack says), its first seq (`start_seq`, 1 unless the kiosk's status says otherwise), and the
  journal's own last seq from the kiosk's status (so a missing tail is reported). `acked_seq` is
  computed inside the ingest transaction from the database (the journal's row locked on
  PostgreSQL), never from what one process remembers: another process may have stored the hole.
- `dead_letters(n, received_at, topic, site, kiosk, reason, size, payload)`: anything malformed or
  rejected, with a cap (`central.dead_letters_max` rows) and a retention
  (`central.dead_letters_keep_days`); payloads are cut to `central.dead_letter_bytes`. Counts
  survive pruning (`kiosks.dead_letters`, `central_meta.dead_letters_total`).
- `kiosks(site, kiosk, max_seq, events, ..., status, status_at, online)`, `alerts(..., day)`.
- `summary_dirty(site, kiosk, day, n)`: the days whose events or alerts changed, written in the
  same transaction; `summaries.refresh` folds and removes them.

`ingest(messages)` takes a batch and commits it in one transaction (one fsync). It never raises
for bad input: a message that fails for any reason but a storage failure (a lone surrogate, a NUL
that PostgreSQL refuses in text) is dead-lettered on its own (a savepoint per message, only after
the fast batch path failed) and the rest of the batch is stored. Only a storage failure
(`db.is_storage_failure`: disk full, I/O, connection lost) raises, and then nothing of the batch
is kept (the collector does not acknowledge it; the broker redelivers).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..core.clock import TZ, parse_iso, utc_iso
from ..wire import topics
from ..wire.validate import ID_RE, UUID_RE, Invalid, check_alert, check_event, check_status, parse_json
from . import db as dbm

log = logging.getLogger(__name__)

NO_JOURNAL = ""  # events from kiosks older than journal ids
ACK_JOURNALS = 16  # journals per kiosk named in its ack (the most recent ones)
CONTENT_KEYS = ("v", "id", "kiosk", "site", "ts", "day", "operator", "type", "data")
WALK = 2000  # seqs read per step when the ack moves


def _now() -> str:
    return utc_iso(dt.datetime.now(dt.timezone.utc))


@functools.lru_cache(maxsize=16)
def _clock(now: str) -> dt.datetime:
    """A batch's receive time as a datetime (one parse for the whole batch)."""
    return parse_iso(now)


def alert_day(payload_day: object, ts: object) -> str:
    """The local day an alert belongs to: the one it names, else its time's; '' when neither."""
    if isinstance(payload_day, str) and payload_day:
        return payload_day
    try:
        return parse_iso(ts).astimezone(TZ).date().isoformat()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


# -- schema (room "store") ------------------------------------------------------------------------

# version 1 of room "store", frozen: never edited once merged (tests/test_migrations.py); a change is a new step
_TABLES = """
create table if not exists events (id TEXT PRIMARY KEY, site TEXT NOT NULL, kiosk TEXT NOT NULL,
  journal TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL, ts TEXT NOT NULL, day TEXT NOT NULL,
  type TEXT NOT NULL, operator TEXT, payload TEXT NOT NULL, topic TEXT, received_at TEXT);
create table if not exists journals (site TEXT, kiosk TEXT, journal TEXT, n INTEGER,
  start_seq INTEGER DEFAULT 1, acked_seq INTEGER DEFAULT 0, max_seq INTEGER DEFAULT 0,
  events INTEGER DEFAULT 0, kiosk_last_seq INTEGER, first_at TEXT, last_at TEXT,
  PRIMARY KEY (site, kiosk, journal));
create table if not exists event_aliases (site TEXT, kiosk TEXT, journal TEXT, seq INTEGER, id TEXT,
  PRIMARY KEY (site, kiosk, journal, seq));
create table if not exists dead_letters (n INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT,
  topic TEXT, site TEXT, kiosk TEXT, reason TEXT, size INTEGER, payload BLOB);
create table if not exists kiosks (site TEXT, kiosk TEXT, max_seq INTEGER DEFAULT 0,
  events INTEGER DEFAULT 0, last_event_at TEXT, online INTEGER, status_pending INTEGER,
  status_last_seq INTEGER, status TEXT, status_at TEXT, journal TEXT,
  dead_letters INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (site, kiosk));
create table if not exists alerts (id TEXT PRIMARY KEY, site TEXT, kiosk TEXT, kind TEXT, text TEXT,
  ts TEXT, seq INTEGER, payload TEXT, received_at TEXT, day TEXT);
create table if not exists central_meta (key TEXT PRIMARY KEY, value TEXT)
"""

_INDEXES = """
create unique index if not exists idx_events_site_kiosk_journal_seq on events(site, kiosk, journal, seq);
create index if not exists idx_events_day_site_kiosk on events(day, site, kiosk);
create index if not exists idx_dead_letters_received_at on dead_letters(received_at);
create index if not exists alerts_where on alerts(site, kiosk, day)
"""


def _legacy_columns(conn: dbm.Conn) -> None:
    """A central.db from before migrations (sqlite-utils' schema, any of its versions): add the
    columns later versions added, then the indexes (the journal seq index needs `journal`)."""
    if "journal" not in conn.columns("events"):  # from before journal ids
        conn.execute(f"alter table events add column journal text not null default '{NO_JOURNAL}'")
        conn.execute("drop index if exists idx_events_site_kiosk_seq")
    if "site" not in conn.columns("dead_letters"):
        conn.execute("alter table dead_letters add column site text")
        conn.execute("alter table dead_letters add column kiosk text")
    cols = conn.columns("kiosks")
    if "journal" not in cols:
        conn.execute("alter table kiosks add column journal text")
    if "dead_letters" not in cols:
        conn.execute("alter table kiosks add column dead_letters integer not null default 0")
    if "day" not in conn.columns("alerts"):
        conn.execute("alter table alerts add column day text")
    for aid, ts, payload in conn.query("select id, ts, payload from alerts where day is null"):
        try:
            named = json.loads(payload).get("day")
        except (TypeError, ValueError, AttributeError):
            named = None
        conn.execute("update alerts set day = ? where id = ?", (alert_day(named, ts), aid))
    conn.script(_INDEXES)


def _dirty_table(conn: dbm.Conn) -> None:
    """The days the summaries fold next; every day already stored is one (a central.db from before
    this table was folded by a cursor over rowid, which PostgreSQL has no equivalent of)."""
    conn.script("create table if not exists summary_dirty (site TEXT NOT NULL, kiosk TEXT NOT NULL, "
                "day TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (site, kiosk, day))")
    conn.execute("insert into summary_dirty(site, kiosk, day) select distinct site, kiosk, day from events "
                 "where true on conflict (site, kiosk, day) do nothing")
    conn.execute("insert into summary_dirty(site, kiosk, day) select distinct site, kiosk, day from alerts "
                 "where site is not null and kiosk is not null and day is not null "
                 "on conflict (site, kiosk, day) do nothing")


def _alert_days(conn: dbm.Conn) -> None:
    """Every alert has its local day and can be withdrawn with a note: central's own clock alerts
    were stored without a day (so the web app never showed them); their day is filled from the
    day their payload names, else their time's, and those days are folded again."""
    cols = conn.columns("alerts")
    for col in ("withdrawn_at", "note"):
        if col not in cols:
            conn.execute(f"alter table alerts add column {col} text")
    days = set()
    for aid, site, kiosk, ts, payload in conn.query(
            "select id, site, kiosk, ts, payload from alerts where day is null or day = ''"):
        try:
            named = json.loads(payload).get("day")
        except (TypeError, ValueError, AttributeError):
            named = None
        day = alert_day(named, ts)
        conn.execute("update alerts set day = ? where id = ?", (day or None, aid))
        if day and site and kiosk:
            days.add((site, kiosk, day))
    if days:
        conn.executemany("insert into summary_dirty(site, kiosk, day, n) values (?,?,?,1) on conflict "
                         "(site, kiosk, day) do update set n = summary_dirty.n + 1", sorted(days))


MIGRATIONS = [
    dbm.Step(1, "central store: events, journals, aliases, dead letters, kiosks, alerts, meta",
             sql=_TABLES, run=_legacy_columns),
    dbm.Step(2, "summary_dirty: the days the summaries fold next", run=_dirty_table),
    dbm.Step(3, "alerts: every alert has its day; withdrawn_at and note of a withdrawn clock alert",
             run=_alert_days),
]


def ensure_schema(target: dbm.Database | dbm.Conn) -> list[int]:
    """The store's tables on `target` (migrations of room "store"); versions applied now. A
    database made here (nothing of the store before) gets every other room of central at once
    (`rooms.ensure_all`, registered in ON_NEW_DATABASE), so whatever command creates it, no room
    starts after rows it should see."""
    with dbm.using(target) as conn:
        fresh = "events" not in conn.table_names()  # not an older central's file taken over
    new = dbm.migrate(target, "store", MIGRATIONS)
    if fresh and 1 in new:
        for make_the_rest in ON_NEW_DATABASE:
            make_the_rest(target)
    return new


# What a database made by `ensure_schema` gets next: `kiosk.central` (the package) registers
# `rooms.ensure_all` here when it is imported, before any of its modules runs, so a new central has
# every room at once while the store imports none of the rooms that import it.
ON_NEW_DATABASE: list[Callable[[Any], object]] = []


# -- the store --------------------------------------------------------------------------------------


class CentralStore:
    def __init__(self, path: str | Path, *, dead_letters_max: int = 10000,
                 dead_letters_keep_days: int = 30, dead_letter_bytes: int = 4096,
                 dead_letters_per_kiosk_minute: int = 600, database: dbm.Database | None = None):
        self.target = str(path)
        self.path = Path(path) if not dbm.is_url(path) else None
        self.db = database or dbm.open_database(self.target)
        self.pg = self.db.engine == dbm.POSTGRESQL
        self._greatest = "greatest" if self.pg else "max"
        self.dead_letters_max = dead_letters_max
        self.dead_letters_keep_days = dead_letters_keep_days
        self.dead_letter_bytes = dead_letter_bytes
        self.dead_per_minute = dead_letters_per_kiosk_minute
        self._lock = threading.RLock()
        self._c: dbm.Conn | None = None  # the connection of the transaction in progress
        self._own_conn: dbm.Conn | None = None
        ensure_schema(self.db)
        # a hint for logs (the kiosks seen by this process), never taken as the database's truth
        self.max_seq: dict[tuple[str, str], int] = {
            (r[0], r[1]): r[2] or 0 for r in self.db.query("select site, kiosk, max_seq from kiosks")}
        self._changed: set[tuple[str, str]] = set()
        self._dead_window: dict[tuple[str, str], list] = {}
        self._dead_counts: dict = {}
        self._last_prune = 0.0

    @classmethod
    def from_config(cls, config, path: str | Path | None = None) -> "CentralStore":
        c = config.central
        return cls(path or config.data_path(c.db), dead_letters_max=c.dead_letters_max,
                   dead_letters_keep_days=c.dead_letters_keep_days,
                   dead_letter_bytes=c.dead_letter_bytes,
                   dead_letters_per_kiosk_minute=c.dead_letters_per_kiosk_minute)

    @property
    def name(self) -> str:
        return self.db.name

    @property
    def conn(self):
        """A connection for reading (tests, reports): SQLite's own connection of this thread, or a
        dedicated PostgreSQL connection in autocommit. Both: `.execute(sql, params)` with `?`."""
        if isinstance(self.db, dbm.SqliteDatabase):
            return self.db._raw()
        if self._own_conn is None:
            self._own_conn = dbm.open_conn(self.target)
        return self._own_conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dbm.Conn]:
        """One write transaction of this store (its lock held): `self._c` inside."""
        with self._lock:
            if self._c is not None:
                yield self._c
                return
            with self.db.transaction() as c:
                self._c = c
                try:
                    yield c
                finally:
                    self._c = None

    @property
    def c(self) -> dbm.Conn:
        assert self._c is not None, "outside a store transaction"
        return self._c

    # -- journals and acks ---------------------------------------------------------------------
    def _seqs_above(self, key: tuple[str, str, str], above: int, limit: int | None = None) -> list[int]:
        sql = ("select seq from events where site=? and kiosk=? and journal=? and seq > ? "
               "union select seq from event_aliases where site=? and kiosk=? and journal=? and seq > ? order by 1")
        args: list = [*key, above, *key, above]
        if limit is not None:
            sql += " limit ?"
            args.append(limit)
        return [r[0] for r in self.c.query(sql, args)]

    def _walk(self, key: tuple[str, str, str], acked: int, first: int = WALK) -> int:
        """The highest seq up to which every seq after `acked` is stored (from the database: another
        process may have filled a hole this one never saw). Reads `first` seqs, then WALK at a time."""
        step = first
        while True:
            seqs = self._seqs_above(key, acked, step)
            for s in seqs:
                if s != acked + 1:
                    return acked
                acked = s
            if len(seqs) < step:
                return acked
            step = WALK

    def _lock_journal(self, key: tuple[str, str, str], now: str) -> tuple[int, int]:
        """The journal's row, created if new, locked until the commit: (start_seq, acked_seq)."""
        row = self.c.query_one("select start_seq, acked_seq from journals where site=? and kiosk=? and journal=?"
                               + (" for update" if self.pg else ""), key)
        if row is None:
            self.c.execute(
                "insert into journals(site, kiosk, journal, n, start_seq, acked_seq, max_seq, events, first_at, "
                "last_at) values (?,?,?,(select coalesce(max(n), 0) + 1 from journals),1,0,0,0,?,?) "
                "on conflict (site, kiosk, journal) do nothing", [*key, now, now])
            row = self.c.query_one("select start_seq, acked_seq from journals where site=? and kiosk=? and journal=?"
                                   + (" for update" if self.pg else ""), key)
        assert row is not None
        start = row[0] or 1
        return start, max(row[1] or 0, start - 1)

    def _touch_journal(self, key: tuple[str, str, str], seqs: list[int], new: int, now: str) -> str | None:
        start, acked = self._lock_journal(key, now)
        before = acked
        acked = self._walk(key, acked, len(seqs) + 64)  # always: the hole may be filled by another process
        gap = None
        low = min(seqs)
        if acked < low - 1:
            prev = acked
            for table in ("events", "event_aliases"):  # each max() one index lookup
                row = self.c.query_one(f"select max(seq) from {table} where site=? and kiosk=? and journal=? "
                                       "and seq < ?", [*key, low])
                prev = max(prev, (row[0] if row else None) or 0)
            if low > prev + 1:
                gap = f"gap: {key[0]}/{key[1]} journal {key[2] or '-'} seq {prev + 1}..{low - 1} not (yet) received"
        self.c.execute(
            f"update journals set acked_seq = ?, max_seq = {self._greatest}(coalesce(max_seq, 0), ?), "
            "events = coalesce(events, 0) + ?, last_at = ? where site=? and kiosk=? and journal=?",
            [acked, max(seqs), new, now, *key])
        if acked != before or new:
            self._changed.add((key[0], key[1]))
        return gap

    def _set_start(self, site: str, kiosk: str, jid: str, start: int, last_seq: int | None, now: str) -> None:
        """From a kiosk's status: where its current journal id starts and how far it goes."""
        key = (site, kiosk, jid)
        row = self.c.query_one("select start_seq, kiosk_last_seq from journals where site=? and kiosk=? and journal=?"
                               + (" for update" if self.pg else ""), key)
        if row is None:
            cur = self.c.execute(
                "insert into journals(site, kiosk, journal, n, start_seq, acked_seq, max_seq, events, "
                "kiosk_last_seq, first_at, last_at) values (?,?,?,(select coalesce(max(n), 0) + 1 from journals),"
                "?,?,0,0,?,?,?) on conflict (site, kiosk, journal) do nothing",
                [site, kiosk, jid, start, start - 1, last_seq, now, now])
            if not cur.rowcount:  # another process made it meanwhile: as an existing journal
                return self._set_start(site, kiosk, jid, start, last_seq, now)
            self._changed.add((site, kiosk))
            return
        if row[0] != start:
            acked = self._walk(key, start - 1)
            self.c.execute("update journals set start_seq=?, acked_seq=? where site=? and kiosk=? and journal=?",
                           [start, acked, *key])
            self._changed.add((site, kiosk))
        if last_seq is not None and (row[1] or 0) < last_seq:
            self.c.execute("update journals set kiosk_last_seq=? where site=? and kiosk=? and journal=?",
                           [last_seq, *key])

    def set_start(self, site: str, kiosk: str, jid: str, start: int, last_seq: int | None) -> None:
        """`_set_start` in a transaction of its own (`kiosk central import`)."""
        with self.transaction():
            self._set_start(site, kiosk, jid, start, last_seq, _now())

    def changed_acks(self) -> list[tuple[str, str]]:
        """The kiosks whose ack moved since the last call (the collector publishes theirs)."""
        out, self._changed = sorted(self._changed), set()
        return out

    def ack(self, site: str, kiosk: str) -> dict:
        """The end-to-end ack document for one kiosk: per journal (the most recent ones) the
        first seq, the seq up to which every event is stored, and that event's id (so a kiosk
        whose journal was restored from a backup sees that central's event there is not its own).
        Read from the database: `acked_seq` is only ever written after the events it covers."""
        journals = {}
        with self.db.connection() as c:
            for jid, start, acked in c.query(
                    "select journal, start_seq, acked_seq from journals where site=? and kiosk=? and journal != ? "
                    "order by n desc limit ?", [site, kiosk, NO_JOURNAL, ACK_JOURNALS]):
                start = start or 1
                acked = max(acked or 0, start - 1)
                eid = None
                if acked >= start:
                    row = c.query_one(
                        "select id from events where site=? and kiosk=? and journal=? and seq=? union all "
                        "select id from event_aliases where site=? and kiosk=? and journal=? and seq=? limit 1",
                        [site, kiosk, jid, acked, site, kiosk, jid, acked])
                    eid = row[0] if row else None
                journals[jid] = {"start": start, "upto": acked, "id": eid}
        return {"v": 1, "site": site, "kiosk": kiosk, "journals": journals, "ts": _now()}

    def all_kiosks(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.query("select distinct site, kiosk from journals order by site, kiosk")]

    # -- ingest --------------------------------------------------------------------------------
    def ingest(self, messages: Iterable[tuple[object, bytes]], received_at: str | None = None) -> collections.Counter:
        """Store a batch of (topic, payload) in one transaction. Counts: stored, duplicate,
        status, alert, dead. Raises only a storage failure (db.is_storage_failure), keeping nothing."""
        now = received_at or _now()
        batch = list(messages)
        with self._lock:
            for attempt in range(5):
                try:
                    try:
                        return self._ingest_locked(batch, now, isolate=False)
                    except _Isolate:
                        pass
                    # Something in the batch failed to store for a reason of its own: store each
                    # message alone (a savepoint each), dead-letter the failing ones, keep the rest.
                    return self._ingest_locked(batch, now, isolate=True)
                except Exception as exc:
                    if not (self.pg and _is_retryable(exc)) or attempt == 4:
                        raise
                    log.info("central: batch retried after %s", type(exc).__name__)
                    time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _ingest_locked(self, batch, now: str, isolate: bool) -> collections.Counter:
        counts: collections.Counter = collections.Counter()
        snapshot = (dict(self.max_seq), set(self._changed))
        try:
            with self.transaction() as c:
                if isolate:
                    gaps = []
                    for topic, payload in batch:
                        c.execute("SAVEPOINT one")
                        one: collections.Counter = collections.Counter()
                        dead_before = dict(self._dead_counts)
                        try:
                            gaps += self._batch([(topic, payload)], now, one)
                            c.execute("RELEASE SAVEPOINT one")
                        except Exception as exc:
                            if dbm.is_storage_failure(exc):
                                raise
                            c.execute("ROLLBACK TO SAVEPOINT one")
                            c.execute("RELEASE SAVEPOINT one")
                            self._dead_counts = dead_before
                            log.warning("central: a message failed to store (%s: %s); dead-lettered",
                                        type(exc).__name__, _safe(str(exc))[:200])
                            one = collections.Counter(dead=1)
                            self._dead(topic, payload, f"cannot store: {type(exc).__name__}: {_safe(str(exc))}"[:500],
                                       now)
                        counts.update(one)
                else:
                    try:
                        gaps = self._batch(batch, now, counts)
                    except Exception as exc:
                        if dbm.is_storage_failure(exc):
                            raise
                        raise _Isolate() from exc
                self._prune(now)
                self._count(counts)
        except BaseException:
            self.max_seq, self._changed = snapshot
            self._dead_counts = {}
            raise
        for text in gaps:
            log.warning("central: %s", text)
        return counts

    def _count(self, counts) -> None:
        """Cumulative counters in `central_meta` (received_stored, received_duplicate, ...) and the
        dead-letter counts, kept with the batch they count, so they survive restarts and kills."""
        dead, self._dead_counts = self._dead_counts, {}
        for key, n in sorted(((k, n) for k, n in dead.items() if k is not None)):
            self.c.execute(
                "insert into kiosks(site, kiosk, dead_letters) values (?,?,?) on conflict (site, kiosk) "
                "do update set dead_letters = kiosks.dead_letters + excluded.dead_letters", [key[0], key[1], n])
        adds = {f"received_{k}": counts[k] for k in ("dead", "duplicate", "stored", "status", "alert")
                if counts.get(k)}
        total = sum(dead.values())
        if total:
            adds["dead_letters_total"] = total
        for key in sorted(adds):  # one order in every process: no deadlock between them
            self.c.execute(
                "insert into central_meta(key, value) values (?, ?) on conflict (key) do update "
                "set value = cast(cast(central_meta.value as bigint) + cast(excluded.value as bigint) as text)",
                [key, str(adds[key])])

    def counters(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.db.query("select key, value from central_meta")}

    def _batch(self, batch, now: str, counts) -> list[str]:
        events: list[tuple[dict, str, bytes]] = []
        for topic, payload in batch:
            try:
                ev = self._one(topic, payload, now, counts)
                if ev is not None:
                    events.append((ev, topic, payload))
            except Invalid as exc:
                self._dead(topic, payload, str(exc), now)
                counts["dead"] += 1
        return self._store_events(events, now, counts) if events else []

    def _existing(self, ids: list[str]) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for row in self.c.query(
                    f"select id, site, kiosk, journal, seq, payload from events where id in ({','.join('?' * len(part))})",
                    part):
                found[row[0]] = row[1:]
        return found

    @staticmethod
    def _content(doc: dict) -> tuple:
        return tuple(json.dumps(doc.get(k), sort_keys=True, ensure_ascii=False) for k in CONTENT_KEYS)

    def _insert_events(self, fresh: list[tuple[dict, str, bytes]], now: str) -> set[str]:
        """Insert these events (in id order: concurrent writers lock in one order); the ids stored now."""
        fresh = sorted(fresh, key=lambda item: item[0]["id"])
        rows = [(ev["id"], ev["site"], ev["kiosk"], ev.get("journal") or NO_JOURNAL, ev["seq"], ev["ts"],
                 ev["day"], ev["type"], ev["operator"], bytes(payload).decode("utf-8"), topic, now)
                for ev, topic, payload in fresh]
        sql = ("insert into events(id, site, kiosk, journal, seq, ts, day, type, operator, payload, topic, "
               "received_at) values (?,?,?,?,?,?,?,?,?,?,?,?) on conflict do nothing")
        if self.pg:  # one statement for the batch: the columns as arrays (one round trip, not one a row)
            cols = [list(col) for col in zip(*rows)]
            return {r[0] for r in self.c.raw.execute(_PG_INSERT_EVENTS, cols).fetchall()}
        n = self.c.executemany(sql, rows)
        if n == len(rows):
            return {r[0] for r in rows}
        # SQLite's writer is alone (BEGIN IMMEDIATE): an id not there before is there now if stored
        stored = self._existing([r[0] for r in rows])
        return {r[0] for r in rows if r[0] in stored and stored[r[0]][2:4] == (r[3], r[4])
                and stored[r[0]][4] == r[9]}

    def _store_events(self, events: list[tuple[dict, str, bytes]], now: str, counts, again: bool = True) -> list[str]:
        """Insert the valid events of a batch. Same id: a redelivery (dropped), a re-stamp into
        a new journal (an alias), or other content (dead-lettered). A used (site, kiosk, journal,
        seq) under another id is dead-lettered. One executemany for the rest."""
        existing = self._existing([ev["id"] for ev, _, _ in events])
        fresh: list[tuple[dict, str, bytes]] = []
        seen: dict[str, dict] = {}
        aliases: list[tuple] = []
        for item in events:
            ev, topic, payload = item
            eid = ev["id"]
            jid = ev.get("journal") or NO_JOURNAL
            old = existing.get(eid)
            if old is not None:
                o_site, o_kiosk, o_journal, o_seq, o_payload = old
                same = (o_site, o_kiosk) == (ev["site"], ev["kiosk"]) and \
                    self._content(json.loads(o_payload)) == self._content(ev)
                if not same:
                    self._dead(topic, payload, f"id {eid} is already stored with other content", now)
                    counts["dead"] += 1
                elif (o_journal, o_seq) == (jid, ev["seq"]):
                    counts["duplicate"] += 1
                else:
                    aliases.append((ev["site"], ev["kiosk"], jid, ev["seq"], eid))
                    counts["duplicate"] += 1
                continue
            if eid in seen:
                if self._content(seen[eid]) == self._content(ev) and \
                        (seen[eid].get("journal"), seen[eid]["seq"]) == (ev.get("journal"), ev["seq"]):
                    counts["duplicate"] += 1
                else:
                    self._dead(topic, payload, f"id {eid} is already stored with other content", now)
                    counts["dead"] += 1
                continue
            seen[eid] = ev
            fresh.append(item)
        touched: dict[tuple[str, str, str], list[int]] = {}
        new_counts: collections.Counter = collections.Counter()
        for site, kiosk, jid, seq, eid in sorted(aliases):
            cur = self.c.execute(
                "insert into event_aliases(site, kiosk, journal, seq, id) values (?,?,?,?,?) on conflict do nothing",
                [site, kiosk, jid, seq, eid])
            if cur.rowcount:
                touched.setdefault((site, kiosk, jid), []).append(seq)
        gaps: list[str] = []
        if fresh:
            stored = self._insert_events(fresh, now)
            if len(stored) != len(fresh):
                left = [item for item in fresh if item[0]["id"] not in stored]
                fresh = [item for item in fresh if item[0]["id"] in stored]
                if again:  # another process stored some meanwhile: judged as redeliveries now
                    gaps += self._store_events(left, now, counts, again=False)
                else:
                    for ev, topic, payload in left:
                        self._dead(topic, payload, f"seq {ev['seq']} of {ev['site']}/{ev['kiosk']} journal "
                                   f"{ev.get('journal') or '-'} is already stored under another id", now)
                        counts["dead"] += 1
            counts["stored"] += len(fresh)
            per_kiosk: dict[tuple[str, str], list] = {}
            days: set[tuple[str, str, str]] = set()
            for ev, _, _ in fresh:
                key = (ev["site"], ev["kiosk"])
                jkey = (ev["site"], ev["kiosk"], ev.get("journal") or NO_JOURNAL)
                touched.setdefault(jkey, []).append(ev["seq"])
                new_counts[jkey] += 1
                days.add((ev["site"], ev["kiosk"], ev["day"]))
                entry = per_kiosk.setdefault(key, [0, 0])
                entry[0] += 1
                entry[1] = max(entry[1], ev["seq"])
            for (site, kiosk), (n, top) in sorted(per_kiosk.items()):
                self.c.execute(
                    "insert into kiosks(site, kiosk, max_seq, events, last_event_at) values (?,?,?,?,?) "
                    f"on conflict (site, kiosk) do update set max_seq = {self._greatest}(coalesce(kiosks.max_seq, 0), "
                    "excluded.max_seq), events = coalesce(kiosks.events, 0) + excluded.events, "
                    "last_event_at = excluded.last_event_at",
                    [site, kiosk, top, n, now])
                self.max_seq[(site, kiosk)] = max(self.max_seq.get((site, kiosk), 0), top)
            self._mark_dirty(days)
        for key in sorted(touched):
            gap = self._touch_journal(key, touched[key], new_counts[key], now)
            if gap:
                gaps.append(gap)
        return gaps

    def _mark_dirty(self, days: Iterable[tuple[str, str, str]]) -> None:
        for site, kiosk, day in sorted(days):
            self.c.execute("insert into summary_dirty(site, kiosk, day, n) values (?,?,?,1) on conflict "
                           "(site, kiosk, day) do update set n = summary_dirty.n + 1", [site, kiosk, day])

    def _one(self, topic, payload, now, counts) -> dict | None:
        """Check one message; a valid event is returned for the batch insert, a status or an
        alert is stored here. Raises Invalid for anything else."""
        if not isinstance(topic, str):
            raise Invalid("topic is not UTF-8")
        parsed = topics.parse_topic(topic)
        if parsed is None or parsed[2] not in topics.KINDS:
            raise Invalid("unexpected topic")
        site, kiosk, kind = parsed
        if not ID_RE.match(site) or not ID_RE.match(kiosk):
            raise Invalid("bad site or kiosk in the topic")
        doc = parse_json(payload)
        if kind == "events":
            return check_event(doc, site, kiosk, _clock(now))
        if kind == "status":
            st = check_status(doc, site, kiosk)
            self.c.execute(
                "insert into kiosks(site, kiosk, online, status_pending, status_last_seq, status, status_at, journal) "
                "values (?,?,?,?,?,?,?,?) on conflict (site, kiosk) do update set online = excluded.online, "
                "status_pending = excluded.status_pending, status_last_seq = excluded.status_last_seq, "
                "status = excluded.status, status_at = excluded.status_at, "
                "journal = coalesce(excluded.journal, kiosks.journal)",
                [site, kiosk, int(st["online"]), st["pending"], st["last_seq"],
                 json.dumps(st, ensure_ascii=False), now,
                 st.get("journal") if isinstance(st.get("journal"), str) else None])
            jid, start = st.get("journal"), st.get("journal_start", 1)
            if isinstance(jid, str) and UUID_RE.match(jid) and isinstance(start, int) \
                    and not isinstance(start, bool) and 1 <= start <= 2**53:
                self._set_start(site, kiosk, jid, start, st["last_seq"], now)
            counts["status"] += 1
            return None
        al = check_alert(doc, site, kiosk)
        seq = al.get("seq")
        ts = str(al.get("ts", ""))[:40]
        day = alert_day(al.get("day"), ts)
        cur = self.c.execute(
            "insert into alerts(id, site, kiosk, kind, text, ts, seq, payload, received_at, day) "
            "values (?,?,?,?,?,?,?,?,?,?) on conflict do nothing",
            [al["id"], site, kiosk, al["kind"], al["text"], ts,
             seq if isinstance(seq, int) and not isinstance(seq, bool) and abs(seq) < 2**63 else None,
             json.dumps(al, ensure_ascii=False), now, day])
        if cur.rowcount:
            log.warning("central: TL alert from %s/%s: %s: %s", site, kiosk, al["kind"], al["text"][:200])
            counts["alert"] += 1
            self._mark_dirty([(site, kiosk, day)])
        else:
            counts["duplicate_alert"] += 1
        return None

    # -- dead letters --------------------------------------------------------------------------
    def _dead(self, topic, payload, reason: str, now: str) -> None:
        raw = bytes(payload) if isinstance(payload, (bytes, bytearray)) else repr(payload).encode()
        name = _safe(topic) if isinstance(topic, str) else repr(topic)
        parsed = topics.parse_topic(topic) if isinstance(topic, str) else None
        site, kiosk = (parsed[0], parsed[1]) if parsed else (None, None)
        if site is not None and not (ID_RE.match(site) and ID_RE.match(kiosk)):
            site, kiosk = _safe(site), _safe(kiosk)
            key = None
        else:
            key = (site, kiosk) if site is not None else None
        # counted in memory, written once per batch (`_count`): a flood costs one row update
        self._dead_counts[key] = self._dead_counts.get(key, 0) + 1
        # A flood from one sender keeps only its first rows a minute (the counts above stay exact).
        window = self._dead_window.setdefault((site or "", kiosk or ""), [0.0, 0])
        t = time.monotonic()
        if t - window[0] > 60.0:
            window[0], window[1] = t, 0
        window[1] += 1
        if window[1] > self.dead_per_minute:
            return
        self.c.execute(
            "insert into dead_letters(received_at, topic, site, kiosk, reason, size, payload) values (?,?,?,?,?,?,?)",
            [now, name, site, kiosk, _safe(reason)[:500], len(raw), raw[:self.dead_letter_bytes]])

    def _prune(self, now: str, force: bool = False) -> None:
        """Dead letters: older than the retention, or beyond the cap, are deleted (now and then)."""
        t = time.monotonic()
        if not force and t - self._last_prune < 10.0:
            return
        self._last_prune = t
        cut = utc_iso(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=self.dead_letters_keep_days))
        self.c.execute("delete from dead_letters where received_at < ?", [cut])
        self.c.execute("delete from dead_letters where n <= (select max(n) from dead_letters) - ?",
                       [self.dead_letters_max])

    def prune(self) -> None:
        with self.transaction():
            self._prune(_now(), force=True)

    # -- reading -------------------------------------------------------------------------------
    def count(self, table: str) -> int:
        if table not in {"events", "dead_letters", "journals", "kiosks", "alerts", "event_aliases"}:
            raise ValueError(f"not a table of the store: {table}")
        row = self.db.query_one(f"select count(*) from {table}")
        return int(row[0]) if row else 0

    def dead_letters_total(self) -> int:
        row = self.db.query_one("select value from central_meta where key='dead_letters_total'")
        return int(row[0]) if row else 0

    def gaps(self) -> list[dict]:
        """Missing seq ranges per kiosk journal: before its first event, between events, and
        after the last one when the kiosk's status said its journal goes further (the missing
        tail of an old journal, e.g. a kiosk re-imaged before everything was sent)."""
        out = []
        with self.db.connection() as c:
            current = {(r[0], r[1]): r[2] for r in c.query("select site, kiosk, journal from kiosks")}
            for site, kiosk, jid, start, acked, last in c.query(
                    "select site, kiosk, journal, start_seq, acked_seq, kiosk_last_seq from journals "
                    "order by site, kiosk, n"):
                key = (site, kiosk, jid)
                prev = max(acked or 0, (start or 1) - 1)
                have = [r[0] for r in c.query(
                    "select seq from events where site=? and kiosk=? and journal=? and seq > ? "
                    "union select seq from event_aliases where site=? and kiosk=? and journal=? and seq > ? "
                    "order by 1", [*key, prev, *key, prev])]
                for s in have:
                    if s > prev + 1:
                        out.append({"site": site, "kiosk": kiosk, "journal": jid or None,
                                    "from_seq": prev + 1, "to_seq": s - 1})
                    prev = s
                if last is not None and last > prev:
                    note = ("the kiosk has these, not (yet) received" if current.get((site, kiosk)) == jid
                            else "missing tail of an old journal (the kiosk has a new one)")
                    out.append({"site": site, "kiosk": kiosk, "journal": jid or None,
                                "from_seq": prev + 1, "to_seq": last, "note": note})
        out.sort(key=lambda g: (g["site"], g["kiosk"], g["journal"] or "", g["from_seq"]))
        return out

    def journals(self) -> list[dict]:
        return self.db.dicts(
            "select site, kiosk, journal, start_seq, acked_seq, max_seq, events, kiosk_last_seq, first_at, "
            "last_at from journals order by site, kiosk, n")

    def kiosks(self) -> list[dict]:
        rows = self.db.query(
            "select site, kiosk, max_seq, events, last_event_at, online, status_pending, "
            "status_last_seq, status_at, journal, dead_letters from kiosks order by site, kiosk")
        keys = ("site", "kiosk", "max_seq", "events", "last_event_at", "online", "pending",
                "last_seq", "status_at", "journal", "dead_letters")
        out = [dict(zip(keys, r)) for r in rows]
        for k in out:
            k["online"] = None if k["online"] is None else bool(k["online"])
        return out

    def close(self) -> None:
        if self._own_conn is not None:
            with contextlib.suppress(Exception):
                self._own_conn.close()
            self._own_conn = None
        self.db.close()


# psycopg's own placeholders: %b sends the arrays in binary (no per-element quoting in Python)
_PG_INSERT_EVENTS = (
    "insert into events(id, site, kiosk, journal, seq, ts, day, type, operator, payload, topic, received_at) "
    "select * from unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[], "
    "%b::text[], %b::text[], %b::text[], %b::text[], %b::text[]) on conflict do nothing returning id")


class _Isolate(Exception):
    """A batch failed for a reason of one of its messages: retry them one by one."""


def _is_retryable(exc: BaseException) -> bool:
    """PostgreSQL aborted the transaction for a conflict with another writer (deadlock,
    serialization): the whole batch runs again."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, psycopg.errors.TransactionRollback)


def _safe(text: str) -> str:
    """Text PostgreSQL accepts and SQLite encodes: no NUL, no lone surrogate."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def gaps_report(db_path: str | Path) -> dict:
    store = CentralStore(db_path)
    try:
        return {"db": store.name, "events": store.count("events"),
                "dead_letters": store.count("dead_letters"),
                "dead_letters_total": store.dead_letters_total(),
                "kiosks": store.kiosks(), "journals": store.journals(), "gaps": store.gaps()}
    finally:
        store.close()
