"""What each page shows, as plain data from central's database (the materialised `web_` tables
and central's `kiosks`), with time injected. The templates only lay it out."""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from ...core.clock import DEADLINE, TZ, deadline_for, parse_iso
from ...core.domain import PILE_NAMES, PILES, SCAN_ORDER
from ...core.printouts import deadline_verdict
from ...core import followup
from .. import summaries
from ..clock_alerts import KINDS as CLOCK_KINDS
from ..clock_alerts import SITE_WIDE
from ..clock_alerts import alert_id as clock_alert_id
from ..delivery.messages import KIND_TITLES
from ..db import POSTGRESQL, SQLITE, Conn
from . import charts, state

PHASE_NAMES = {"sorting": "Sortering", "scanning": "Skanning", "scanned": "Skanning klar", "closed": "Dagen avslutad"}
AMBER_FROM = dt.timedelta(minutes=30)
DEVICE_ALERT_NAMES = {"printer": "Skrivaren", "scanner": "Skannern", "shelf": "Hyllans lampor", "disk": "Lagringen",
                      "clock": "Klockan", "journal": "Journalen"}


@functools.lru_cache(maxsize=65536)
def local(iso: str | None, fmt: str = "%H:%M") -> str:
    """A stored UTC time as local wall-clock text (cached: pages show the same times poll after poll)."""
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


# the printer's states in a kiosk's status (kiosk/shelf/hw/printer.py) as the card says them
PRINTER_STATES = {"ok": "OK", "offline": "inte ansluten", "no_paper": "slut på papper", "error": "fel"}


