"""Materialised day summaries at central: one row per (site, kiosk, day), kept up to date
incrementally from central's `events` table.

A cursor over `events.rowid` (`web_cursor`) finds what arrived since the last refresh; each
(site, kiosk, day) it touches is re-folded from all of that day's events, in seq order, with the
very functions the kiosk uses: `routine.replay` -> `routine.summary` -> `report.follow_up_row`.
So a materialised row equals the kiosk's own row by construction, and a page never replays more
than the days that changed. The cursor, the re-folded days and the copied alerts commit in one
transaction: a crash leaves the previous consistent state, and the next refresh redoes the rest.

Alerts are materialised too (`web_alerts`): every `alert_raised` event (id = the event's id) and
every row of central's `alerts` table (device alerts; journal alerts share the event's id), and
`alert_cancelled` events mark theirs cancelled. The web app reads only these `web_` tables and
central's `kiosks`, never a full scan of `events` per request.

Tables (all `web_`, created idempotently):
  web_cursor(name, pos)                        - last rowid folded, per source table
  web_days(site, kiosk, day, <follow-up row columns>, phase, operator, current_pile, ...,
           summary JSON, events, last_ts, updated_at)
  web_alerts(id, site, kiosk, day, kind, text, ts, source, cancelled_at)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
from pathlib import Path

from .. import report, routine
from ..clock import TZ, parse_iso

log = logging.getLogger(__name__)

BATCH = 50_000  # events read per step of a refresh (the first refresh of a big store takes several)

TEXT_COLUMNS = frozenset({"day", "site", "kiosk", "scan_done_at", "deadline_met"})


def _row_kinds() -> dict[str, str]:
    """Each follow-up row column as 'integer' or 'text', from the row of an empty day."""
    sample = report.follow_up_row(routine.summary(routine.DayState(day=dt.date(2000, 1, 3))), "s", "k")
    return {c: ("integer" if isinstance(sample.get(c), int) and not isinstance(sample.get(c), bool)
                and c not in TEXT_COLUMNS else "text") for c in report.COLUMNS}


ROW_KINDS = _row_kinds()
ROW_INT_COLUMNS: tuple[str, ...] = tuple(c for c, k in ROW_KINDS.items() if k == "integer")
_EXTRAS = {"scanning_done": "integer not null default 0", "phase": "text", "operator": "text",
           "current_pile": "text", "labels_printed": "integer not null default 0",
           "cover_slips_printed": "integer not null default 0", "clock_synced": "integer",
           "summary": "text not null", "row": "text not null", "events": "integer not null", "last_ts": "text",
           "updated_at": "text"}
DAY_COLUMNS: dict[str, str] = {
    **{c: ("integer not null default 0" if k == "integer" else "text")
       for c, k in ROW_KINDS.items() if c not in ("day", "site", "kiosk", "deadline_met")},
    "deadline_met": "integer",  # 1 / 0, NULL while pending
    **{c: t for c, t in _EXTRAS.items() if c not in ROW_KINDS},
}

SCHEMA = [
    "create table if not exists web_cursor (name text primary key, pos integer not null)",
    "create table if not exists web_days (site text not null, kiosk text not null, day text not null, "
    + ", ".join(f"[{c}] {t}" for c, t in DAY_COLUMNS.items()) + ", primary key (site, kiosk, day))",
    # pages read days in (day, site, kiosk) order: an index in that order streams them unsorted
    "create index if not exists web_days_order on web_days(day, site, kiosk)",
    # totals and history charts sum these over a range: a covering index keeps the wide summary
    # JSON of each row out of those scans
    "create index if not exists web_days_numbers on web_days(day, site, kiosk, deadline_met, "
    + ", ".join(f"[{c}]" for c in ROW_INT_COLUMNS) + ")",
    "create table if not exists web_alerts (id text primary key, site text not null, kiosk text not null, "
    "day text, kind text, text text, ts text, source text, cancelled_at text)",
    "create index if not exists web_alerts_where on web_alerts(site, kiosk, day)",
    "create index if not exists web_alerts_day on web_alerts(day)",
]


def connect(db: str | Path) -> sqlite3.Connection:
    """A connection to central's database for the web side (WAL, waits for central's writer)."""
    from ..journal import connect as journal_connect

    conn = journal_connect(db).conn
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create central's own tables if central has not yet (through its store), then ours."""
    names = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    if "events" not in names or "kiosks" not in names or "alerts" not in names:
        _central_store_class()(_db_path(conn)).close()
    have = [r[1] for r in conn.execute("pragma table_info(web_days)")]
    if have and have != ["site", "kiosk", "day", *DAY_COLUMNS]:
        # the row's columns changed with a new version: the materialised days are a cache, so
        # drop them and fold every day again on the next refresh
        log.warning("web: the day summary columns changed; folding every day again")
        conn.execute("drop table web_days")
        conn.execute("delete from web_cursor where name = 'events'")
    for sql in SCHEMA:
        conn.execute(sql)


