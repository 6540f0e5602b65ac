"""What each page shows, as plain data from central's database (the materialised `web_` tables
and central's `kiosks`), with time injected. The templates only lay it out."""

from __future__ import annotations

import datetime as dt
import json

from ...clock import DEADLINE, TZ, deadline_for, parse_iso
from ...domain import PILE_NAMES, PILES, SCAN_ORDER
from .. import followup, summaries
from ..db import Conn
from . import charts, state

PHASE_NAMES = {"sorting": "Sortering", "scanning": "Skanning", "scanned": "Skanning klar", "closed": "Dagen avslutad"}
AMBER_FROM = dt.timedelta(minutes=30)
DEVICE_ALERT_NAMES = {"printer": "Skrivaren", "scanner": "Skannern", "shelf": "Hyllans lampor", "disk": "Lagringen",
                      "clock": "Klockan", "journal": "Journalen"}


def local(iso: str | None, fmt: str = "%H:%M") -> str:
    if not iso:
        return ""
    try:
        return parse_iso(iso).astimezone(TZ).strftime(fmt)
    except ValueError:
        return iso


def local_day(now: dt.datetime) -> str:
    return now.astimezone(TZ).date().isoformat()


def _kiosk_rows(conn: Conn) -> list[dict]:
    cur = conn.execute("select * from kiosks order by site, kiosk")
    names = [d[0] for d in cur.description]
    out = []
    for r in cur.fetchall():
        k = dict(zip(names, r))
        try:
            k["status_doc"] = json.loads(k.get("status") or "{}") or {}
        except ValueError:
            k["status_doc"] = {}
        out.append(k)
    return out


def _device(doc: dict, key: str) -> str:
    v = doc.get(key)
    if v is None:
        return "okänt"
    if isinstance(v, dict):
        v = v.get("text") or v.get("state") or v.get("status")
    if isinstance(v, bool):
        return "OK" if v else "FEL"
    return str(v)


