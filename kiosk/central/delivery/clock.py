"""The shell of the clock alerts: read central's facts at `now`, let the pure rules of
`kiosk.central.clock_alerts` decide, and store what they raise in `alerts` (same columns as a
kiosk's alerts, so the web app shows them and the outbox notifies them)."""

from __future__ import annotations

import datetime as dt
import json
import logging

from ... import routine
from ...clock import parse_iso, utc_iso
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


def raise_due(db: Database, now: dt.datetime, r: rules.Rules) -> list[rules.ClockAlert]:
    """Evaluate the clock rules at `now` and store the new alerts (one transaction; an alert id is
    one per site, kiosk, kind and day, so two central processes raising it at once store it once)."""
    if "alerts" not in db.table_names() or not r.calendar.is_working_day(now.astimezone(r.tz).date()):
        return []
    with db.transaction() as conn:
        sites, raised = facts(conn, now, r)
        new = rules.evaluate(now, sites, raised, r)
        stamp = utc_iso(now)
        for a in new:
            conn.execute("insert into alerts(id, site, kiosk, kind, text, ts, seq, payload, received_at) "
                         "values (?,?,?,?,?,?,?,?,?) on conflict (id) do nothing",
                         (a.id, a.site, a.kiosk, a.kind, a.text, a.ts, None,
                          json.dumps(a.as_payload(), ensure_ascii=False), stamp))
    for a in new:
        log.info("clock alert: %s %s/%s %s", a.kind, a.site, a.kiosk, a.day)
    return new