def _device(doc: dict, key: str) -> str:
    v = doc.get(key)
    if v is None:
        return "okänt"
    kept = 0
    if isinstance(v, dict):
        if v.get("text"):
            return str(v["text"])
        n = v.get("kept")
        kept = n if isinstance(n, int) and not isinstance(n, bool) else 0
        v = v.get("state") or v.get("status")
    if isinstance(v, bool):
        return "OK" if v else "FEL"
    text = PRINTER_STATES.get(str(v), f"okänt läge ({v})")
    return f"{text}, {kept} utskrift{'' if kept == 1 else 'er'} väntar" if kept > 0 else text


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
    if row and deadline_verdict(row) == "none" and (now >= deadline or row.get("phase") == "closed"):
        # the kiosk's "Före 14:00: –": no barcoded mail that day, so nothing was late
        return {"text": "Inga streckkodsbrev i dag: ingen 14:00-gräns", "cls": ""}
    if now >= deadline:
        return {"text": "14:00 har passerat: skanningen är inte klar", "cls": "red"}
    left = deadline - now
    minutes = int(left.total_seconds() // 60)
    text = f"{minutes // 60} h {minutes % 60:02d} min kvar till 14:00" if minutes >= 60 else f"{minutes} min kvar till 14:00"
    return {"text": text, "cls": "amber" if left <= AMBER_FROM else ""}


TODAY_COLUMNS = ("site", "kiosk", "operator", "phase", "current_pile", "deadline_met", "barcoded_mail", "scan_done_at",
                 "labels_printed", "cover_slips_printed", "scans_accepted", "events", "last_ts", "updated_at",
                 *(f"count_{p}" for p in PILES))
_scanned_cache: dict[tuple[str, str, str], tuple[tuple, dict]] = {}


def _today_rows(conn, day: str) -> dict[tuple[str, str], dict]:
    """Today's materialised rows without their summary JSON, plus `scanned` per pile: parsed from
    the summary only for a row that changed since the last look (its own columns are the key)."""
    rows: dict[tuple[str, str], dict] = {}
    cur = conn.execute(f"select {', '.join(summaries.q(c) for c in TODAY_COLUMNS)} from web_days where day = ?", [day])
    for r in cur.fetchall():
        rows[(r[0], r[1])] = dict(zip(TODAY_COLUMNS, r))
    stale = []
    for key, r in rows.items():
        hit = _scanned_cache.get((*key, day))
        if hit is not None and hit[0] == tuple(r.values()):
            r["scanned"] = hit[1]
        else:
            stale.append(key)
    if stale:
        wanted = set(stale)
        every = len(stale) > 10  # many: one scan of the day beats one query per kiosk
        found = (conn.execute("select site, kiosk, summary from web_days where day = ?", [day]).fetchall() if every
                 else [r for s, k in stale for r in conn.execute(
                     "select site, kiosk, summary from web_days where day = ? and site = ? and kiosk = ?",
                     [day, s, k]).fetchall()])
        if len(_scanned_cache) > 20_000:
            _scanned_cache.clear()
        for s, k, text in found:
            if (s, k) not in wanted or (s, k) not in rows:
                continue
            scanned = (json.loads(text) or {}).get("scanned", {})
            r = rows[(s, k)]
            _scanned_cache[(s, k, day)] = (tuple(r.values()), scanned)
            r["scanned"] = scanned
    return rows


def _open_alerts_by_kiosk(conn, day: str) -> dict[tuple[str, str], int]:
    """Open alerts per kiosk on `day` (not acknowledged, answered, cancelled nor withdrawn), as
    state.open_count; a site-wide alert (central's `no_activity`) counts on every kiosk of its site."""
    return {(s, k): int(n) for s, k, n in conn.execute(
        f"select a.site, a.kiosk, count(*) from web_alerts a where a.day = ? and a.kind is not null and {_OPEN} "
        "group by a.site, a.kiosk", [day]).fetchall()}


def _with_site_wide(open_by_kiosk: dict[tuple[str, str], int], keys) -> dict[tuple[str, str], int]:
    wide = {s: n for (s, k), n in open_by_kiosk.items() if k == SITE_WIDE}
    return {key: open_by_kiosk.get(key, 0) + wide.get(key[0], 0) for key in keys}


def today(conn: Conn, now: dt.datetime) -> dict:
    day = local_day(now)
    rows = _today_rows(conn, day)
    kiosks = {(k["site"], k["kiosk"]): k for k in _kiosk_rows(conn)}
    open_by_kiosk = _with_site_wide(_open_alerts_by_kiosk(conn, day), set(kiosks) | set(rows))
    cards = []
    for key in sorted(set(kiosks) | set(rows)):
        k = kiosks.get(key, {"status_doc": {}})
        r = rows.get(key)
        doc = k["status_doc"]
        seen = max(filter(None, [k.get("status_at"), k.get("last_event_at")]), default=None)
        piles = []
        for p in PILES:
            scanned = (r or {}).get("scanned", {}).get(p) if p in SCAN_ORDER else None
            sorted_n = (r or {}).get(f"count_{p}") or 0
            piles.append({"id": p, "name": PILE_NAMES[p], "sorted": sorted_n, "scanned": scanned,
                          "short": scanned is not None and scanned < sorted_n,
                          "current": r is not None and r.get("current_pile") == p})
        card = {
            "site": key[0], "kiosk": key[1], "id": f"{key[0]}__{key[1]}",
            "online": k.get("online"), "seen": local(seen, "%Y-%m-%d %H:%M") if seen else "aldrig",
            "seen_today": bool(seen) and local(seen, "%Y-%m-%d") == day,
            "operator": (r or {}).get("operator"),
            "phase": PHASE_NAMES.get((r or {}).get("phase") or "", "") if r else "Ingen aktivitet i dag",
            "current_pile": PILE_NAMES.get((r or {}).get("current_pile") or "", ""),
            "piles": piles, "deadline": deadline_view(day, r, now),
            "labels": (r or {}).get("labels_printed") or 0, "cover_slips": (r or {}).get("cover_slips_printed") or 0,
            "pending": k.get("status_pending"), "printer": _device(doc, "printer"), "scanner": _device(doc, "scanner"),
            "version": doc.get("version", ""), "open_alerts": open_by_kiosk.get(key, 0),
            "events": (r or {}).get("events") or 0,
        }
        card["html"] = card_html(card)
        cards.append(card)
    return {"day": day, "cards": cards, "now": now.astimezone(TZ).strftime("%H:%M:%S")}


_fragments_env: jinja2.Environment | None = None
_card_cache: dict[str, tuple[dict, Markup]] = {}
_fragments_lock = threading.Lock()


def _fragments() -> jinja2.Environment:
    global _fragments_env
    with _fragments_lock:
        if _fragments_env is None:
            _fragments_env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
                autoescape=True, trim_blocks=True, lstrip_blocks=True)
        return _fragments_env


