"""Central's durable delivery outbox (tables `delivery_*` in central's database, SQLite or
PostgreSQL through `kiosk.central.db`; room "delivery" of its migrations).

A delivery is a row of `delivery_outbox`: a notification to one target, one version of a day's
returned-invoice list (file or POST), one version of a month's follow-up workbook. Rows are
derived from central's stored rows (`alerts`, `events`) through `delivery_queue`: a trigger on
each of those tables copies every new row that matters to delivery into the queue in the very
transaction that stores it (so the queue holds exactly what committed, whichever process stored
it and in whatever order several writers commit). `derive` turns queued rows into outbox rows and
deletes them in one transaction; every outbox row is unique by (cause, target, version), so a
crash anywhere between the store and the outbox loses nothing and makes nothing twice. Each row
carries an idempotency key, sent to the target, so a retry after a crash between send and mark
is recognisable as the same delivery.

Several central processes may run workers on one database: derivation is serialised (SQLite's
write lock, a PostgreSQL advisory lock), a due row is claimed with a lease in one statement
(`update ... returning`, on PostgreSQL over `select ... for update skip locked`), so two workers
never send one delivery at the same time; a worker that dies lets its lease lapse.

States: pending (not yet confirmed, maybe not tried), failing (tried, not confirmed: last_error),
delivered (the target confirmed; set once), superseded (a newer version of the same day or month
replaced it before it went out), cancelled (the alert was cancelled at the kiosk before delivery).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from ...core.clock import TZ, parse_iso, utc_iso
from ..clock_alerts import KINDS as CLOCK_KINDS
from ..clock_alerts import alert_id as clock_alert_id
from ..db import POSTGRESQL, SQLITE, Conn, Database, Step, migrate, open_database, using
from . import billing, codes, messages, redact
from .config import DeliveryConfig

NOTIFY, BILLING_FILE, BILLING_POST, FOLLOWUP = "notify", "billing_file", "billing_post", "followup"
PENDING, FAILING, DELIVERED, SUPERSEDED, CANCELLED = "pending", "failing", "delivered", "superseded", "cancelled"
RELEASED = "released"  # a TL let a stuck delivery go ("Släpp"): never sent
OPEN = (PENDING, FAILING)
_KEY_NS = uuid.UUID("0b7d1f8e-2c44-4a8a-bb0e-6a1f3c9d5e27")
BATCH = 1000
_DERIVE_LOCK = 0x64656C6976  # "deliv": one deriver at a time on PostgreSQL
EVENT_TYPES = ("scan_accepted", "undone", "day_closed", "alert_raised", "alert_cancelled")


def connect(target: str | Path | Database) -> Database:
    """Central's database for the delivery side (a path or URL; a Database as it is)."""
    return target if isinstance(target, Database) else open_database(target)


# -- schema: room "delivery" ----------------------------------------------------------------------

_V1 = """
create table if not exists delivery_cursor (name TEXT PRIMARY KEY, pos INTEGER NOT NULL);
create table if not exists delivery_outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    cause TEXT NOT NULL,
    target TEXT NOT NULL,
    target_label TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    alert_id TEXT, site TEXT, kiosk TEXT, day TEXT,
    payload TEXT NOT NULL,
    digest TEXT,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_attempt_at TEXT,
    delivered_at TEXT,
    claimed_until TEXT,
    UNIQUE (cause, target, version)
);
create index if not exists delivery_outbox_due on delivery_outbox(state, next_attempt_at);
create index if not exists delivery_outbox_alert on delivery_outbox(alert_id)
"""
# key: the idempotency key sent to the target; channel: notify | billing_file | billing_post |
# followup; cause: alert cause / site/kiosk/day / YYYY-MM; target: the target id (never the URL);
# target_label: what logs and status show (redacted); payload: JSON (title/body, the billing
# document, the month); claimed_until: a worker is sending it until then (several centrals)


def _v1_cursors(conn: Conn) -> None:
    """A SQLite central from before this outbox: the cursors start after the stored rows, so
    turning delivery on does not send years of history (a cursor already there is kept)."""
    if conn.engine != SQLITE:
        return
    have = conn.table_names()
    for source in ("alerts", "events"):
        if source in have:
            (top,) = conn.query_one(f"select coalesce(max(rowid), 0) from {source}")  # type: ignore[misc]
            conn.execute("insert into delivery_cursor(name, pos) values (?, ?) on conflict (name) do nothing",
                         (source, top))


