"""Central's durable delivery outbox (SQLite, tables `delivery_*` in the central database).

A delivery is a row of `delivery_outbox`: a notification to one target, one version of a day's
returned-invoice list (file or POST), one version of a month's follow-up workbook. Rows are
derived from central's stored rows (`alerts`, `events`) through cursors on their rowid: one
transaction inserts the rows and advances the cursor, and every row is unique by
(cause, target, version), so a crash anywhere between the store and the outbox loses nothing and
makes nothing twice. Each row carries an idempotency key, sent to the target, so a retry after a
crash between send and mark is recognisable as the same delivery.

States: pending (not yet confirmed, maybe not tried), failing (tried, not confirmed: last_error),
delivered (the target confirmed; set once), superseded (a newer version of the same day or month
replaced it before it went out), cancelled (the alert was cancelled at the kiosk before delivery).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from pathlib import Path

from ...clock import TZ, parse_iso, utc_iso
from ..clock_alerts import KINDS as CLOCK_KINDS
from ..clock_alerts import alert_id as clock_alert_id
from . import billing, messages, redact
from .config import DeliveryConfig

NOTIFY, BILLING_FILE, BILLING_POST, FOLLOWUP = "notify", "billing_file", "billing_post", "followup"
PENDING, FAILING, DELIVERED, SUPERSEDED, CANCELLED = "pending", "failing", "delivered", "superseded", "cancelled"
OPEN = (PENDING, FAILING)
_KEY_NS = uuid.UUID("0b7d1f8e-2c44-4a8a-bb0e-6a1f3c9d5e27")
BATCH = 1000


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the delivery tables (idempotent). The first time, on a central that already holds
    events and alerts, the cursors start after them: turning delivery on does not send years of
    history to the TLs and billing. From then on nothing that is stored is skipped."""
    if "delivery_cursor" in _tables(conn) and "delivery_outbox" in _tables(conn):
        return
    with Begin(conn):
        have = _tables(conn)
        if "delivery_cursor" not in have:
            conn.execute("create table delivery_cursor (name text primary key, pos integer not null)")
            for source in ("alerts", "events"):
                if source in have:
                    top = conn.execute(f"select coalesce(max(rowid), 0) from {source}").fetchone()[0]
                    conn.execute("insert into delivery_cursor(name, pos) values (?, ?)", (source, top))
        for sql in _SCHEMA:
            conn.execute(sql)


_SCHEMA = [
    """create table if not exists delivery_outbox (
            n integer primary key autoincrement,
            key text not null unique,          -- idempotency key sent to the target
            channel text not null,             -- notify | billing_file | billing_post | followup
            cause text not null,               -- alert cause / site/kiosk/day / YYYY-MM
            target text not null,              -- target id (never the URL)
            target_label text not null,        -- what logs and status show (redacted)
            version integer not null default 1,
            alert_id text, site text, kiosk text, day text,
            payload text not null,             -- JSON: title/body, billing document, month
            digest text,
            state text not null default 'pending',
            attempts integer not null default 0,
            last_error text,
            created_at text not null,
            next_attempt_at text not null,
            last_attempt_at text,
            delivered_at text,
            claimed_until text,                -- a worker is sending it until then (several centrals)
            unique (cause, target, version)
        )""",
    "create index if not exists delivery_outbox_due on delivery_outbox(state, next_attempt_at)",
    "create index if not exists delivery_outbox_alert on delivery_outbox(alert_id)",
]


def idempotency_key(channel: str, cause: str, target: str, version: int) -> str:
    return str(uuid.uuid5(_KEY_NS, f"{channel}|{cause}|{target}|{version}"))


def _tables(conn) -> set[str]:
    return {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}


def _cursor(conn, name: str) -> int:
    row = conn.execute("select pos from delivery_cursor where name = ?", (name,)).fetchone()
    return row[0] if row else 0


def _set_cursor(conn, name: str, pos: int) -> None:
    conn.execute("insert into delivery_cursor(name, pos) values (?, ?) "
                 "on conflict(name) do update set pos = excluded.pos", (name, pos))


def _local_day(ts: str | None) -> str:
    try:
        return parse_iso(ts).astimezone(TZ).date().isoformat() if ts else ""
    except ValueError:
        return ""


class Begin:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, exc, tb):
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def _insert(conn, channel: str, cause: str, target: str, label: str, payload: dict, now: str,
            version: int = 1, due: str | None = None, digest: str | None = None, alert_id: str | None = None,
            site: str | None = None, kiosk: str | None = None, day: str | None = None) -> bool:
    cur = conn.execute(
        "insert or ignore into delivery_outbox(key, channel, cause, target, target_label, version, alert_id, "
        "site, kiosk, day, payload, digest, state, created_at, next_attempt_at) "
        "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (idempotency_key(channel, cause, target, version), channel, cause, target, label, version, alert_id,
         site, kiosk, day, json.dumps(payload, ensure_ascii=False), digest, PENDING, now, due or now))
    return cur.rowcount == 1


