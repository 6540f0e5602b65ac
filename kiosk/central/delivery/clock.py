"""The shell of the clock alerts: read central's facts at `now`, let the pure rules of
`kiosk.central.clock_alerts` decide, and store what they raise in `alerts` (same columns as a
kiosk's alerts, so the web app shows them and the outbox notifies them)."""

from __future__ import annotations

import datetime as dt
import json
import logging

from ...core import routine
from ...core.clock import parse_iso, utc_iso
from .. import clock_alerts as rules
from ..db import Conn, Database

log = logging.getLogger(__name__)


def _when(text) -> dt.datetime | None:
    try:
        return parse_iso(text) if text else None
    except ValueError:
        return None


def _day_bounds(day: dt.date, tz) -> tuple[str, str]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return utc_iso(start), utc_iso(end)


def facts(conn: Conn, now: dt.datetime, r: rules.Rules) -> tuple[list[rules.SiteFacts], set[tuple[str, str, str]]]:
    """The sites and kiosks central knows, and the (site, kiosk, kind) already raised today."""
    have = conn.table_names()
    if "kiosks" not in have or "events" not in have:
        return [], set()
    day = now.astimezone(r.tz).date()
    iso = day.isoformat()
    raised: set[tuple[str, str, str]] = set()
    if "alerts" in have:
        lo, hi = _day_bounds(day, r.tz)
        for a in conn.query("select site, kiosk, kind from alerts where ts >= ? and ts < ?", (lo, hi)):
            raised.add((a[0], a[1], a[2]))
    for (payload,) in conn.query("select payload from events where day = ? and type = 'alert_raised'", (iso,)):
        ev = json.loads(payload)
        raised.add((ev["site"], ev["kiosk"], (ev.get("data") or {}).get("kind")))
    cols = set(conn.columns("kiosks"))
    kiosks: dict[str, list[rules.KioskFacts]] = {}
    for k in list(conn.dicts("select * from kiosks order by site, kiosk")):
        status: dict = {}
        try:
            status = json.loads(k.get("status") or "{}") or {}
        except ValueError:
            pass
        state = routine.DayState()
        if now.astimezone(r.tz).time() >= r.deadline and (k["site"], k["kiosk"], "deadline_missed") not in raised:
            # the day's piles matter only after the deadline, and only until it is raised
            state = routine.replay(json.loads(row[0]) for row in conn.query(
                "select payload from events where site = ? and kiosk = ? and day = ? order by ts, seq",
                (k["site"], k["kiosk"], iso)))
        status_at = _when(k.get("status_at"))
        seen = [t for t in (status_at, _when(k.get("last_event_at") if "last_event_at" in cols else None)) if t]
        online = k.get("online")
        kiosks.setdefault(k["site"], []).append(rules.KioskFacts(
            site=k["site"], kiosk=k["kiosk"], online=None if online is None else bool(online),
            status_at=status_at, last_seen=max(seen) if seen else None,
            unscanned=rules.unscanned_piles(state.counts, state.phase, state.scan_index),
            printer=status.get("printer") if isinstance(status.get("printer"), dict) else None))
    sites = []
    for site, ks in kiosks.items():
        signed = conn.query_one("select 1 from events where site = ? and day = ? and type = 'signed_in' limit 1",
                                (site, iso)) is not None
        sites.append(rules.SiteFacts(site, signed, tuple(ks)))
    return sites, raised


WITHDRAW_DAYS = 7  # central's clock alerts of this many days back may still be withdrawn


def _mark_dirty(conn: Conn, site: str, kiosk: str, day: str) -> None:
    """The web app's copy of that day is folded again (it copies the day's alerts)."""
    conn.execute("insert into summary_dirty(site, kiosk, day, n) values (?,?,?,1) on conflict "
                 "(site, kiosk, day) do update set n = summary_dirty.n + 1", (site, kiosk, day))