_QUEUE = """
create table if not exists delivery_queue (n INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,
    id TEXT, site TEXT, kiosk TEXT, day TEXT, type TEXT, kind TEXT, text TEXT, ts TEXT, payload TEXT);
create table if not exists delivery_cancelled (alert_id TEXT PRIMARY KEY, at TEXT NOT NULL)
"""
# Version 2's triggers, written out and frozen (tests/test_migrations.py): the event types they queue
# are EVENT_TYPES as they were then; queueing another type is a new step that replaces the triggers.
_SQLITE_TRIGGERS = [
    """create trigger if not exists delivery_queue_events after insert on events
        when new.type in ('scan_accepted', 'undone', 'day_closed', 'alert_raised', 'alert_cancelled')
        begin insert into delivery_queue(source, id, site, kiosk, day, type, payload) values ('events', new.id,
        new.site, new.kiosk, new.day, new.type, case when new.type in ('alert_raised', 'alert_cancelled')
        then new.payload end); end""",
    """create trigger if not exists delivery_queue_alerts after insert on alerts
        begin insert into delivery_queue(source, id, site, kiosk, kind, text, ts, payload) values ('alerts', new.id,
        new.site, new.kiosk, new.kind, new.text, new.ts, new.payload); end""",
]
_PG_TRIGGERS = [
    """create or replace function delivery_queue_event() returns trigger language plpgsql as $fn$
        begin
          if new.type in ('scan_accepted', 'undone', 'day_closed', 'alert_raised', 'alert_cancelled') then
            insert into delivery_queue(source, id, site, kiosk, day, type, payload) values ('events', new.id,
              new.site, new.kiosk, new.day, new.type, case when new.type in ('alert_raised', 'alert_cancelled')
              then new.payload end);
          end if;
          return null;
        end $fn$""",
    """create or replace function delivery_queue_alert() returns trigger language plpgsql as $fn$
        begin
          insert into delivery_queue(source, id, site, kiosk, kind, text, ts, payload) values ('alerts', new.id,
            new.site, new.kiosk, new.kind, new.text, new.ts, new.payload);
          return null;
        end $fn$""",
    "drop trigger if exists delivery_queue_events on events",
    "create trigger delivery_queue_events after insert on events for each row execute function delivery_queue_event()",
    "drop trigger if exists delivery_queue_alerts on alerts",
    "create trigger delivery_queue_alerts after insert on alerts for each row execute function delivery_queue_alert()",
]


def _v2_triggers(conn: Conn) -> None:
    """The triggers that fill the queue; on SQLite also the rows stored since the old cursors
    (a central that ran the rowid-cursor outbox loses nothing at the upgrade)."""
    for sql in (_PG_TRIGGERS if conn.engine == POSTGRESQL else _SQLITE_TRIGGERS):
        conn.raw.execute(sql)  # bodies hold `;`: one statement each, unsplit, no placeholders
    if conn.engine != SQLITE:
        return
    pos = dict(conn.query("select name, pos from delivery_cursor"))
    if "alerts" in pos:
        conn.execute("insert into delivery_queue(source, id, site, kiosk, kind, text, ts, payload) "
                     "select 'alerts', id, site, kiosk, kind, text, ts, payload from alerts where rowid > ? "
                     "order by rowid", (pos["alerts"],))
    if "events" in pos:
        conn.execute("insert into delivery_queue(source, id, site, kiosk, day, type, payload) "
                     "select 'events', id, site, kiosk, day, type, "
                     "case when type in ('alert_raised', 'alert_cancelled') then payload end from events "
                     "where rowid > ? and type in ('scan_accepted', 'undone', 'day_closed', 'alert_raised', "
                     "'alert_cancelled') order by rowid", (pos["events"],))
    conn.execute("delete from delivery_cursor where name in ('alerts', 'events')")


def _v3_released(conn: Conn) -> None:
    cols = conn.columns("delivery_outbox")
    for col in ("released_by", "released_at"):
        if col not in cols:
            conn.execute(f"alter table delivery_outbox add column {col} text")


MIGRATIONS = [
    Step(1, "outbox and cursors", _V1, run=_v1_cursors),
    Step(2, "queue filled by triggers on events and alerts", _QUEUE, run=_v2_triggers),
    Step(3, "who released a stuck delivery, and when", run=_v3_released),
]