def _notify_cause(alert: dict) -> str:
    """Alerts the clock also raises are one cause per (site, kiosk, kind, day), whoever raised
    them: the kiosk's own deadline_missed and central's are one notification."""
    if alert["kind"] in CLOCK_KINDS:
        day = alert.get("day") or _local_day(alert.get("ts"))
        return clock_alert_id(alert["site"], alert["kiosk"], alert["kind"], day)
    return alert["id"]


def _enqueue_alert(conn, cfg: DeliveryConfig, alert: dict, now: str) -> int:
    n = 0
    cause = _notify_cause(alert)
    for t in cfg.targets:
        if not t.wants(alert["kind"], alert["site"]):
            continue
        title, body = messages.notification(alert, cfg.base_url)
        n += _insert(conn, NOTIFY, cause, t.id, redact.label(t.url), {"title": title, "body": body}, now,
                     alert_id=alert["id"], site=alert["site"], kiosk=alert["kiosk"],
                     day=alert.get("day") or _local_day(alert.get("ts")))
    return n


def _new_version(conn, channel: str, cause: str, target: str, label: str, payload: dict, digest: str,
                 now: str, due: str, **where) -> bool:
    """A new version of a day's list or a month's workbook, unless the latest has this digest;
    undelivered older versions are superseded (only the newest goes out)."""
    last = conn.execute("select version, digest from delivery_outbox where cause = ? and target = ? "
                        "order by version desc limit 1", (cause, target)).fetchone()
    if last is not None and digest and last["digest"] == digest:
        return False
    version = (last["version"] + 1) if last else 1
    conn.execute("update delivery_outbox set state = ? where cause = ? and target = ? and state in (?, ?)",
                 (SUPERSEDED, cause, target, *OPEN))
    return _insert(conn, channel, cause, target, label, payload, now, version=version, due=due,
                   digest=digest, **where)


def _enqueue_billing(conn, cfg: DeliveryConfig, site: str, kiosk: str, day: str, now: dt.datetime) -> int:
    rows = conn.execute("select payload from events where site = ? and kiosk = ? and day = ? "
                        "and type in ('scan_accepted', 'undone') order by ts, seq", (site, kiosk, day))
    scans = billing.accepted_scans(json.loads(r[0]) for r in rows)
    doc = billing.document(site, kiosk, day, scans)
    digest = billing.digest(doc)
    cause = f"{site}/{kiosk}/{day}"
    if not scans and conn.execute("select 1 from delivery_outbox where cause = ? limit 1", (cause,)).fetchone() is None:
        return 0  # nothing ever scanned that day: no list
    stamp, n = utc_iso(now), 0
    where = {"site": site, "kiosk": kiosk, "day": day}
    if cfg.billing_dir is not None:
        n += _new_version(conn, BILLING_FILE, cause, BILLING_FILE, str(cfg.billing_dir), doc, digest, stamp,
                          stamp, **where)
    if cfg.billing_url:
        due = utc_iso(now + dt.timedelta(seconds=cfg.post_delay_s))
        n += _new_version(conn, BILLING_POST, cause, BILLING_POST, redact.label(cfg.billing_url), doc, digest,
                          stamp, due, **where)
    return n


def enqueue_followup(conn, cfg: DeliveryConfig, month: str, now: dt.datetime, why: str) -> int:
    if cfg.followup_dir is None:
        return 0
    stamp = utc_iso(now)
    return int(_new_version(conn, FOLLOWUP, month, FOLLOWUP, str(cfg.followup_dir),
                            {"month": month, "why": why}, f"{why}@{stamp}", stamp, stamp, day=month))


def _alert_from_event(payload: dict) -> dict:
    data = payload.get("data") or {}
    return {"id": payload["id"], "site": payload["site"], "kiosk": payload["kiosk"], "kind": data.get("kind") or "",
            "text": data.get("text") or "", "ts": payload.get("ts"), "day": payload.get("day")}