def forget() -> None:
    """Drop every cached card, parsed summary and local time (the benchmark's first view)."""
    _card_cache.clear()
    _scanned_cache.clear()
    local.cache_clear()


def card_html(card: dict) -> Markup:
    """One kiosk's card (`_card.html`), rendered again only when something on it changed: the page
    polls every few seconds and most kiosks are unchanged between two polls."""
    key = {k: v for k, v in card.items() if k != "html"}
    hit = _card_cache.get(card["id"])
    if hit is not None and hit[0] == key:  # the card's every value, compared (not a digest)
        return hit[1]
    html = Markup(_fragments().get_template("_card.html").render(c=card))
    if len(_card_cache) > 20_000:
        _card_cache.clear()
    _card_cache[card["id"]] = (key, html)
    return html


ALERTS_PER_PAGE = 50


def page_number(text: str | None) -> int:
    """`?sida=N` of a paged page: 1 when absent or not a positive number."""
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


def _pager(page: int, count: int, per_page: int) -> dict:
    pages = max(1, -(-count // per_page))
    page = min(max(1, page), pages)
    return {"page": page, "pages": pages, "first": (page - 1) * per_page + 1 if count else 0,
            "last": min(count, page * per_page), "per_page": per_page}


# an alert is open while nobody acknowledged or answered it and the kiosk did not cancel it (state._fold)
_OPEN = ("a.cancelled_at is null and not exists (select 1 from web_alert_actions x where x.alert_id = a.id "
         "and x.action in ('ack', 'answer'))")


_ALERT_ORDER = f"order by case when {_OPEN} then 0 else 1 end, a.ts desc, a.id"


def alert_page_of(conn: Conn, now: dt.datetime, alert_id: str, days: int = 31,
                  per_page: int = ALERTS_PER_PAGE) -> int:
    """The page of `alerts_page` an alert is on now (1 when it is on none): after an action the
    alert moves (an acknowledged one goes after the open ones), and the page shown is its own."""
    since = (now.astimezone(TZ).date() - dt.timedelta(days=days)).isoformat()
    ids = [r[0] for r in conn.execute(f"select a.id from web_alerts a where a.kind is not null and a.day >= ? "
                                      f"{_ALERT_ORDER}", [since]).fetchall()]
    return ids.index(alert_id) // per_page + 1 if alert_id in ids else 1


def alerts_page(conn: Conn, now: dt.datetime, days: int = 31, page: int = 1,
                per_page: int = ALERTS_PER_PAGE) -> dict:
    """The alerts of the last `days` days, open ones first, newest first within each (as
    `state.alerts`), `per_page` a page: counted, ordered and paged in SQL, so only the page's
    alerts and their actions are read."""
    since = (now.astimezone(TZ).date() - dt.timedelta(days=days)).isoformat()
    total, open_n = conn.execute(f"select count(*), coalesce(sum(case when {_OPEN} then 1 else 0 end), 0) "
                                 "from web_alerts a where a.kind is not null and a.day >= ?", [since]).fetchone()
    pager = _pager(page, int(total), per_page)
    rows = conn.execute("select a.id, a.site, a.kiosk, a.day, a.kind, a.text, a.ts, a.source, a.cancelled_at, a.note "
                        f"from web_alerts a where a.kind is not null and a.day >= ? {_ALERT_ORDER} limit ? offset ?",
                        [since, per_page, max(0, pager["first"] - 1)]).fetchall()
    acts: dict[str, list] = {}
    if rows:
        ids = [r[0] for r in rows]
        for aid, action, who, at, text in conn.execute(
                f"select alert_id, action, who, at, text from web_alert_actions where alert_id in "
                f"({','.join('?' * len(ids))}) order by n", ids).fetchall():
            acts.setdefault(aid, []).append((action, who, at, text))
    items = []
    for aid, site, kiosk, day, kind, text, ts, source, cancelled, note in rows:
        a = {"alert": aid, "site": site, "kiosk": kiosk, "day": day, "kind": kind, "text": text, "ts": ts,
             "source": source, "cancelled_at": cancelled, "note": note, **state._fold(acts.get(aid, []))}
        a["place"] = f"{site} / alla kiosker" if kiosk == SITE_WIDE else f"{site} / {kiosk}"
        a["open"] = a["acknowledged"] is None and cancelled is None
        a["when"] = local(a["ts"], "%Y-%m-%d %H:%M")
        a["kind_name"] = DEVICE_ALERT_NAMES.get(a["kind"]) or followup.ALERT_KIND_NAMES.get(a["kind"]) or \
            KIND_TITLES.get(a["kind"]) or f"Kiosklarm ({a['kind']})"
        a["by_central"] = source == "alerts" and a["kind"] in CLOCK_KINDS and aid == clock_alert_id(
            site, kiosk, a["kind"], day or "")
        for key in ("acknowledged", "answer", "cleared"):
            if a[key]:
                a[key] = {**a[key], "when": local(a[key]["at"], "%Y-%m-%d %H:%M")}
        items.append(a)
    return {"alerts": items, "open": int(open_n), "since": since, "count": int(total), "pager": pager}


def parse_day(text: str | None, default: dt.date) -> dt.date:
    if not text:
        return default
    return dt.date.fromisoformat(text)


PAGE_ROWS = 100


def followup_page(conn: Conn, now: dt.datetime, date_from: dt.date, date_to: dt.date,
                  show: int = PAGE_ROWS, page: int = 1) -> dict:
    """The page: `show` rows of the range a page (page `page`), their cases, and the count, month
    totals and totals over the whole range from SQL (the same numbers as `followup.totals` of
    every row; tests/test_web_core.py checks it). The downloads carry every row."""
    lo, hi = date_from.isoformat(), date_to.isoformat()
    count = _count(conn, lo, hi)
    pager = _pager(page, count, show)
    names = [c for c in _day_columns(conn) if c != "row"]  # the summary for the cases, not the row JSON
    # the page's first key by the (day, site, kiosk) index alone, then its rows from there: an
    # OFFSET over the wide rows themselves read every row before the page
    start = conn.execute("select day, site, kiosk from web_days where day >= ? and day <= ? "
                         "order by day, site, kiosk limit 1 offset ?", [lo, hi, max(0, pager["first"] - 1)]).fetchone()
    days = []
    if start is not None:
        cur = conn.execute(f"select {', '.join(summaries.q(c) for c in names)} from web_days "
                           "where (day, site, kiosk) >= (?, ?, ?) and day <= ? order by day, site, kiosk limit ?",
                           [*start, hi, show])
        days = [dict(zip(names, r)) for r in cur.fetchall()]
    rows = followup.sheet_rows(days, now)
    cases = followup.case_rows(days)
    per_day = _totals(conn, lo, hi, now)
    months = month_totals(conn, lo, hi, now, per_day) if lo[:7] != hi[:7] else []
    numbers = set(followup.NUMBER_COLUMNS)
    month_columns = [c for c in followup.SHEET_COLUMNS if c not in (followup.SITE, followup.KIOSK, followup.DONE_AT,
                                                               followup.WARNINGS)]
    return {"rows": rows, "cells": [sheet_cells(r, followup.SHEET_COLUMNS, numbers) for r in rows], "count": count,
            "total": sql_totals(conn, lo, hi, now, per_day), "months": months,
            "month_columns": month_columns, "month_cells": [sheet_cells(m, month_columns, numbers) for m in months],
            "cases": cases, "from": lo, "to": hi, "pager": pager,
            "columns": followup.SHEET_COLUMNS, "numbers": numbers}


def sheet_cells(row: dict, columns, numbers: set[str]) -> Markup:
    """One sheet row's `<td>` cells (numbers right-aligned, Klart kl as HH:MM), escaped; built here
    rather than cell by cell in the template, where a page of 100 rows x 37 columns cost most of
    the page's time."""
    out = []
    for c in columns:
        v = row[c]
        if v is None:
            text = ""
        elif isinstance(v, int):
            text = str(v)
        elif isinstance(v, dt.time):
            text = v.strftime("%H:%M")
        else:
            text = str(escape(str(v)))
        out.append(f'<td class="num">{text}</td>' if c in numbers else f"<td>{text}</td>")
    return Markup("".join(out))


def _engine(conn) -> str:
    return getattr(conn, "engine", SQLITE)  # a bare sqlite3 connection has none


def _day_columns(conn) -> list[str]:
    cols = conn.columns("web_days") if hasattr(conn, "columns") else \
        [r[1] for r in conn.execute("pragma table_info(web_days)").fetchall()]
    return list(cols)


def full_sheet(conn: Conn, now: dt.datetime, date_from: dt.date, date_to: dt.date) -> tuple[list, dict]:
    """Every row of the range and their totals (for the downloads)."""
    rows = followup.sheet_rows(summaries.iter_day_rows(conn, date_from.isoformat(), date_to.isoformat(),
                                                       summary=False), now)
    return rows, followup.totals(rows)


def _count(conn, lo: str, hi: str) -> int:
    return int(conn.execute("select count(*) from web_days where day >= ? and day <= ?", [lo, hi]).fetchone()[0])


def _totals(conn, lo: str, hi: str, now: dt.datetime) -> list[tuple]:
    """Per day (SQLite) or month (PostgreSQL) of the range: (first day, the sum of each number
    column, days met, days decided), by SQL. Grouped by day, SQLite reads the (day, ...) covering
    index in order with no sort; months and the range's total are sums of these rows."""
    keys = [key for _, key in followup.COUNTED + followup.ALERTS]
    today = now.astimezone(TZ).date()
    passed = now >= deadline_for(today, DEADLINE, TZ)
    # decided: scanning done, or its 14:00 has passed with barcoded mail unfinished on a day still
    # open (followup.deadline_text); a day without barcoded mail is neither met nor missed
    decided = ("deadline_met is not null or (coalesce(barcoded_mail, 1) <> 0 and coalesce(phase, '') <> 'closed' "
               "and (day < ? or (day = ? and 1 = ?)))")
    # PostgreSQL: per month already (psycopg without its C part loads each value in Python, so a
    # dozen rows rather than a few hundred); SQLite: per day, the index's order, no sort
    group = "substr(day, 1, 7)" if _engine(conn) == POSTGRESQL else "day"
    sql = (f"select min(day), {', '.join(f'cast(coalesce(sum({summaries.q(k)}), 0) as bigint)' for k in keys)}, "
           "cast(coalesce(sum(case when deadline_met = 1 then 1 else 0 end), 0) as bigint), "
           f"cast(coalesce(sum(case when {decided} then 1 else 0 end), 0) as bigint) "
           f"from web_days where day >= ? and day <= ? group by {group} order by {group}")
    return conn.execute(sql, [today.isoformat(), today.isoformat(), int(passed), lo, hi]).fetchall()


def _sum(rows) -> tuple:
    width = len(followup.NUMBER_COLUMNS) + 2
    acc = [0] * width
    for r in rows:
        for i, v in enumerate(r[1:]):
            acc[i] += int(v)
    return tuple(acc)


def _totals_row(label: str, row: tuple) -> dict:
    return followup.totals_row(label, {name: int(v) for name, v in zip(followup.NUMBER_COLUMNS, row)},
                               int(row[-2]), int(row[-1]))


def sql_totals(conn: Conn, lo: str, hi: str, now: dt.datetime, days: list[tuple] | None = None) -> dict:
    """`followup.totals` computed by SQL over the materialised days (`days`: `_totals` already read)."""
    return _totals_row("Summa", _sum(_totals(conn, lo, hi, now) if days is None else days))


MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
          "november", "december")


def month_totals(conn, lo: str, hi: str, now: dt.datetime, days: list[tuple] | None = None) -> list[dict]:
    """The totals row of each calendar month in the range (every kiosk), by SQL per day."""
    by_month: dict[str, list[tuple]] = {}
    for r in _totals(conn, lo, hi, now) if days is None else days:
        by_month.setdefault(str(r[0])[:7], []).append(r)
    out = []
    for month, rows in by_month.items():
        y, m = month.split("-")
        out.append(_totals_row(f"{MONTHS[int(m) - 1]} {y}", _sum(rows)))
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
    return [f"{s}/{k}" for s, k in conn.execute("select site, kiosk from kiosks order by site, kiosk").fetchall()]


HISTORY_ALERT_KINDS = (("bestridan", "Bestridan"), ("tillfalliga", "Tillfälligt utskick"),
                       ("deadline_missed", "Ej klart 14:00"), ("no_activity", "Ingen inloggning"),
                       ("kiosk_offline", "Kiosk inte ansluten"), ("printer", "Skrivarfel"))


def _alerts_chart(conn: Conn, date_from: dt.date, date_to: dt.date, kiosk: str | None, weekly: bool, unit: str,
                  order: list[str]) -> str:
    """Alerts per kind and bucket from every alert central holds (a kiosk's and central's own
    clock alerts alike; a withdrawn clock alert does not count; the kiosk's and central's
    alert of one kind, kiosk and day count once)."""
    where, args = "a.kind is not null and a.note is null and a.day >= ? and a.day <= ?", \
        [date_from.isoformat(), date_to.isoformat()]
    if kiosk and "/" in kiosk:
        s, k = kiosk.split("/", 1)
        where += " and a.site = ? and (a.kiosk = ? or a.kiosk = ?)"
        args += [s, k, SITE_WIDE]
    seen: set[tuple] = set()
    order = list(order)
    counts: dict[str, dict[str, float]] = {}
    for aid, site, kio, day, kind in conn.execute(
            f"select a.id, a.site, a.kiosk, a.day, a.kind from web_alerts a where {where} order by a.day", args).fetchall():
        once = (site, kio, kind, day) if kind in CLOCK_KINDS else (aid,)
        if once in seen:
            continue
        seen.add(once)
        d = dt.date.fromisoformat(day)
        key = "{}-v{:02d}".format(*d.isocalendar()[:2]) if weekly else d.strftime("%d/%m")
        if key not in order:
            order.append(key)
        counts.setdefault(key, {}).setdefault(kind, 0.0)
        counts[key][kind] += 1
    if not weekly:  # days: in date order (a day with central's alerts only comes in between)
        rank = {(date_from + dt.timedelta(days=i)).strftime("%d/%m"): i
                for i in range((date_to - date_from).days + 1)}
        order = sorted(order, key=lambda b: rank.get(b, -1))
    else:
        order = sorted(order)
    return charts.bar_chart(f"Larm per typ och {unit}", order,
                            [(name, [counts.get(b, {}).get(kind, 0.0) for b in order])
                             for kind, name in HISTORY_ALERT_KINDS])


def history(conn: Conn, date_from: dt.date, date_to: dt.date, kiosk: str | None = None) -> dict:
    """Charts over the range, per day (up to 92 days) or per ISO week, for one kiosk or all."""
    weekly = (date_to - date_from).days > 92
    where, args = "day >= ? and day <= ?", [date_from.isoformat(), date_to.isoformat()]
    if kiosk and "/" in kiosk:
        s, k = kiosk.split("/", 1)
        where += " and site = ? and kiosk = ?"
        args += [s, k]
    sums = [f"count_{p}" for p in PILES] + ["scans_accepted", "scans_rejected",
                                             "case when deadline_met = 1 then 1 else 0 end",
                                             "case when deadline_met is null then 0 else 1 end",
                                             "alerts_bestridan", "alerts_tillfalliga", "alerts_deadline_missed"]
    # per ISO week in SQL on PostgreSQL (fewer rows to load); per day on SQLite, folded below
    group = "to_char(cast(day as date), 'IYYY-IW')" if weekly and _engine(conn) == POSTGRESQL else "day"
    sql = (f"select min(day), {', '.join(f'cast(sum({x}) as bigint)' for x in sums)} "
           f"from web_days where {where} group by {group} order by min(day)")
    buckets: dict[str, list[float]] = {}
    order: list[str] = []
    for row in conn.execute(sql, args).fetchall():
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
            acc[i] += float(v or 0)
    n = len(PILES)
    col = lambda i: [buckets[k][i] for k in order]  # noqa: E731
    rate = [100.0 * buckets[k][n + 2] / buckets[k][n + 3] if buckets[k][n + 3] else 0.0 for k in order]
    unit = "vecka" if weekly else "dag"
    figs = [
        charts.bar_chart(f"Brev per hög och {unit}", order, [(PILE_NAMES[p], col(i)) for i, p in enumerate(PILES)]),
        charts.bar_chart(f"Skanningar per {unit}", order, [("Godkända", col(n)), ("Avvisade", col(n + 1))]),
        charts.bar_chart(f"Klart före 14:00 (andel av dagarna) per {unit}", order, [("Före 14:00", rate)], percent=True),
        _alerts_chart(conn, date_from, date_to, kiosk, weekly, unit, order),
    ]
    return {"charts": figs, "weekly": weekly, "from": date_from.isoformat(), "to": date_to.isoformat(),
            "kiosk": kiosk or "", "buckets": len(order)}


def fleet(conn: Conn) -> list[dict]:
    """Every kiosk: version, last status, unsent and unconfirmed events, seq gaps, dead letters,
    clock synchronised at the last sign-in."""
    dead: dict[tuple[str, str], int] = {}
    for topic, n in conn.execute("select topic, count(*) from dead_letters group by topic").fetchall():
        parts = str(topic).split("/")
        if len(parts) >= 4:
            dead[(parts[2], parts[3])] = dead.get((parts[2], parts[3]), 0) + int(n)
    kiosks = _kiosk_rows(conn)
    # clock_synced of each kiosk's latest day that has one: the primary key (site, kiosk, day) read
    # backwards from the newest day, per kiosk, in one query (a scan of every day was most of the page)
    synced = {(s, k): v for s, k, v in conn.execute(
        "select k.site, k.kiosk, (select w.clock_synced from web_days w where w.site = k.site and w.kiosk = k.kiosk "
        "and w.clock_synced is not null order by w.site desc, w.kiosk desc, w.day desc limit 1) from kiosks k").fetchall()}
    journals: dict[tuple[str, str], list[tuple]] = {}
    if "journals" in _table_names(conn):  # a central database from before journal ids has none yet
        for site, kiosk, *rest in conn.execute(
                "select site, kiosk, journal, acked_seq, max_seq, kiosk_last_seq from journals "
                "order by site, kiosk, n").fetchall():
            journals.setdefault((site, kiosk), []).append(tuple(rest))
    out = []
    for k in kiosks:
        key = (k["site"], k["kiosk"])
        gaps = _gaps(conn, k, journals.get(key, []))
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


def _table_names(conn) -> set[str]:
    if hasattr(conn, "table_names"):
        return set(conn.table_names())
    return {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'").fetchall()}


def _gaps(conn: Conn, k: dict, journals: list[tuple]) -> list[str]:
    """Missing seq ranges of one kiosk, per journal, as `kiosk central --gaps` finds them: above
    each journal's contiguous `acked_seq` (central's `journals` table: `journals` holds this
    kiosk's rows), between the events stored above it, and up to what the kiosk's status says
    it has. Cheap when there are none."""
    site, kiosk = k["site"], k["kiosk"]
    out: list[str] = []
    several = len(journals) > 1
    for jid, acked, top, last in journals:
        acked, top = acked or 0, top or 0
        name = f" (journal {str(jid)[:8]})" if several and jid else ""
        prev = acked
        if top > acked:
            for (seq,) in conn.execute("select seq from events where site = ? and kiosk = ? and journal = ? "
                                       "and seq > ? order by seq", [site, kiosk, jid, acked]).fetchall():
                if seq > prev + 1:
                    out.append(f"{prev + 1}–{seq - 1}{name}")
                prev = seq
        if last is not None and last > prev:
            out.append(f"{prev + 1}–{last} (ej mottagna än){name}")
    return out