def ensure_schema(db: "Database | Conn | str | Path") -> list[int]:
    """Central's store (its room: the triggers are on its tables), then room "delivery"
    (idempotent; returns the versions applied now). The first time, rows stored before are not
    delivered; from then on nothing stored is skipped. `db`: a Database or a Conn (its own
    transaction, or part of the caller's), or a path/URL."""
    from .. import store

    if isinstance(db, (str, Path)):
        with open_database(db) as own:
            return ensure_schema(own)
    with using(db) as conn:
        if "schema_migrations" in conn.table_names() and \
                {v for (v,) in conn.query("select version from schema_migrations where room = 'delivery'")} \
                >= {s.version for s in MIGRATIONS}:
            codes.ensure_schema(conn)
            return []  # a read-only look first (each pass of the worker asks)
        store.ensure_schema(conn)
        applied = migrate(conn, "delivery", MIGRATIONS)
        codes.ensure_schema(conn)
        return applied


def idempotency_key(channel: str, cause: str, target: str, version: int) -> str:
    return str(uuid.uuid5(_KEY_NS, f"{channel}|{cause}|{target}|{version}"))


def _cursor(conn: Conn, name: str) -> int:
    row = conn.query_one("select pos from delivery_cursor where name = ?", (name,))
    return int(row[0]) if row else 0


def _set_cursor(conn: Conn, name: str, pos: int) -> None:
    conn.execute("insert into delivery_cursor(name, pos) values (?, ?) "
                 "on conflict (name) do update set pos = excluded.pos", (name, pos))


def _local_day(ts: str | None) -> str:
    try:
        return parse_iso(ts).astimezone(TZ).date().isoformat() if ts else ""
    except ValueError:
        return ""