def raised_facts(conn: Conn, now: dt.datetime, r: rules.Rules) -> list[rules.RaisedFacts]:
    """Central's own clock alerts of the last days that are not withdrawn, with what the events
    stored since say about them."""
    since = (now.astimezone(r.tz).date() - dt.timedelta(days=WITHDRAW_DAYS)).isoformat()
    out = []
    for aid, site, kiosk, kind, day, payload in conn.query(
            "select id, site, kiosk, kind, day, payload from alerts where day >= ? and withdrawn_at is null "
            "and kind in ('no_activity', 'deadline_missed') order by day, id", (since,)):
        try:
            source = (json.loads(payload or "{}") or {}).get("source")
        except (ValueError, AttributeError):
            source = None
        if source != "central":
            continue
        if kind == "no_activity":
            first = conn.query_one("select ts, kiosk from events where site = ? and day = ? and type = 'signed_in' "
                                   "order by ts limit 1", (site, day))
            out.append(rules.RaisedFacts(aid, site, kiosk, kind, day, first_sign_in=_when(first[0]) if first else None,
                                         signed_in_at=first[1] if first else ""))
        else:
            state = routine.replay(json.loads(p) for (p,) in conn.query(
                "select payload from events where site = ? and kiosk = ? and day = ? order by ts, seq",
                (site, kiosk, day)))
            out.append(rules.RaisedFacts(aid, site, kiosk, kind, day, scan_done_at=_when(state.scan_done_at)))
    return out


def _withdraw(conn: Conn, w: rules.Withdrawal, now: dt.datetime) -> None:
    """Mark it withdrawn with its note, fold its day again, and queue the notice for the targets
    that may have been told (the delivery queue, in this very transaction)."""
    stamp = utc_iso(now)
    cur = conn.execute("update alerts set withdrawn_at = ?, note = ? where id = ? and withdrawn_at is null",
                       (stamp, w.note, w.id))
    if not cur.rowcount:
        return
    _mark_dirty(conn, w.site, w.kiosk, w.day)
    if "delivery_queue" in conn.table_names():
        conn.execute("insert into delivery_queue(source, id, site, kiosk, day, kind, text, ts) "
                     "values ('withdrawn', ?, ?, ?, ?, ?, ?, ?)", (w.id, w.site, w.kiosk, w.day, w.kind, w.note, stamp))


def raise_due(db: Database, now: dt.datetime, r: rules.Rules) -> list[rules.ClockAlert]:
    """Evaluate the clock rules at `now` and store the new alerts with their local day (one
    transaction; an alert id is one per site, kiosk, kind and day, so two central processes
    raising it at once store it once); and withdraw the ones later events proved false."""
    if "alerts" not in db.table_names():
        return []
    new: list[rules.ClockAlert] = []
    with db.transaction() as conn:
        if r.calendar.is_working_day(now.astimezone(r.tz).date()):
            sites, raised = facts(conn, now, r)
            new = rules.evaluate(now, sites, raised, r)
        stamp = utc_iso(now)
        for a in new:
            cur = conn.execute("insert into alerts(id, site, kiosk, kind, text, ts, seq, payload, received_at, day) "
                               "values (?,?,?,?,?,?,?,?,?,?) on conflict (id) do nothing",
                               (a.id, a.site, a.kiosk, a.kind, a.text, a.ts, None,
                                json.dumps(a.as_payload(), ensure_ascii=False), stamp, a.day))
            if cur.rowcount:
                _mark_dirty(conn, a.site, a.kiosk, a.day)
        gone = rules.withdrawals(raised_facts(conn, now, r), r)
        for w in gone:
            _withdraw(conn, w, now)
    for a in new:
        log.info("clock alert: %s %s/%s %s", a.kind, a.site, a.kiosk, a.day)
    for w in gone:
        log.info("clock alert withdrawn: %s %s/%s %s", w.kind, w.site, w.kiosk, w.day)
    return new