def _db_path(conn: sqlite3.Connection) -> str:
    return conn.execute("pragma database_list").fetchone()[2]


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


def _cursor(conn, name: str) -> int:
    row = conn.execute("select pos from web_cursor where name = ?", [name]).fetchone()
    return row[0] if row else 0


def _set_cursor(conn, name: str, pos: int) -> None:
    conn.execute("insert into web_cursor(name, pos) values (?, ?) on conflict(name) do update set pos = excluded.pos",
                 [name, pos])


def refresh(conn: sqlite3.Connection, now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """Fold what arrived since the last call. Returns the number of (site, kiosk, day) re-folded."""
    if not _has_new(conn):
        return 0
    stamp = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat()
    total = 0
    while True:
        for attempt in range(100):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)
        try:
            n, more = _refresh_step(conn, stamp, batch)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        total += n
        if not more:
            return total


def _has_new(conn) -> bool:
    """A read-only look: has anything arrived since the cursor? (No write lock when not.)"""
    for table in ("events", "alerts"):
        top = conn.execute(f"select max(rowid) from {table}").fetchone()[0] or 0
        if top > _cursor(conn, table):
            return True
    return False


def _refresh_step(conn, stamp: str, batch: int) -> tuple[int, bool]:
    pos = _cursor(conn, "events")
    rows = conn.execute("select rowid, site, kiosk, day, type, id, payload from events where rowid > ? "
                        "order by rowid limit ?", [pos, batch]).fetchall()
    dirty: set[tuple[str, str, str]] = set()
    for rowid, site, kiosk, day, kind, eid, payload in rows:
        dirty.add((site, kiosk, day))
        if kind == "alert_raised":
            data = json.loads(payload).get("data") or {}
            conn.execute("insert into web_alerts(id, site, kiosk, day, kind, text, ts, source) values "
                         "(?,?,?,?,?,?,?, 'journal') on conflict(id) do update set day = excluded.day, "
                         "kind = excluded.kind, text = excluded.text, ts = excluded.ts, source = excluded.source",
                         [eid, site, kiosk, day, data.get("kind"), data.get("text"), json.loads(payload)["ts"]])
        elif kind == "alert_cancelled":
            ev = json.loads(payload)
            target = (ev.get("data") or {}).get("alert")
            if isinstance(target, str):
                conn.execute("insert into web_alerts(id, site, kiosk, day, cancelled_at) values (?,?,?,?,?) "
                             "on conflict(id) do update set cancelled_at = excluded.cancelled_at",
                             [target, site, kiosk, day, ev["ts"]])
    if rows:
        _set_cursor(conn, "events", rows[-1][0])
    for site, kiosk, day in sorted(dirty):
        _refold(conn, site, kiosk, day, stamp)
    # central's alerts table: device alerts, and the journal's alerts again (same id)
    apos = _cursor(conn, "alerts")
    arows = conn.execute("select rowid, id, site, kiosk, kind, text, ts, payload from alerts where rowid > ? "
                         "order by rowid limit ?", [apos, batch]).fetchall()
    for rowid, aid, site, kiosk, kind, text, ts, payload in arows:
        try:
            day = json.loads(payload).get("day")
        except (TypeError, ValueError):
            day = None
        if not isinstance(day, str):
            day = _local_day(ts)
        conn.execute("insert into web_alerts(id, site, kiosk, day, kind, text, ts, source) values "
                     "(?,?,?,?,?,?,?, 'alerts') on conflict(id) do nothing",
                     [aid, site, kiosk, day, kind, text, ts])
    if arows:
        _set_cursor(conn, "alerts", arows[-1][0])
    return len(dirty), len(rows) == batch or len(arows) == batch


