"""Materialised day summaries at central: one row per (site, kiosk, day), kept up to date
incrementally from central's `events` table, on either engine (kiosk/central/db.py).

The store marks each (site, kiosk, day) whose events or alerts changed in `summary_dirty`, in the
very transaction that stores them (a cursor over `events.rowid` cannot work on PostgreSQL, where
concurrent writers commit sequence values out of order). `refresh` takes the dirty days, re-folds
each from all of that day's events, in journal and seq order (`DAY_EVENTS`), with the very functions the kiosk uses:
`routine.replay` -> `routine.summary` -> `followup.follow_up_row`; and removes the dirty marks it
folded (only if no writer marked the day again meanwhile: `n` counts the marks). So a
materialised row equals the kiosk's own row by construction, and a page never replays more than
the days that changed. One refresh at a time (SQLite's write lock, a PostgreSQL advisory lock);
a crash leaves the previous consistent state, and the next refresh redoes the rest. `rebuild`
marks every day dirty (the full path: after the row's columns changed, or on demand).

Alerts are materialised too (`web_alerts`): every `alert_raised` event (id = the event's id) and
every row of central's `alerts` table (device alerts; journal alerts share the event's id), and
`alert_cancelled` events mark theirs cancelled. The web app reads only these `web_` tables and
central's `kiosks`, never a full scan of `events` per request.

Tables (migrations of room "summaries"; `summary_dirty` is the store's):
  web_days(site, kiosk, day, <follow-up row columns>, phase, operator, current_pile, ...,
           summary JSON, events, last_ts, updated_at)
  web_alerts(id, site, kiosk, day, kind, text, ts, source, cancelled_at)

Every function takes central's database as a `db.Conn`, a `db.Database` or (the web side's
SQLite connection) a `sqlite3.Connection`; `connect(target)` opens one for a path or a URL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any, Iterator

from ..core import followup, routine
from ..core.clock import TZ, parse_iso
from . import db as dbm

log = logging.getLogger(__name__)

BATCH = 500  # dirty days folded per transaction of a refresh (the first refresh of a big store takes several)
LOCK = 0x6B696F736B02  # the advisory lock of a refresh on PostgreSQL

TEXT_COLUMNS = frozenset({"day", "site", "kiosk", "scan_done_at", "deadline_met"})


def _row_kinds() -> dict[str, str]:
    """Each follow-up row column as 'integer' or 'text', from the row of an empty day."""
    sample = followup.follow_up_row(routine.summary(routine.DayState(day=dt.date(2000, 1, 3))), "s", "k")
    return {c: ("integer" if isinstance(sample.get(c), int) and not isinstance(sample.get(c), bool)
                and c not in TEXT_COLUMNS else "text") for c in followup.COLUMNS}


ROW_KINDS = _row_kinds()
ROW_INT_COLUMNS: tuple[str, ...] = tuple(c for c, k in ROW_KINDS.items() if k == "integer")
_EXTRAS = {"scanning_done": "integer not null default 0", "phase": "text", "operator": "text",
           "current_pile": "text", "labels_printed": "integer not null default 0",
           "cover_slips_printed": "integer not null default 0", "clock_synced": "integer",
           "barcoded_mail": "integer",  # 0 on a day without barcoded mail: its deadline is neither met nor missed
           "summary": "text not null", "row": "text not null", "events": "integer not null", "last_ts": "text",
           "updated_at": "text"}
DAY_COLUMNS: dict[str, str] = {
    **{c: ("integer not null default 0" if k == "integer" else "text")
       for c, k in ROW_KINDS.items() if c not in ("day", "site", "kiosk", "deadline_met")},
    "deadline_met": "integer",  # 1 / 0, NULL while pending
    **{c: t for c, t in _EXTRAS.items() if c not in ROW_KINDS},
}
KEYS = ("site", "kiosk", "day")


def q(name: str) -> str:
    """A column name quoted for both engines (some, like `row`, are keywords)."""
    return f'"{name}"'


WEB_DAYS = ("create table if not exists web_days (site text not null, kiosk text not null, day text not null, "
            + ", ".join(f"{q(c)} {t}" for c, t in DAY_COLUMNS.items()) + ", primary key (site, kiosk, day))")
SCHEMA = [
    WEB_DAYS,
    # pages read days in (day, site, kiosk) order: an index in that order streams them unsorted
    "create index if not exists web_days_order on web_days(day, site, kiosk)",
    # totals and history charts sum these over a range: a covering index keeps the wide summary
    # JSON of each row out of those scans
    "create index if not exists web_days_numbers on web_days(day, site, kiosk, deadline_met, "
    + ", ".join(q(c) for c in ROW_INT_COLUMNS) + ")",
    "create table if not exists web_alerts (id text primary key, site text not null, kiosk text not null, "
    "day text, kind text, text text, ts text, source text, cancelled_at text, note text)",
    "create index if not exists web_alerts_where on web_alerts(site, kiosk, day)",
    "create index if not exists web_alerts_day on web_alerts(day)",
]

# PostgreSQL allows 32 columns in an index: no covering index there (its wide JSON columns are
# stored out of line, TOAST, so a range scan of the numbers does not read them anyway)
PG_SCHEMA = [sql for sql in SCHEMA if "web_days_numbers" not in sql]


def _web_tables(conn: dbm.Conn) -> None:
    """Version 1, also over an older central.db: its web_days (a cache) with other columns is
    dropped first and every day folded again."""
    have = conn.columns("web_days") if "web_days" in conn.table_names() else None
    if have is not None and have != ["site", "kiosk", "day", *DAY_COLUMNS]:
        conn.execute("drop table web_days")
        have = None
    conn.script(";\n".join(PG_SCHEMA if conn.engine == dbm.POSTGRESQL else SCHEMA))
    if have is None:
        _mark_all(conn)


def _alert_note(conn: dbm.Conn) -> None:
    """web_alerts.note: why central withdrew a clock alert (its `cancelled_at` is when)."""
    if "note" not in conn.columns("web_alerts"):
        conn.execute("alter table web_alerts add column note text")


MIGRATIONS = [dbm.Step(1, "web_days and web_alerts: the materialised days and alerts", run=_web_tables),
              dbm.Step(2, "web_alerts.note: a withdrawn clock alert's note", run=_alert_note)]


def connect(target: str | Path) -> Any:
    """A connection to central's database for the web side: for a SQLite file a sqlite3
    connection (WAL, waits for central's writer), as before; for a URL a `db.Conn` on its own
    PostgreSQL connection. Either has `execute(sql, params)` with `?` and `close()`."""
    if dbm.is_url(str(target)):
        return dbm.open_conn(str(target))
    from ..wire.journal import connect as journal_connect

    return journal_connect(target).conn


@contextlib.contextmanager
def _conn(source) -> Iterator[dbm.Conn]:
    with dbm.using(source) as conn:
        yield conn


def ensure_schema(source) -> None:
    """Central's store tables (room "store") if central has not made them yet, then ours."""
    from . import store

    with _conn(source) as conn:
        if "schema_migrations" not in conn.table_names() or not _current(conn):  # a read-only look first: every room that opens the database calls this
            store.ensure_schema(conn)
            dbm.migrate(conn, "summaries", MIGRATIONS)
        if conn.query_one("select 1 from web_days limit 1") is None and \
                conn.query_one("select 1 from events limit 1") is not None and \
                conn.query_one("select 1 from summary_dirty limit 1") is None:
            # events but no day folded and none marked: written by something else than the store
            # (a bulk fill, a copy): fold them all
            with conn.transaction():
                _mark_all(conn)
        have = conn.columns("web_days")
        if have != ["site", "kiosk", "day", *DAY_COLUMNS]:
            # the row's columns changed with a new version: the materialised days are a cache, so
            # drop them and fold every day again on the next refresh
            log.warning("web: the day summary columns changed; folding every day again")
            with conn.transaction():
                conn.execute("drop table web_days")
                for sql in (PG_SCHEMA if conn.engine == dbm.POSTGRESQL else SCHEMA):
                    if "web_days" in sql and "web_alerts" not in sql:
                        conn.script(sql)
                _mark_all(conn)


def _current(conn: dbm.Conn) -> bool:
    from . import store

    done = {(r[0], r[1]) for r in conn.query("select room, max(version) from schema_migrations "
                                              "where room in ('store', 'summaries') group by room")}
    return done == {("store", store.MIGRATIONS[-1].version), ("summaries", MIGRATIONS[-1].version)}


def _mark_all(conn: dbm.Conn) -> None:
    conn.execute("insert into summary_dirty(site, kiosk, day) select distinct site, kiosk, day from events "
                 "where true on conflict (site, kiosk, day) do nothing")
    conn.execute("insert into summary_dirty(site, kiosk, day) select distinct site, kiosk, day from alerts "
                 "where site is not null and kiosk is not null and day is not null "
                 "on conflict (site, kiosk, day) do nothing")


def rebuild(source, now: dt.datetime | None = None) -> int:
    """The full path: every day folded again from `events` (and every alert copied again)."""
    with _conn(source) as conn:
        with conn.transaction():
            _lock(conn)
            conn.execute("delete from web_days")
            conn.execute("delete from web_alerts")
            _mark_all(conn)
        return refresh(conn, now)


def _central_store_class():
    from .store import CentralStore

    return CentralStore


def _local_hhmm(iso: str | None) -> str:
    if not iso:
        return ""
    return parse_iso(iso).astimezone(TZ).strftime("%H:%M")


def fold_day(payloads) -> tuple[routine.DayState, dict, int, str | None, bool | None]:
    """(state, summary, events, last ts, clock synced at the last sign-in) of one day's events."""
    state = routine.DayState()
    n, last_ts, synced = 0, None, None
    for event in payloads:
        state = routine.apply(state, event)
        n += 1
        last_ts = event["ts"]
        if event["type"] == "signed_in" and "clock_synced" in (event.get("data") or {}):
            synced = bool(event["data"]["clock_synced"])
    return state, routine.summary(state), n, last_ts, synced


def _lock(conn: dbm.Conn) -> None:
    """One refresh at a time (inside its transaction): two folding one day in parallel could
    commit the older fold last."""
    if conn.engine == dbm.POSTGRESQL:
        conn.execute("select pg_advisory_xact_lock(?)", (LOCK,))


def refresh(source, now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """Fold the days marked dirty since the last call. Returns the number of (site, kiosk, day)
    re-folded."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat()
    total = 0
    with _conn(source) as conn:
        if conn.query_one("select 1 from summary_dirty limit 1") is None:
            return 0  # a read-only look: no write lock when nothing changed
        while True:
            for attempt in range(5):
                try:
                    with conn.transaction():
                        _lock(conn)
                        n, more = _refresh_step(conn, stamp, batch)
                    break
                except Exception as exc:  # a deadlock with a storing process (PostgreSQL): again
                    if conn.engine != dbm.POSTGRESQL or attempt == 4 or not _is_retryable(exc):
                        raise
            total += n
            if not more:
                return total


def _is_retryable(exc: BaseException) -> bool:
    from .store import _is_retryable as retryable

    return retryable(exc)


def _refresh_step(conn: dbm.Conn, stamp: str, batch: int) -> tuple[int, bool]:
    dirty = conn.query("select site, kiosk, day, n from summary_dirty order by site, kiosk, day limit ?", (batch,))
    folded = 0
    for site, kiosk, day, n in dirty:
        folded += _refold(conn, site, kiosk, day, stamp)
        _copy_alerts(conn, site, kiosk, day)
        # a writer that marked the day again meanwhile bumped n: the mark stays for the next refresh
        conn.execute("delete from summary_dirty where site = ? and kiosk = ? and day = ? and n = ?",
                     (site, kiosk, day, n))
    return folded, len(dirty) == batch


def _local_day(ts: str | None) -> str | None:
    try:
        return parse_iso(ts).astimezone(TZ).date().isoformat()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _copy_alerts(conn: dbm.Conn, site: str, kiosk: str, day: str) -> None:
    """Central's alerts table of that day: device alerts, central's clock alerts (withdrawn ones
    closed with their note), and the journal's alerts again (same id, the journal's copy wins)."""
    for aid, kind, text, ts, withdrawn, note in conn.query(
            "select id, kind, text, ts, withdrawn_at, note from alerts where site = ? and kiosk = ? and day = ?",
            (site, kiosk, day)):
        conn.execute("insert into web_alerts(id, site, kiosk, day, kind, text, ts, source, cancelled_at, note) "
                     "values (?,?,?,?,?,?,?, 'alerts', ?, ?) on conflict (id) do update set "
                     "cancelled_at = coalesce(excluded.cancelled_at, web_alerts.cancelled_at), "
                     "note = coalesce(excluded.note, web_alerts.note)",
                     (aid, site, kiosk, day or None, kind, text, ts, withdrawn, note))


def _journal_alert(conn: dbm.Conn, site: str, kiosk: str, day: str, eid: str, ev: dict) -> None:
    if ev["type"] == "alert_raised":
        data = ev.get("data") or {}
        conn.execute("insert into web_alerts(id, site, kiosk, day, kind, text, ts, source) values "
                     "(?,?,?,?,?,?,?, 'journal') on conflict (id) do update set day = excluded.day, "
                     "kind = excluded.kind, text = excluded.text, ts = excluded.ts, source = excluded.source",
                     (eid, site, kiosk, day, data.get("kind"), data.get("text"), ev["ts"]))
    elif ev["type"] == "alert_cancelled":
        target = (ev.get("data") or {}).get("alert")
        if isinstance(target, str):
            conn.execute("insert into web_alerts(id, site, kiosk, day, cancelled_at) values (?,?,?,?,?) "
                         "on conflict (id) do update set cancelled_at = excluded.cancelled_at",
                         (target, site, kiosk, day, ev["ts"]))


# One day of one kiosk may span two journals (a re-imaged kiosk): the older journal's events first.
DAY_EVENTS = ("select e.id, e.type, e.payload from events e left join journals j on j.site = e.site and "
              "j.kiosk = e.kiosk and j.journal = e.journal where e.site = ? and e.kiosk = ? and e.day = ? "
              "order by coalesce(j.n, 0), e.seq")


def _refold(conn: dbm.Conn, site: str, kiosk: str, day: str, stamp: str) -> int:
    rows = conn.query(DAY_EVENTS, (site, kiosk, day))
    if not rows:
        return 0  # a day with alerts only
    payloads = [json.loads(p) for _, _, p in rows]
    for (eid, kind, _), ev in zip(rows, payloads):
        if kind in ("alert_raised", "alert_cancelled"):
            _journal_alert(conn, site, kiosk, day, eid, ev)
    try:
        state, summary, n, last_ts, synced = fold_day(payloads)
    except Exception:  # validated at ingest; one bad day must not stop every other
        log.exception("web: cannot fold %s/%s %s", site, kiosk, day)
        # and its earlier row goes: the numbers of fewer events are not the day's, and a day
        # with events and no row is what the report names (report._rows)
        conn.execute("delete from web_days where site = ? and kiosk = ? and day = ?", (site, kiosk, day))
        return 0
    row = followup.follow_up_row(summary, site, kiosk)
    cols = {c: (int(row[c]) if ROW_KINDS[c] == "integer" else row[c]) for c in DAY_COLUMNS if c in ROW_KINDS}
    done = bool(summary.get("scan_done_at"))
    met = summary.get("deadline_met")
    cols.update({
        "site": site, "kiosk": kiosk, "day": day,
        "scan_done_at": summary.get("scan_done_at"),
        "deadline_met": None if met is None else int(bool(met)),
        "scanning_done": int(done), "phase": state.phase, "operator": state.operator,
        "current_pile": state.current_pile, "labels_printed": summary.get("labels_printed", 0),
        "cover_slips_printed": summary.get("cover_slips_printed", 0),
        "clock_synced": None if synced is None else int(synced),
        "barcoded_mail": int(bool(summary.get("barcoded_mail", True))),
        "summary": json.dumps(summary, ensure_ascii=False), "events": n, "last_ts": last_ts,
        "row": json.dumps(row, ensure_ascii=False), "updated_at": stamp,
    })
    names = list(cols)
    conn.execute(f"insert into web_days({', '.join(q(c) for c in names)}) values ({', '.join('?' * len(names))}) "
                 f"on conflict (site, kiosk, day) do update set "
                 + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in names if c not in KEYS),
                 [cols[c] for c in names])
    return 1


def iter_day_rows(conn, date_from: str | None = None, date_to: str | None = None,
                  site: str | None = None, kiosk: str | None = None, summary: bool = True):
    """The materialised days in a range, as dicts (the follow-up row's keys plus the extras),
    ordered by day, site, kiosk; lazily. `summary` (JSON text) only when asked for."""
    with _conn(conn) as c:
        cols = "*"
        if not summary:
            cols = ", ".join(q(n) for n in c.columns("web_days") if n != "summary")
        sql, args = f"select {cols} from web_days where 1=1", []
        for cond, value in (("day >= ?", date_from), ("day <= ?", date_to), ("site = ?", site), ("kiosk = ?", kiosk)):
            if value:
                sql += f" and {cond}"
                args.append(value)
        yield from c.dicts(sql + " order by day, site, kiosk", args)


def day_rows(conn, date_from: str | None = None, date_to: str | None = None,
             site: str | None = None, kiosk: str | None = None, summary: bool = True) -> list[dict]:
    """`iter_day_rows` as a list."""
    return list(iter_day_rows(conn, date_from, date_to, site, kiosk, summary))


def follow_up_row(day_row: dict) -> dict:
    """The kiosk's follow-up row (followup.follow_up_row, exactly) of a materialised day."""
    return json.loads(day_row["row"])


def event_days(conn, date_from: str | None = None, date_to: str | None = None) -> list[tuple]:
    """Every (day, site, kiosk) central holds events of, in the range, in that order."""
    sql, args = "select distinct day, site, kiosk from events where 1=1", []
    if date_from:
        sql += " and day >= ?"
        args.append(date_from)
    if date_to:
        sql += " and day <= ?"
        args.append(date_to)
    with _conn(conn) as c:
        return c.query(sql + " order by day, site, kiosk", args)


def replay_rows(conn, date_from: str | None = None, date_to: str | None = None) -> list[dict]:
    """The same rows by full replay of `events` (the slow way; for the benchmark and the tests)."""
    out = []
    with _conn(conn) as c:
        for day, site, kiosk in event_days(c, date_from, date_to):
            payloads = (json.loads(p) for _, _, p in c.query(DAY_EVENTS, (site, kiosk, day)))
            _, summary, _, _, _ = fold_day(payloads)
            out.append(followup.follow_up_row(summary, site, kiosk))
    return out