def deadline_view(day: str, row: dict | None, now: dt.datetime) -> dict:
    """The 14:00 line of a card: text and colour class ("ok", "amber", "red", "")."""
    deadline = deadline_for(dt.date.fromisoformat(day), DEADLINE, TZ)
    met = (row or {}).get("deadline_met")
    at = local((row or {}).get("scan_done_at"))
    if met == 1:
        return {"text": f"Skanningen klar {at}, före 14:00" if at else "Klart före 14:00", "cls": "ok"}
    if met == 0:
        if at:
            return {"text": f"Skanningen klar {at}, efter 14:00", "cls": "red"}
        return {"text": "Skanningen blev inte klar före 14:00", "cls": "red"}
    if now >= deadline:
        return {"text": "14:00 har passerat: skanningen är inte klar", "cls": "red"}
    left = deadline - now
    minutes = int(left.total_seconds() // 60)
    text = f"{minutes // 60} h {minutes % 60:02d} min kvar till 14:00" if minutes >= 60 else f"{minutes} min kvar till 14:00"
    return {"text": text, "cls": "amber" if left <= AMBER_FROM else ""}


def today(conn: Conn, now: dt.datetime) -> dict:
    day = local_day(now)
    rows = {(r["site"], r["kiosk"]): r for r in summaries.day_rows(conn, day, day)}
    open_by_kiosk: dict[tuple[str, str], int] = {}
    for a in state.alerts(conn, day=day):
        if a["open"]:
            open_by_kiosk[(a["site"], a["kiosk"])] = open_by_kiosk.get((a["site"], a["kiosk"]), 0) + 1
    kiosks = {(k["site"], k["kiosk"]): k for k in _kiosk_rows(conn)}
    cards = []
    for key in sorted(set(kiosks) | set(rows)):
        k = kiosks.get(key, {"status_doc": {}})
        r = rows.get(key)
        doc = k["status_doc"]
        summary = json.loads(r["summary"]) if r else None
        seen = max(filter(None, [k.get("status_at"), k.get("last_event_at")]), default=None)
        piles = []
        for p in PILES:
            scanned = (summary or {}).get("scanned", {}).get(p) if p in SCAN_ORDER else None
            sorted_n = (summary or {}).get("counts", {}).get(p, 0)
            piles.append({"id": p, "name": PILE_NAMES[p], "sorted": sorted_n, "scanned": scanned,
                          "short": scanned is not None and scanned < sorted_n,
                          "current": r is not None and r.get("current_pile") == p})
        cards.append({
            "site": key[0], "kiosk": key[1], "id": f"{key[0]}__{key[1]}",
            "online": k.get("online"), "seen": local(seen, "%Y-%m-%d %H:%M") if seen else "aldrig",
            "seen_today": bool(seen) and local(seen, "%Y-%m-%d") == day,
            "operator": (r or {}).get("operator"),
            "phase": PHASE_NAMES.get((r or {}).get("phase") or "", "") if r else "Ingen aktivitet i dag",
            "current_pile": PILE_NAMES.get((r or {}).get("current_pile") or "", ""),
            "piles": piles, "deadline": deadline_view(day, r, now),
            "labels": (r or {}).get("labels_printed", 0), "cover_slips": (r or {}).get("cover_slips_printed", 0),
            "pending": k.get("status_pending"), "printer": _device(doc, "printer"), "scanner": _device(doc, "scanner"),
            "version": doc.get("version", ""), "open_alerts": open_by_kiosk.get(key, 0),
            "events": (r or {}).get("events", 0),
        })
    return {"day": day, "cards": cards, "now": now.astimezone(TZ).strftime("%H:%M:%S")}


def alerts_page(conn: Conn, now: dt.datetime, days: int = 31) -> dict:
    since = (now.astimezone(TZ).date() - dt.timedelta(days=days)).isoformat()
    items = state.alerts(conn, since=since)
    for a in items:
        a["when"] = local(a["ts"], "%Y-%m-%d %H:%M")
        a["kind_name"] = DEVICE_ALERT_NAMES.get(a["kind"]) or followup.ALERT_KIND_NAMES.get(a["kind"]) or \
            f"Kiosklarm ({a['kind']})"
        for key in ("acknowledged", "answer", "cleared"):
            if a[key]:
                a[key] = {**a[key], "when": local(a[key]["at"], "%Y-%m-%d %H:%M")}
    return {"alerts": items, "open": sum(1 for a in items if a["open"]), "since": since}


def parse_day(text: str | None, default: dt.date) -> dt.date:
    if not text:
        return default
    return dt.date.fromisoformat(text)


def followup_page(conn: Conn, now: dt.datetime, date_from: dt.date, date_to: dt.date,
                  show: int = 400) -> dict:
    """The page: the first `show` rows, and count and totals over the whole range from SQL (the
    same numbers as `followup.totals` of every row; tests/test_web_core.py checks it)."""
    lo, hi = date_from.isoformat(), date_to.isoformat()
    rows = followup.sheet_rows(_limited(conn, lo, hi, show), now)
    cases = followup.case_rows(summaries.iter_day_rows(conn, lo, hi), limit=show)
    return {"rows": rows, "count": _count(conn, lo, hi), "total": sql_totals(conn, lo, hi, now),
            "cases": cases, "from": lo, "to": hi,
            "columns": followup.COLUMNS, "numbers": set(followup.NUMBER_COLUMNS)}


def full_sheet(conn: Conn, now: dt.datetime, date_from: dt.date, date_to: dt.date) -> tuple[list, dict]:
    """Every row of the range and their totals (for the downloads)."""
    rows = followup.sheet_rows(summaries.iter_day_rows(conn, date_from.isoformat(), date_to.isoformat(),
                                                       summary=False), now)
    return rows, followup.totals(rows)


def _limited(conn, lo: str, hi: str, show: int):
    it = summaries.iter_day_rows(conn, lo, hi, summary=False)
    for i, row in enumerate(it):
        if i >= show:
            break
        yield row


def _count(conn, lo: str, hi: str) -> int:
    return conn.execute("select count(*) from web_days where day >= ? and day <= ?", [lo, hi]).fetchone()[0]


def sql_totals(conn: Conn, lo: str, hi: str, now: dt.datetime) -> dict:
    """`followup.totals` computed by SQL over the materialised days."""
    keys = [key for _, key in followup._NUMBER_COLUMNS + followup._ALERT_COLUMNS]
    today = now.astimezone(TZ).date()
    passed = now >= deadline_for(today, DEADLINE, TZ)
    # decided: scanning done, or the day closed, or its 14:00 has passed (followup.deadline_text)
    decided = ("deadline_met is not null or day < ? or (day = ? and ?)")
    sql = (f"select {', '.join(f'coalesce(sum([{k}]), 0)' for k in keys)}, "
           f"coalesce(sum(deadline_met = 1), 0), coalesce(sum({decided}), 0) "
           "from web_days where day >= ? and day <= ?")
    row = conn.execute(sql, [today.isoformat(), today.isoformat(), int(passed), lo, hi]).fetchone()
    out: dict = {c: "" for c in followup.COLUMNS}
    out[followup.DATE] = "Summa"
    names = [n for n, _ in followup._NUMBER_COLUMNS + followup._ALERT_COLUMNS]
    for name, v in zip(names, row):
        out[name] = int(v)
    yes, dec = int(row[-2]), int(row[-1])
    out[followup.DEADLINE_COL] = f"Ja {yes} av {dec}" if dec else ""
    return out


def all_cases(conn: Conn, date_from: dt.date, date_to: dt.date) -> list[dict]:
    return followup.case_rows(summaries.iter_day_rows(conn, date_from.isoformat(), date_to.isoformat()))


RETURN_COLUMNS = ("Streckkod", "Hög", "Plats", "Kiosk", "Tid")


def returns(conn: Conn, day: dt.date) -> list[dict]:
    """The day's accepted scans (what the Releasy form received), in scan order per pile."""
    out = []
    for r in summaries.day_rows(conn, day.isoformat(), day.isoformat()):
        for scan in json.loads(r["summary"])["scans"]["accepted"]:
            out.append({"Streckkod": scan["code"], "Hög": PILE_NAMES.get(scan["pile"], scan["pile"]),
                        "pile": scan["pile"], "Plats": r["site"], "Kiosk": r["kiosk"], "Tid": local(scan["at"]),
                        "at": scan["at"]})
    order = {p: i for i, p in enumerate(SCAN_ORDER)}
    out.sort(key=lambda s: (order.get(s["pile"], 99), s["Plats"], s["Kiosk"], s["at"]))
    return out


def kiosk_names(conn: Conn) -> list[str]:
    return [f"{s}/{k}" for s, k in conn.execute("select site, kiosk from kiosks order by site, kiosk")]


def history(conn: Conn, date_from: dt.date, date_to: dt.date, kiosk: str | None = None) -> dict:
    """Charts over the range, per day (up to 92 days) or per ISO week, for one kiosk or all."""
    weekly = (date_to - date_from).days > 92
    where, args = "day >= ? and day <= ?", [date_from.isoformat(), date_to.isoformat()]
    if kiosk and "/" in kiosk:
        s, k = kiosk.split("/", 1)
        where += " and site = ? and kiosk = ?"
        args += [s, k]
    cols = ", ".join(f"sum(count_{p})" for p in PILES)
    sql = (f"select day, {cols}, sum(scans_accepted), sum(scans_rejected), sum(deadline_met = 1), "
           f"sum(deadline_met is not null), sum(alerts_bestridan), sum(alerts_tillfalliga), "
           f"sum(alerts_deadline_missed) from web_days where {where} group by day order by day")
    buckets: dict[str, list[float]] = {}
    order: list[str] = []
    for row in conn.execute(sql, args):
        day = dt.date.fromisoformat(row[0])
        if weekly:
            y, w, _ = day.isocalendar()
            key = f"{y}-v{w:02d}"
        else:
            key = day.strftime("%d/%m")
        if key not in buckets:
            buckets[key] = [0.0] * (len(row) - 1)
            order.append(key)
        acc = buckets[key]
        for i, v in enumerate(row[1:]):
            acc[i] += v or 0
    n = len(PILES)
    col = lambda i: [buckets[k][i] for k in order]  # noqa: E731
    rate = [100.0 * buckets[k][n + 2] / buckets[k][n + 3] if buckets[k][n + 3] else 0.0 for k in order]
    unit = "vecka" if weekly else "dag"
    figs = [
        charts.bar_chart(f"Brev per hög och {unit}", order, [(PILE_NAMES[p], col(i)) for i, p in enumerate(PILES)]),
        charts.bar_chart(f"Skanningar per {unit}", order, [("Godkända", col(n)), ("Avvisade", col(n + 1))]),
        charts.bar_chart(f"Klart före 14:00 (andel av dagarna) per {unit}", order, [("Före 14:00", rate)], percent=True),
        charts.bar_chart(f"Larm per typ och {unit}", order,
                         [("Bestridan", col(n + 4)), ("Tillfälligt utskick", col(n + 5)), ("Ej klart 14:00", col(n + 6))]),
    ]
    return {"charts": figs, "weekly": weekly, "from": date_from.isoformat(), "to": date_to.isoformat(),
            "kiosk": kiosk or "", "buckets": len(order)}


def fleet(conn: Conn) -> list[dict]:
    """Every kiosk: version, last status, unsent and unconfirmed events, seq gaps, dead letters,
    clock synchronised at the last sign-in."""
    dead: dict[tuple[str, str], int] = {}
    for topic, n in conn.execute("select topic, count(*) from dead_letters group by topic"):
        parts = str(topic).split("/")
        if len(parts) >= 4:
            dead[(parts[2], parts[3])] = dead.get((parts[2], parts[3]), 0) + n
    # SQLite: with max(), the bare column comes from the row holding the maximum (the latest day)
    synced = {(s, k): v for s, k, v, _ in conn.execute(
        "select site, kiosk, clock_synced, max(day) from web_days where clock_synced is not null group by site, kiosk")}
    out = []
    for k in _kiosk_rows(conn):
        key = (k["site"], k["kiosk"])
        gaps = _gaps(conn, k)
        doc = k["status_doc"]
        acked = k.get("status_last_seq") or 0
        out.append({
            "site": k["site"], "kiosk": k["kiosk"], "version": doc.get("version", ""),
            "online": k.get("online"), "status_at": local(k.get("status_at"), "%Y-%m-%d %H:%M"),
            "last_event_at": local(k.get("last_event_at"), "%Y-%m-%d %H:%M"),
            "pending": k.get("status_pending"), "unconfirmed": max(0, acked - (k.get("max_seq") or 0)),
            "max_seq": k.get("max_seq") or 0, "events": k.get("events") or 0, "gaps": gaps,
            "dead": max(dead.get(key, 0), k.get("dead_letters") or 0), "clock_synced": synced.get(key),
        })
    return out


def _gaps(conn: Conn, k: dict) -> list[str]:
    """Missing seq ranges of one kiosk, per journal, as `kiosk central --gaps` finds them: above
    each journal's contiguous `acked_seq` (central's `journals` table), between the events stored
    above it, and up to what the kiosk's status says it has. Cheap when there are none."""
    site, kiosk = k["site"], k["kiosk"]
    out: list[str] = []
    if not conn.execute("select 1 from sqlite_master where type = 'table' and name = 'journals'").fetchone():
        return out  # a central database from before journal ids: `kiosk central` adds the table
    rows = conn.execute("select journal, acked_seq, max_seq, kiosk_last_seq from journals where site = ? and kiosk = ? "
                        "order by n", [site, kiosk]).fetchall()
    several = len(rows) > 1
    for jid, acked, top, last in rows:
        acked, top = acked or 0, top or 0
        name = f" (journal {str(jid)[:8]})" if several and jid else ""
        prev = acked
        if top > acked:
            for (seq,) in conn.execute("select seq from events where site = ? and kiosk = ? and journal is ? "
                                       "and seq > ? order by seq", [site, kiosk, jid, acked]):
                if seq > prev + 1:
                    out.append(f"{prev + 1}–{seq - 1}{name}")
                prev = seq
        if last is not None and last > prev:
            out.append(f"{prev + 1}–{last} (ej mottagna än){name}")
    return out