def derive(conn, cfg: DeliveryConfig, now: dt.datetime) -> int:
    """Turn central's new rows into outbox rows; returns how many rows were made. Each batch is one
    transaction with its cursor, so it is safe to stop anywhere and to run again."""
    ensure_schema(conn)
    have = _tables(conn)
    stamp, made = utc_iso(now), 0
    if "alerts" in have:
        while True:
            with Begin(conn):
                pos = _cursor(conn, "alerts")
                rows = conn.execute("select rowid, id, site, kiosk, kind, text, ts, payload from alerts "
                                    "where rowid > ? order by rowid limit ?", (pos, BATCH)).fetchall()
                for r in rows:
                    alert = dict(r)
                    try:
                        alert["day"] = (json.loads(r["payload"] or "{}") or {}).get("day")
                    except (ValueError, AttributeError):
                        alert["day"] = None
                    made += _enqueue_alert(conn, cfg, alert, stamp)
                if rows:
                    _set_cursor(conn, "alerts", rows[-1]["rowid"])
            if len(rows) < BATCH:
                break
    if "events" in have:
        while True:
            with Begin(conn):
                pos = _cursor(conn, "events")
                rows = conn.execute("select rowid, site, kiosk, day, type, payload from events "
                                    "where rowid > ? order by rowid limit ?", (pos, BATCH)).fetchall()
                days: set[tuple[str, str, str]] = set()
                months: set[str] = set()
                for r in rows:
                    kind = r["type"]
                    if kind in ("scan_accepted", "undone"):
                        days.add((r["site"], r["kiosk"], r["day"]))
                    elif kind == "day_closed":
                        months.add(r["day"][:7])
                    elif kind in ("alert_raised", "alert_cancelled"):
                        payload = json.loads(r["payload"])
                        if kind == "alert_raised":
                            made += _enqueue_alert(conn, cfg, _alert_from_event(payload), stamp)
                        else:
                            target = (payload.get("data") or {}).get("alert")
                            conn.execute("update delivery_outbox set state = ?, last_error = ? where alert_id = ? "
                                         "and state in (?, ?)", (CANCELLED, "the alert was undone at the kiosk",
                                                                 target, *OPEN))
                for site, kiosk, day in sorted(days):
                    made += _enqueue_billing(conn, cfg, site, kiosk, day, now)
                for month in sorted(months):
                    made += enqueue_followup(conn, cfg, month, now, "day_closed")
                if rows:
                    _set_cursor(conn, "events", rows[-1]["rowid"])
            if len(rows) < BATCH:
                break
    # the follow-up workbook also at the configured local time on working days, once a day
    local = now.astimezone(cfg.rules.tz)
    if cfg.followup_dir is not None and local.time() >= cfg.followup_time and \
            cfg.rules.calendar.is_working_day(local.date()):
        mark = int(local.strftime("%Y%m%d"))
        with Begin(conn):
            if _cursor(conn, "followup_daily") < mark:
                made += enqueue_followup(conn, cfg, local.strftime("%Y-%m"), now, "daily")
                _set_cursor(conn, "followup_daily", mark)
    return made


def claim(conn, now: dt.datetime, lease_s: float, limit: int = 100) -> list[sqlite3.Row]:
    """The due rows, claimed for `lease_s` seconds: another worker (a second central process)
    does not take them meanwhile; a worker that dies lets its claim lapse, and the row is sent
    again (with the same idempotency key) after the lease."""
    stamp = utc_iso(now)
    with Begin(conn):
        rows = conn.execute("select * from delivery_outbox where state in (?, ?) and next_attempt_at <= ? "
                            "and (claimed_until is null or claimed_until <= ?) order by n limit ?",
                            (*OPEN, stamp, stamp, limit)).fetchall()
        until = utc_iso(now + dt.timedelta(seconds=lease_s))
        conn.executemany("update delivery_outbox set claimed_until = ? where n = ?", [(until, r["n"]) for r in rows])
    return rows


def mark_delivered(conn, n: int, now: dt.datetime) -> bool:
    """Marked delivered once: a second mark of the same row changes nothing."""
    with Begin(conn):
        cur = conn.execute("update delivery_outbox set state = ?, delivered_at = ?, last_attempt_at = ?, "
                           "attempts = attempts + 1, last_error = null, claimed_until = null where n = ? and state in (?, ?)",
                           (DELIVERED, utc_iso(now), utc_iso(now), n, *OPEN))
    return cur.rowcount == 1


def mark_failed(conn, n: int, now: dt.datetime, error: str, cfg: DeliveryConfig) -> None:
    with Begin(conn):
        row = conn.execute("select attempts from delivery_outbox where n = ?", (n,)).fetchone()
        attempts = (row[0] if row else 0) + 1
        delay = min(cfg.backoff_max_s, cfg.backoff_min_s * 2 ** (attempts - 1))
        conn.execute("update delivery_outbox set state = ?, attempts = ?, last_error = ?, last_attempt_at = ?, "
                     "next_attempt_at = ?, claimed_until = null where n = ? and state in (?, ?)",
                     (FAILING, attempts, error[:500], utc_iso(now), utc_iso(now + dt.timedelta(seconds=delay)),
                      n, *OPEN))

