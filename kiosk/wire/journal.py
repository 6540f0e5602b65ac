"""The journal: the kiosk's source of truth and its outbox (DESIGN.md §4-5).

A real SQLite file (plain sqlite3), WAL with synchronous=FULL: `append` returns only after the
events are committed to disk, and only then does the controller confirm anything to a person.
`seq` is per kiosk and gapless; it survives purging through the `meta` table.

Journal identity (DESIGN.md §5): every journal has a random `journal_id` (uuid4, canonical
lowercase) in its `meta` table, made at creation (an older journal without one gets one when it is
first opened); every event carries it as `"journal"`. Central keys dedupe, gaps and acks by
(site, kiosk, journal, seq), so a re-imaged kiosk or a deleted journal starts a journal central has
never seen instead of colliding with the old one's seqs.

Outbox columns: `sent_at` = the broker acknowledged the publish (PUBACK; moves the in-flight
window only). meta `confirmed_seq` = the highest seq central's end-to-end ack says it has stored,
with every seq before it, for the current journal id; only that makes an event synced and
purgeable. meta `journal_start` = the first seq of the current journal id (1, or the seq after
which the id was rotated, see `rotate_journal_id`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..core.clock import utc_iso

SCHEMA_VERSION = 1
log = logging.getLogger(__name__)


from .journal_errors import JournalError  # noqa: E402  (stdlib-only, the CLI imports it)


def new_journal_id() -> str:
    return str(uuid.uuid4())


def _dumps(event: dict) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _with_journal(event: dict, jid: str) -> dict:
    """The event with `journal` set, keys in envelope order (DESIGN.md §5)."""
    out = {}
    for key, value in event.items():
        if key == "journal":
            continue
        out[key] = value
        if key == "id":
            out["journal"] = jid
    if "journal" not in out:
        out["journal"] = jid
    return out


class Db:
    """A sqlite3 connection with the two calls the journal and its readers use: `execute(sql,
    params)` and `conn` (the kiosk no longer loads sqlite-utils: with click, dateutil and pluggy
    it is about 5 MB of a process's memory)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)


def connect(path: str | Path) -> Db:
    """A connection with the durability settings every journal writer uses."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    _set_wal(conn)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA recursive_triggers=on")  # as sqlite_utils.Database set it when it wrapped every connection
    return Db(conn)


def _set_wal(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """Switch to WAL. Two processes opening a new file at once can make the switch fail with
    "database is locked" without SQLite's busy handler being asked, so wait and retry here."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Journal:
    def __init__(self, path: str | Path, site: str, kiosk: str):
        self.path = Path(path)
        self.site, self.kiosk = site, kiosk
        self._lock = threading.Lock()
        empty = self.path.is_file() and self.path.stat().st_size == 0
        try:
            self.db = connect(self.path)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError.from_exception(self.path, exc) from None
        try:
            if empty:
                log.warning("journal %s is an empty file: starting a new journal in it", self.path)
            self._ensure_schema()
        except (OSError, sqlite3.Error) as exc:
            self.db.conn.close()
            raise JournalError.from_exception(self.path, exc) from None
        except ValueError:
            self.db.conn.close()
            raise

    @classmethod
    def open_existing(cls, path: str | Path) -> "Journal":
        """Open a journal file as whatever kiosk wrote it (for reports and sync tools)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no journal at {path}")
        if path.stat().st_size == 0:
            raise JournalError(f"journal {path} is empty (zero bytes): it holds no events",
                               "Journalen är tom. Kontakta tekniker.")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                meta = dict(conn.execute("select key, value from meta").fetchall())
            finally:
                conn.close()
        except sqlite3.Error as exc:
            if "no such table" in str(exc):
                raise JournalError(f"{path} is not a kiosk journal: {exc}",
                                   "Filen är ingen journal. Kontakta tekniker.") from None
            raise JournalError.from_exception(path, exc) from None
        if "site" not in meta or "kiosk" not in meta:
            raise JournalError(f"{path} is not a kiosk journal: its meta table names no kiosk",
                               "Filen är ingen journal. Kontakta tekniker.")
        return cls(path, meta["site"], meta["kiosk"])

    # -- schema ---------------------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        """Create the tables and the meta rows if missing, in one write transaction, so two
        processes opening a new journal at once never both create (nor see half of) it. A file
        that is not a sound SQLite database raises sqlite3.DatabaseError before anything is
        written (quick_check reads every page: a truncated file is caught here)."""
        conn = self.db.conn
        ok = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if ok != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ({ok})")
        with self.transaction():
            conn.execute("CREATE TABLE IF NOT EXISTS [events] ([seq] INTEGER PRIMARY KEY, [id] TEXT NOT NULL, "
                         "[ts] TEXT NOT NULL, [day] TEXT NOT NULL, [type] TEXT NOT NULL, [operator] TEXT, "
                         "[payload] TEXT NOT NULL, [sent_at] TEXT)")
            conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS [idx_events_id] ON [events] ([id])")
            conn.execute("CREATE INDEX IF NOT EXISTS [idx_events_day] ON [events] ([day])")
            conn.execute("CREATE TABLE IF NOT EXISTS [meta] ([key] TEXT PRIMARY KEY, [value] TEXT)")
            existing = self._meta("kiosk")
            if existing is None:
                self._set_meta("kiosk", self.kiosk)
                self._set_meta("site", self.site)
                self._set_meta("schema", str(SCHEMA_VERSION))
                self._set_meta("last_seq", "0")
            if self._meta("journal_id") is None:  # made at creation; an older journal gets one now
                jid = new_journal_id()
                self._set_meta("journal_id", jid)
                self._set_meta("journal_start", "1")
                self._restamp(jid, 0)  # (its events, if any, carry it too)
        if existing is not None and (existing != self.kiosk or self._meta("site") != self.site):
            raise ValueError(
                f"journal {self.path} belongs to {self._meta('site')}/{existing}, "
                f"not {self.site}/{self.kiosk}"
            )

    def _restamp(self, jid: str, after_seq: int) -> int:
        """Give the events after `after_seq` the journal id `jid` (inside a transaction)."""
        rows = self.db.execute("select seq, payload from events where seq > ?", [after_seq]).fetchall()
        out = []
        for seq, payload in rows:
            ev = json.loads(payload)
            ev = _with_journal(ev, jid)
            out.append((_dumps(ev), seq))
        self.db.conn.executemany("update events set payload = ? where seq = ?", out)
        return len(out)

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("insert or replace into meta(key, value) values (?, ?)", [key, value])

    def transaction(self):
        return _Transaction(self.db.conn, self._lock)

    # -- writing --------------------------------------------------------------------------------
    @property
    def journal_id(self) -> str:
        """This journal's random id (uuid4, canonical lowercase); every event carries it."""
        return self._meta("journal_id") or ""

    @property
    def journal_start(self) -> int:
        """The first seq stamped with the current `journal_id`."""
        return int(self._meta("journal_start") or 1)

    @property
    def last_seq(self) -> int:
        return self._last_seq()

    def _last_seq(self) -> int:
        """The highest seq ever given: the newest event's, or the purge high-water mark in `meta`
        when every event has been purged (so seq stays gapless across purges)."""
        row = self.db.execute("select max(seq) from events").fetchone()
        return max(row[0] or 0, int(self._meta("last_seq") or 0))

    def append(self, items: Iterable[tuple[str, dict]], now: dt.datetime, day: dt.date,
               operator: str | None) -> list[dict]:
        """Make events durable, all or none. Returns the stamped events as they were committed."""
        items = list(items)
        if not items:
            return []
        ts = utc_iso(now)
        with self.transaction():
            seq = self._last_seq()
            jid = self._meta("journal_id")
            events = []
            for kind, data in items:
                seq += 1
                event = {"v": 1, "id": str(uuid.uuid4()), "journal": jid, "kiosk": self.kiosk, "site": self.site,
                         "seq": seq, "ts": ts, "day": day.isoformat(), "operator": operator,
                         "type": kind, "data": data}
                events.append(event)
            self.db.conn.executemany(
                "insert into events(seq, id, ts, day, type, operator, payload) values (?,?,?,?,?,?,?)",
                [(e["seq"], e["id"], e["ts"], e["day"], e["type"], e["operator"],
                  _dumps(e)) for e in events],
            )
        return events

    # -- reading --------------------------------------------------------------------------------
    def events(self, day: str | dt.date | None = None, after_seq: int = 0) -> Iterator[dict]:
        sql = "select payload from events where seq > ?"
        args: list = [after_seq]
        if day is not None:
            sql += " and day = ?"
            args.append(str(day))
        for (payload,) in self.db.execute(sql + " order by seq", args).fetchall():
            yield json.loads(payload)

    def events_of_types(self, types: Iterable[str], before_day: str | dt.date | None = None) -> Iterator[dict]:
        """The events of these types in journal order, only of days before `before_day` if given."""
        types = list(types)
        sql = f"select payload from events where type in ({','.join('?' * len(types))})"
        args: list = types
        if before_day is not None:
            sql += " and day < ?"
            args.append(str(before_day))
        for (payload,) in self.db.execute(sql + " order by seq", args).fetchall():
            yield json.loads(payload)

    def days(self) -> list[str]:
        return [r[0] for r in self.db.execute("select distinct day from events order by day").fetchall()]

    def last_day(self) -> str | None:
        row = self.db.execute("select day from events order by seq desc limit 1").fetchone()
        return row[0] if row else None

    def last_of_types(self, types: Iterable[str]) -> dict | None:
        types = list(types)
        marks = ",".join("?" * len(types))
        row = self.db.execute(
            f"select payload from events where type in ({marks}) order by seq desc limit 1", types
        ).fetchone()
        return json.loads(row[0]) if row else None

    # -- the outbox -----------------------------------------------------------------------------
    def unsent(self, limit: int = 100, after_seq: int = 0) -> list[dict]:
        rows = self.db.execute(
            "select payload from events where sent_at is null and seq > ? order by seq limit ?",
            [after_seq, limit],
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def pending_count(self) -> int:
        """Events central has not confirmed (the end-to-end ack), whether sent or not."""
        return self.db.execute("select count(*) from events where seq > ?",
                               [self.confirmed_seq]).fetchone()[0]

    @property
    def confirmed_seq(self) -> int:
        """Central stored every event up to this seq (its end-to-end ack for our journal id)."""
        return int(self._meta("confirmed_seq") or 0)

    def set_confirmed(self, seq: int) -> None:
        """Record central's ack. It may go down (central restored from a backup): then the events
        after it are unconfirmed again and will be resent."""
        with self.transaction():
            self._set_meta("confirmed_seq", str(int(seq)))

    def event_id_at(self, seq: int) -> str | None:
        row = self.db.execute("select id from events where seq = ?", [seq]).fetchone()
        return row[0] if row else None

    def rotate_journal_id(self, reason: str = "") -> str:
        """Start a new journal id (central has events of the current id this journal does not:
        it was restored from a backup). Every event central has not confirmed is re-stamped with
        the new id from `confirmed_seq + 1` on, so central accepts each of them as new (or, for an
        event it already has under the old id with the same content, as a duplicate)."""
        with self.transaction():
            jid = new_journal_id()
            start = int(self._meta("confirmed_seq") or 0) + 1
            self._set_meta("previous_journal_id", self._meta("journal_id") or "")
            self._set_meta("journal_id", jid)
            self._set_meta("journal_start", str(start))
            self._restamp(jid, start - 1)
            self.db.execute("update events set sent_at = null where seq >= ?", [start])
        return jid

    def outbox(self) -> dict:
        """The sync state for `kiosk status`: confirmed by central, sent to the broker, pending."""
        confirmed = self.confirmed_seq
        pending, oldest_seq, oldest_ts = self.db.execute(
            "select count(*), min(seq), min(ts) from events where seq > ?", [confirmed]).fetchone()
        sent_seq, sent_at = self.db.execute(
            "select max(seq), max(sent_at) from events where sent_at is not null").fetchone()
        return {"journal_id": self.journal_id, "journal_start": self.journal_start,
                "last_seq": self.last_seq, "confirmed_seq": confirmed, "sent_seq": sent_seq or 0,
                "last_sent_at": sent_at, "pending": pending, "oldest_unconfirmed_seq": oldest_seq,
                "oldest_unconfirmed_ts": oldest_ts}

    def mark_sent(self, seqs: Iterable[int], now: dt.datetime) -> None:
        seqs = list(seqs)
        if not seqs:
            return
        with self.transaction():
            self.db.conn.executemany(
                "update events set sent_at = ? where seq = ? and sent_at is null",
                [(utc_iso(now), s) for s in seqs],
            )

    def purge_synced(self, older_than: dt.datetime) -> int:
        """Delete events central has confirmed (end-to-end ack) that are older than the cut-off."""
        with self.transaction():
            self._set_meta("last_seq", str(self._last_seq()))
            cur = self.db.execute(
                "delete from events where seq <= ? and ts < ?",
                [int(self._meta("confirmed_seq") or 0), utc_iso(older_than)],
            )
            return cur.rowcount

    def close(self) -> None:
        self.db.conn.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection; rollback on any error."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock):
        self.conn, self.lock = conn, lock

    def __enter__(self):
        self.lock.acquire()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")
        except BaseException:
            if exc_type is None:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
        finally:
            self.lock.release()
        return False