def _local_day(ts: str | None) -> str | None:
    try:
        return parse_iso(ts).astimezone(TZ).date().isoformat()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _refold(conn, site: str, kiosk: str, day: str, stamp: str) -> None:
    payloads = (json.loads(p) for (p,) in conn.execute(
        "select payload from events where site = ? and kiosk = ? and day = ? order by seq", [site, kiosk, day]))
    try:
        state, summary, n, last_ts, synced = fold_day(payloads)
    except Exception:  # validated at ingest; one bad day must not stop every other
        log.exception("web: cannot fold %s/%s %s", site, kiosk, day)
        return
    row = report.follow_up_row(summary, site, kiosk)
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
        "summary": json.dumps(summary, ensure_ascii=False), "events": n, "last_ts": last_ts,
        "row": json.dumps(row, ensure_ascii=False), "updated_at": stamp,
    })
    names = list(cols)
    conn.execute(f"insert or replace into web_days({', '.join(f'[{c}]' for c in names)}) "
                 f"values ({', '.join('?' * len(names))})", [cols[c] for c in names])


def iter_day_rows(conn, date_from: str | None = None, date_to: str | None = None,
                  site: str | None = None, kiosk: str | None = None, summary: bool = True):
    """The materialised days in a range, as dicts (the follow-up row's keys plus the extras),
    ordered by day, site, kiosk; lazily. `summary` (JSON text) only when asked for."""
    cols = "*"
    if not summary:
        names = [r[1] for r in conn.execute("pragma table_info(web_days)") if r[1] != "summary"]
        cols = ", ".join(f"[{n}]" for n in names)
    sql, args = f"select {cols} from web_days where 1=1", []
    for cond, value in (("day >= ?", date_from), ("day <= ?", date_to), ("site = ?", site), ("kiosk = ?", kiosk)):
        if value:
            sql += f" and {cond}"
            args.append(value)
    cur = conn.execute(sql + " order by day, site, kiosk", args)
    names = [d[0] for d in cur.description]
    for r in cur:
        yield dict(zip(names, r))


def day_rows(conn, date_from: str | None = None, date_to: str | None = None,
             site: str | None = None, kiosk: str | None = None, summary: bool = True) -> list[dict]:
    """`iter_day_rows` as a list."""
    return list(iter_day_rows(conn, date_from, date_to, site, kiosk, summary))


def follow_up_row(day_row: dict) -> dict:
    """The kiosk's follow-up row (report.follow_up_row, exactly) of a materialised day."""
    return json.loads(day_row["row"])


def replay_rows(conn, date_from: str | None = None, date_to: str | None = None) -> list[dict]:
    """The same rows by full replay of `events` (the slow way; for the benchmark and the tests)."""
    sql, args = "select distinct day, site, kiosk from events where 1=1", []
    if date_from:
        sql += " and day >= ?"
        args.append(date_from)
    if date_to:
        sql += " and day <= ?"
        args.append(date_to)
    out = []
    for day, site, kiosk in conn.execute(sql + " order by day, site, kiosk", args).fetchall():
        payloads = (json.loads(p) for (p,) in conn.execute(
            "select payload from events where site = ? and kiosk = ? and day = ? order by seq", [site, kiosk, day]))
        _, summary, _, _, _ = fold_day(payloads)
        out.append(report.follow_up_row(summary, site, kiosk))
    return out
