"""The month's follow-up workbook for the folder (issue 11 item 5): one row per day and kiosk.

The web app's `kiosk.central.followup.write_workbook` (with `kiosk.central.summaries` for the
rows) is used when it is there; until it is, a minimal workbook of our own with the same idea
(Swedish columns, local times, Ja/Nej) is written, built from the events by the kiosk's own
`routine.replay` -> `report.follow_up_row`."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import sqlite3
from pathlib import Path

from ... import report, routine
from ...clock import TZ, deadline_for, parse_iso
from ...domain import LETA_KUND_TYPES, LETA_KUND_WMS, PILE_NAMES, PILES


def _month_range(month: str) -> tuple[str, str]:
    y, m = (int(x) for x in month.split("-"))
    return f"{month}-01", f"{month}-{calendar.monthrange(y, m)[1]:02d}"


def write(db_path: str, month: str, path: Path, now: dt.datetime) -> Path:
    lo, hi = _month_range(month)
    try:
        from .. import followup as web_followup
        from .. import summaries
    except ImportError:
        return _write_minimal(db_path, lo, hi, path, now)
    conn = summaries.connect(db_path)
    try:
        summaries.ensure_schema(conn)
        summaries.refresh(conn, now)
        days = summaries.day_rows(conn, lo, hi)
    finally:
        conn.close()
    rows = web_followup.sheet_rows(days, now)
    total = web_followup.totals(rows) if hasattr(web_followup, "totals") else None
    return web_followup.write_workbook(rows, web_followup.case_rows(days), path, total)


# -- the minimal workbook (until the web app's is on main) ---------------------------------------

_COLUMNS = (["Datum", "Plats", "Kiosk"] + [PILE_NAMES[p] for p in PILES]
            + [f"Leta Kund {t} ({LETA_KUND_WMS[t]})" for t in LETA_KUND_TYPES]
            + ["Lägenhetsnummer", "Skannade", "Avvisade", "Saknade skanningar", "Klart kl", "Före 14:00", "Larm"])


def rows(conn: sqlite3.Connection, lo: str, hi: str, now: dt.datetime) -> list[list]:
    out = []
    keys = conn.execute("select distinct day, site, kiosk from events where day >= ? and day <= ? "
                        "order by day, site, kiosk", (lo, hi)).fetchall()
    for day, site, kiosk in keys:
        state = routine.replay(json.loads(r[0]) for r in conn.execute(
            "select payload from events where site = ? and kiosk = ? and day = ? order by ts, seq", (site, kiosk, day)))
        if not state.started:
            continue
        s = routine.summary(state)
        r = report.follow_up_row(s, site, kiosk)
        done = s.get("scan_done_at")
        at = parse_iso(done).astimezone(TZ).time().replace(second=0, microsecond=0) if done else None
        if done:
            met = "Ja" if r["deadline_met"] else "Nej"
        else:  # unfinished: "pågår" only until the day's deadline has passed
            met = "pågår" if state.phase != routine.CLOSED and now < deadline_for(dt.date.fromisoformat(day)) else "Nej"
        out.append([dt.date.fromisoformat(day), site, kiosk] + [r[f"count_{p}"] for p in PILES]
                   + [r[f"leta_kund_{t}"] for t in LETA_KUND_TYPES]
                   + [r["leta_kund_apartments"], r["scans_accepted"], r["scans_rejected"], r["missing_scans"],
                      at, met, r["alerts"]])
    return out


def _write_minimal(db_path: str, lo: str, hi: str, path: Path, now: dt.datetime) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    conn = sqlite3.connect(str(db_path), timeout=30.0)
    try:
        data = rows(conn, lo, hi, now) if conn.execute(
            "select 1 from sqlite_master where name = 'events'").fetchone() else []
    finally:
        conn.close()
    wb = Workbook()
    ws = wb.active
    ws.title = "Uppföljning"
    ws.append(_COLUMNS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in data:
        ws.append(r)
    for (cell,) in ws.iter_rows(min_row=2, min_col=1, max_col=1):
        cell.number_format = "yyyy-mm-dd"
    ws.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