def _insert(conn: Conn, channel: str, cause: str, target: str, label: str, payload: dict, now: str,
            version: int = 1, due: str | None = None, digest: str | None = None, alert_id: str | None = None,
            site: str | None = None, kiosk: str | None = None, day: str | None = None) -> bool:
    cur = conn.execute(
        "insert into delivery_outbox(key, channel, cause, target, target_label, version, alert_id, "
        "site, kiosk, day, payload, digest, state, created_at, next_attempt_at) "
        "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) on conflict do nothing",
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


def _enqueue_alert(conn: Conn, cfg: DeliveryConfig, alert: dict, now: str) -> int:
    if conn.query_one("select 1 from delivery_cancelled where alert_id = ?", (alert["id"],)):
        return 0  # its cancellation was stored first (another consumer committed it earlier)
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


WITHDRAWN = "/withdrawn"  # the cause of the notices that an alert is withdrawn: the alert's cause + this


def _told(conn: Conn, where: str, args: tuple, tried: bool = True) -> set[str]:
    """The targets that got an alert's notification, or may have: a send under way or (`tried`)
    one tried before."""
    return {t for (t,) in conn.query(
        f"select target from delivery_outbox where {where} and channel = ? and "
        f"(state = ? or claimed_until is not null{' or attempts > 0' if tried else ''})", (*args, NOTIFY, DELIVERED))}


def _cancel_alert(conn: Conn, cfg: DeliveryConfig, alert_id: Any, now: str) -> int:
    """An alert undone at the kiosk: its notifications not sent yet are not sent any more; each
    target that was told, or is being told right now, gets a notice that it is withdrawn (the
    kiosk says "Återkallelsen har nått TL" once one is delivered). A target whose tries all
    failed is not told of an alert it never showed."""
    if not isinstance(alert_id, str):
        return 0
    told = _told(conn, "alert_id = ? and cause not like ?", (alert_id, "%" + WITHDRAWN), tried=False)
    conn.execute("insert into delivery_cancelled(alert_id, at) values (?, ?) on conflict (alert_id) do nothing",
                 (alert_id, now))
    conn.execute("update delivery_outbox set state = ?, last_error = ? where alert_id = ? and state in (?, ?) "
                 "and cause not like ? and (claimed_until is null or claimed_until <= ?)",
                 (CANCELLED, "the alert was undone at the kiosk", alert_id, *OPEN, "%" + WITHDRAWN, now))
    raised = conn.query_one("select payload from events where id = ? and type = 'alert_raised'", (alert_id,))
    if not told or raised is None:
        return 0
    alert = _alert_from_event(json.loads(raised[0]))
    alert["text"] = f"Larmet ångrades vid kiosken. Det gällde: {alert['text']}".strip()
    title, body = messages.withdrawn(alert, cfg.base_url)
    cause = _notify_cause(alert) + WITHDRAWN
    return sum(_insert(conn, NOTIFY, cause, t.id, redact.label(t.url), {"title": title, "body": body}, now,
                       alert_id=alert_id, site=alert["site"], kiosk=alert["kiosk"], day=alert["day"])
               for t in cfg.targets if t.id in told)


def _withdraw_alert(conn: Conn, cfg: DeliveryConfig, row: dict, now: str) -> int:
    """A clock alert central withdrew (`row`: the queue's row, its note in `text`): its
    notifications not delivered are not sent any more (one being sent right now finishes); each
    target that was told, or may have been (a send tried or under way), gets a notice that the
    alert is withdrawn."""
    cause = row["id"]
    told = _told(conn, "cause = ?", (cause,))
    conn.execute("update delivery_outbox set state = ?, last_error = ? where cause = ? and channel = ? "
                 "and state in (?, ?) and (claimed_until is null or claimed_until <= ?)",
                 (CANCELLED, "central withdrew the alert before it was delivered", cause, NOTIFY, *OPEN, now))
    alert = {"id": cause, "site": row["site"], "kiosk": row["kiosk"], "kind": row["kind"], "day": row["day"],
             "ts": row["ts"], "text": row["text"]}
    title, body = messages.withdrawn(alert, cfg.base_url)
    n = 0
    for t in cfg.targets:
        if t.id in told:
            n += _insert(conn, NOTIFY, cause + WITHDRAWN, t.id, redact.label(t.url), {"title": title, "body": body},
                         now, alert_id=cause, site=row["site"], kiosk=row["kiosk"], day=row["day"])
    return n


def _new_version(conn: Conn, channel: str, cause: str, target: str, label: str, payload: dict, digest: str,
                 now: str, due: str, **where) -> bool:
    """A new version of a day's list or a month's workbook, unless the latest has this digest;
    undelivered older versions are superseded (only the newest goes out)."""
    last = conn.query_one("select version, digest from delivery_outbox where cause = ? and target = ? "
                          "order by version desc limit 1", (cause, target))
    if last is not None and digest and last[1] == digest:
        return False
    version = (int(last[0]) + 1) if last else 1
    conn.execute("update delivery_outbox set state = ? where cause = ? and target = ? and state in (?, ?)",
                 (SUPERSEDED, cause, target, *OPEN))
    return _insert(conn, channel, cause, target, label, payload, now, version=version, due=due,
                   digest=digest, **where)


def _enqueue_billing(conn: Conn, cfg: DeliveryConfig, site: str, kiosk: str, day: str, now: dt.datetime) -> int:
    rows = conn.query("select payload from events where site = ? and kiosk = ? and day = ? "
                      "and type in ('scan_accepted', 'undone') order by ts, seq", (site, kiosk, day))
    scans = billing.accepted_scans(json.loads(r[0]) for r in rows)
    doc = billing.document(site, kiosk, day, scans, codes.seen_before(conn, site, kiosk, day, scans))
    digest = billing.digest(doc)
    cause = f"{site}/{kiosk}/{day}"
    if not scans and conn.query_one("select 1 from delivery_outbox where cause = ? limit 1", (cause,)) is None:
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


def enqueue_followup(conn: Conn, cfg: DeliveryConfig, month: str, now: dt.datetime, why: str) -> int:
    if cfg.followup_dir is None:
        return 0
    stamp = utc_iso(now)
    return int(_new_version(conn, FOLLOWUP, month, FOLLOWUP, str(cfg.followup_dir),
                            {"month": month, "why": why}, f"{why}@{stamp}", stamp, stamp, day=month))


def _alert_from_event(payload: dict) -> dict:
    data = payload.get("data") or {}
    return {"id": payload["id"], "site": payload["site"], "kiosk": payload["kiosk"], "kind": data.get("kind") or "",
            "text": data.get("text") or "", "ts": payload.get("ts"), "day": payload.get("day")}


def _alert_day(payload: str | None) -> str | None:
    try:
        day = (json.loads(payload or "{}") or {}).get("day")
    except (ValueError, AttributeError):
        return None
    return day if isinstance(day, str) else None


def _serialise(conn: Conn) -> None:
    """One deriver at a time (SQLite: the transaction's write lock already)."""
    if conn.engine == POSTGRESQL:
        conn.execute("select pg_advisory_xact_lock(?)", (_DERIVE_LOCK,))


def derive(db: Database, cfg: DeliveryConfig, now: dt.datetime) -> int:
    """Turn the queued rows (what central stored since) into outbox rows; returns how many rows
    were made. Each batch is one transaction that also deletes the rows it took from the queue,
    so it is safe to stop anywhere, to run again, and to run in several processes."""
    stamp, made = utc_iso(now), 0
    while True:
        with db.transaction() as conn:
            _serialise(conn)
            queued = list(conn.dicts("select * from delivery_queue order by n limit ?", (BATCH,)))
            days: set[tuple[str, str, str]] = set()
            months: set[str] = set()
            for r in queued:
                if r["source"] == "alerts":
                    alert = {k: r[k] for k in ("id", "site", "kiosk", "kind", "text", "ts")}
                    alert["day"] = _alert_day(r["payload"])
                    made += _enqueue_alert(conn, cfg, alert, stamp)
                    continue
                if r["source"] == "withdrawn":
                    made += _withdraw_alert(conn, cfg, r, stamp)
                    continue
                kind = r["type"]
                if kind in ("scan_accepted", "undone"):
                    days.add((r["site"], r["kiosk"], r["day"]))
                elif kind == "day_closed":
                    months.add(r["day"][:7])
                elif kind == "alert_raised":
                    made += _enqueue_alert(conn, cfg, _alert_from_event(json.loads(r["payload"])), stamp)
                elif kind == "alert_cancelled":
                    made += _cancel_alert(conn, cfg, (json.loads(r["payload"]).get("data") or {}).get("alert"), stamp)
            codes.record(conn, sorted(days))
            for site, kiosk, day in sorted(days):
                made += _enqueue_billing(conn, cfg, site, kiosk, day, now)
            for month in sorted(months):
                made += enqueue_followup(conn, cfg, month, now, "day_closed")
            # by the rows' own numbers: a row another writer commits meanwhile stays for the next
            conn.executemany("delete from delivery_queue where n = ?", [(r["n"],) for r in queued])
        if len(queued) < BATCH:
            break
    # the follow-up workbook also at the configured local time on working days, once a day
    local = now.astimezone(cfg.rules.tz)
    if cfg.followup_dir is not None and local.time() >= cfg.followup_time and \
            cfg.rules.calendar.is_working_day(local.date()):
        mark = int(local.strftime("%Y%m%d"))
        with db.transaction() as conn:
            _serialise(conn)
            if _cursor(conn, "followup_daily") < mark:
                made += enqueue_followup(conn, cfg, local.strftime("%Y-%m"), now, "daily")
                _set_cursor(conn, "followup_daily", mark)
    return made


_DUE_WHERE = "state in (?, ?) and next_attempt_at <= ? and (claimed_until is null or claimed_until <= ?)"


def claim(db: Database, now: dt.datetime, lease_s: float, limit: int = 100, lane: str | None = None) -> list[dict]:
    """The due rows (of one lane: a target id, `billing_file`, `billing_post`, `followup`),
    claimed for `lease_s` seconds in one statement: another worker (a second central process)
    does not take them meanwhile (PostgreSQL: rows another worker is claiming are skipped, not
    waited for); a worker that dies lets its claim lapse, and the row is sent again (with the
    same idempotency key) after the lease."""
    stamp = utc_iso(now)
    until = utc_iso(now + dt.timedelta(seconds=lease_s))
    where, args = _DUE_WHERE, [*OPEN, stamp, stamp]
    if lane is not None:
        where += " and target = ?"
        args.append(lane)
    due = f"select n from delivery_outbox where {where} order by n limit ?" + \
        (" for update skip locked" if db.engine == POSTGRESQL else "")
    with db.transaction() as conn:
        rows = list(conn.dicts(f"update delivery_outbox set claimed_until = ? where n in ({due}) returning *",
                               (until, *args, limit)))
    return sorted(rows, key=lambda r: r["n"])


def due_lanes(db: Database, now: dt.datetime) -> list[str]:
    """The lanes (targets) with a delivery due at `now`, read only."""
    stamp = utc_iso(now)
    return [t for (t,) in db.query(f"select distinct target from delivery_outbox where {_DUE_WHERE} order by target",
                                   (*OPEN, stamp, stamp))]


def adopt(db: Database, cfg: DeliveryConfig) -> int:
    """Open deliveries follow their target's name: rows made before the target had a name (its
    id then derived from its URL) become the named target's, and every open row of a target
    shows its current (redacted) URL. Returns the rows changed."""
    n = 0
    with db.transaction() as conn:
        for t in cfg.targets:
            if t.name:
                n += conn.execute(
                    "update delivery_outbox set target = ? where target = ? and state in (?, ?) and not exists "
                    "(select 1 from delivery_outbox o where o.cause = delivery_outbox.cause and o.target = ? "
                    "and o.version = delivery_outbox.version)", (t.id, t.url_id, *OPEN, t.id)).rowcount
            label = redact.label(t.url)
            n += conn.execute("update delivery_outbox set target_label = ? where target = ? and target_label <> ? "
                              "and state in (?, ?)", (label, t.id, label, *OPEN)).rowcount
    return n


def stuck(db: Database, cfg: DeliveryConfig, now: dt.datetime, limit: int = 200) -> list[dict]:
    """Open deliveries a person must look at: their target is gone from the config, or they have
    waited longer than `delivery.stuck_after_minutes` on a target that keeps failing (tried
    themselves, or waiting behind the lane's failing row)."""
    lanes = cfg.lanes()
    since = utc_iso(now - dt.timedelta(seconds=cfg.stuck_after_s))
    failing = dict(db.query("select target, last_error from delivery_outbox where state = ? "
                            "order by last_attempt_at", (FAILING,)))  # each lane's latest error
    out = []
    for r in db.dicts("select n, channel, cause, target, target_label, alert_id, site, kiosk, day, payload, state, "
                      "attempts, last_error, created_at, last_attempt_at, next_attempt_at from delivery_outbox "
                      "where state in (?, ?) order by n", OPEN):
        gone = r["target"] not in lanes
        if gone or (r["target"] in failing and r["created_at"] <= since):
            out.append({**r, "gone": gone, "last_error": r["last_error"] or failing.get(r["target"])})
            if len(out) >= limit:
                break
    return out


def retry_now(db: Database, n: int, now: dt.datetime) -> bool:
    """"Skicka igen": an open delivery is due at once (its target's lane takes it next)."""
    with db.transaction() as conn:
        return conn.execute("update delivery_outbox set next_attempt_at = ?, claimed_until = null "
                            "where n = ? and state in (?, ?)", (utc_iso(now), n, *OPEN)).rowcount == 1


def release(db: Database, n: int, now: dt.datetime, who: str) -> bool:
    """"Släpp": an open delivery is never sent; who let it go and when are kept."""
    with db.transaction() as conn:
        return conn.execute("update delivery_outbox set state = ?, released_by = ?, released_at = ?, "
                            "claimed_until = null where n = ? and state in (?, ?)",
                            (RELEASED, who, utc_iso(now), n, *OPEN)).rowcount == 1


def mark_delivered(db: Database, n: int, now: dt.datetime) -> bool:
    """Marked delivered once: a second mark of the same row changes nothing."""
    with db.transaction() as conn:
        cur = conn.execute("update delivery_outbox set state = ?, delivered_at = ?, last_attempt_at = ?, "
                           "attempts = attempts + 1, last_error = null, claimed_until = null "
                           "where n = ? and state in (?, ?)", (DELIVERED, utc_iso(now), utc_iso(now), n, *OPEN))
        return cur.rowcount == 1


def mark_failed(db: Database, n: int, now: dt.datetime, error: str, cfg: DeliveryConfig) -> None:
    """The row failed: it is retried after its backoff (doubling per attempt up to the cap), and
    the other open rows of its lane (its target) wait at least as long: a failing target's lane
    pauses as a whole, in the database, so every worker and a "Skicka igen" (`retry_now`) see it."""
    with db.transaction() as conn:
        row = conn.query_one("select attempts, target from delivery_outbox where n = ?"
                             + (" for update" if conn.engine == POSTGRESQL else ""), (n,))
        attempts = (int(row[0]) if row else 0) + 1
        delay = min(cfg.backoff_max_s, cfg.backoff_min_s * 2 ** (attempts - 1))
        until = utc_iso(now + dt.timedelta(seconds=delay))
        conn.execute("update delivery_outbox set state = ?, attempts = ?, last_error = ?, last_attempt_at = ?, "
                     "next_attempt_at = ?, claimed_until = null where n = ? and state in (?, ?)",
                     (FAILING, attempts, error[:500], utc_iso(now), until, n, *OPEN))
        if row is not None:
            conn.execute("update delivery_outbox set next_attempt_at = ? where target = ? and n <> ? "
                         "and state in (?, ?) and next_attempt_at < ?", (until, row[1], n, *OPEN, until))
