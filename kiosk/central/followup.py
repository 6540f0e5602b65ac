"""The follow-up sheet (uppföljningsfilen) as the TL keeps it in Teams: Swedish column names, local
times, Ja/Nej, and a second sheet with the day's CAB cases, decisions, remarks and temporary
mailings. Pure functions from materialised days (`summaries.day_rows`) and an injected `now`,
plus the CSV and XLSX writers.

    rows = sheet_rows(day_rows, now); cases = case_rows(day_rows)
    write_workbook(rows, cases, "uppfoljning.xlsx")     # the delivery engineer writes this to a folder
    text = to_csv(rows)                                 # ; separated, UTF-8 with BOM (Excel in Swedish)

"Före 14:00" is the kiosk's own verdict (printouts.deadline_verdict, the one rule of both): "Ja" or
"Nej" once scanning is done (or the day closed), "–" on a day without barcoded mail, "pågår" while
barcoded mail is unfinished and the day's deadline has not passed yet, and "Nej" only once it has:
a day still in progress never says "Nej" before 14:00.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from ..core.clock import DEADLINE, TZ, deadline_for, parse_iso
from ..core.printouts import VERDICT_WORDS, deadline_verdict
from ..core.domain import (DECISION_NAMES, DESTINATION_NAMES, LETA_KUND_TYPES, LETA_KUND_WMS, PILE_NAMES, PILES,
                           WARNING_NAMES)

SHEET_TITLE = "Uppföljning"
CASES_TITLE = "Ärenden och beslut"
IN_PROGRESS = VERDICT_WORDS["pending"]

ALERT_KIND_NAMES: dict[str, str] = {
    "bestridan": "Bestridan",
    "tillfalliga": "Tillfälligt utskick",
    "deadline_missed": "Ej klart 14:00",
}

# Each kind of warning the kiosk's day summary gives (routine.warnings) has its column, by its one
# Swedish name (domain.WARNING_NAMES): what it concerns that day, as report.follow_up_row counts it.
WARNING_COLUMNS: dict[str, str] = dict(WARNING_NAMES)

_PILE_COLUMNS = [(PILE_NAMES[p], f"count_{p}") for p in PILES]
_LK_COLUMNS = [(f"Leta Kund {t} ({LETA_KUND_WMS[t]})", f"leta_kund_{t}") for t in LETA_KUND_TYPES]
_NUMBER_COLUMNS = _PILE_COLUMNS + _LK_COLUMNS + [
    ("Lägenhetsnummer", "leta_kund_apartments"),
    ("Skannade", "scans_accepted"),
    ("Avvisade", "scans_rejected"),
    # the day's warnings (routine.warnings), one summable column per kind, in letters
    *((name, kind) for kind, name in WARNING_COLUMNS.items()),
    ("Sena brev", "late_letters"),
    ("Dödsboetiketter", "labels_printed"),
    ("Omutskrivna etiketter", "label_reprints"),
    ("Försättsblad", "cover_slips_printed"),
]
_ALERT_COLUMNS = [
    ("Larm", "alerts"),
    ("Larm bestridan", "alerts_bestridan"),
    ("Larm tillfälliga utskick", "alerts_tillfalliga"),
    ("Larm ej klart 14:00", "alerts_deadline_missed"),
    ("Återkallade larm", "alerts_cancelled"),
]
DATE, SITE, KIOSK, DONE_AT, DEADLINE_COL = "Datum", "Plats", "Kiosk", "Klart kl", "Före 14:00"
WARNINGS = "Varningar"
COLUMNS: tuple[str, ...] = ((DATE, SITE, KIOSK) + tuple(n for n, _ in _NUMBER_COLUMNS) + (DONE_AT, DEADLINE_COL)
                            + tuple(n for n, _ in _ALERT_COLUMNS) + (WARNINGS,))
NUMBER_COLUMNS: tuple[str, ...] = tuple(n for n, _ in _NUMBER_COLUMNS + _ALERT_COLUMNS)
CASE_COLUMNS: tuple[str, ...] = (DATE, SITE, KIOSK, "Typ", "Vad", "Detaljer")


def deadline_text(day_row: dict, now: dt.datetime, at: dt.time = DEADLINE) -> str:
    """"Ja" / "Nej" / "pågår" / "–" for a materialised day at time `now` (aware), by the kiosk's
    rule: the day's own `deadline_met` (1/0, None while pending) decides once set; a day without
    barcoded mail (or closed without a verdict) is "–"; a pending day is "pågår" until its 14:00
    and "Nej" after (the kiosk may be offline and not say so)."""
    deadline = deadline_for(dt.date.fromisoformat(day_row["day"]), at, TZ)
    return VERDICT_WORDS[deadline_verdict(day_row, past_deadline=now >= deadline)]


def local_time(iso: str | None) -> dt.time | None:
    if not iso:
        return None
    return parse_iso(iso).astimezone(TZ).time().replace(second=0, microsecond=0)


def sheet_rows(day_rows: list[dict], now: dt.datetime) -> list[dict]:
    """One row per day and kiosk, keyed by `COLUMNS`: Datum a date, Klart kl a time (or None)."""
    out = []
    for d in day_rows:
        row: dict = {DATE: dt.date.fromisoformat(d["day"]), SITE: d["site"], KIOSK: d["kiosk"]}
        for name, key in _NUMBER_COLUMNS:
            row[name] = int(d.get(key) or 0)
        row[DONE_AT] = local_time(d.get("scan_done_at"))
        row[DEADLINE_COL] = deadline_text(d, now)
        for name, key in _ALERT_COLUMNS:
            row[name] = int(d.get(key) or 0)
        row[WARNINGS] = d.get("warnings") or ""
        out.append(row)
    return out


def totals(rows: list[dict]) -> dict:
    """The totals row: sums of every number column; Före 14:00 as "Ja på N av M dagar"."""
    out: dict = {c: "" for c in COLUMNS}
    out[DATE] = "Summa"
    for name in NUMBER_COLUMNS:
        out[name] = sum(int(r[name]) for r in rows)
    yes = sum(1 for r in rows if r[DEADLINE_COL] == "Ja")
    decided = sum(1 for r in rows if r[DEADLINE_COL] in ("Ja", "Nej"))
    out[DEADLINE_COL] = f"Ja {yes} av {decided}" if decided else ""
    return out


def case_rows(day_rows, limit: int | None = None) -> list[dict]:
    """The second sheet: per day and kiosk its CAB cases, date decisions, envelope remarks and
    temporary mailings, keyed by `CASE_COLUMNS` (the first `limit` when given; `day_rows` may be
    an iterator, read only as far as needed)."""
    out: list[dict] = []
    for d in day_rows:
        if limit is not None and len(out) >= limit:
            break
        summary = json.loads(d["summary"]) if isinstance(d.get("summary"), str) else d.get("summary") or {}
        base = {DATE: dt.date.fromisoformat(d["day"]), SITE: d["site"], KIOSK: d["kiosk"]}
        for case in summary.get("cab", []):
            out.append({**base, "Typ": "CAB-ärende", "Vad": f"{case.get('type', '')} \"{case.get('subject', '')}\"",
                        "Detaljer": f"Status {case.get('status', '')}, grupp {case.get('group', '')}"})
        for dec in summary.get("decisions", []):
            what = {"planerat_stromavbrott": "Planerat strömavbrott", "ovriga_brev": "Övrigt brev med datum",
                    "stromavbrott_atgard": "Åtgärder till följd av återkommande strömavbrott"}.get(dec.get("kind"), dec.get("kind"))
            date = f"datum {dec['date']}, " if dec.get("date") else ""
            out.append({**base, "Typ": "Beslut", "Vad": what,
                        "Detaljer": f"{date}{DECISION_NAMES.get(dec.get('decision'), dec.get('decision'))}"
                                    f" ({DESTINATION_NAMES.get(dec.get('slot'), dec.get('slot'))})"})
        for rem in summary.get("remarks", []):
            out.append({**base, "Typ": "Anmärkning", "Vad": rem.get("note", ""),
                        "Detaljer": " ".join(rem.get("checklist") or [])})
        for tmp in summary.get("temporary", []):
            out.append({**base, "Typ": "Tillfälligt utskick", "Vad": tmp.get("about", ""), "Detaljer": ""})
    return out[:limit] if limit is not None else out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defused(text: str) -> str:
    """Free text from a kiosk that a spreadsheet would take for a formula gets a leading '."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _text(value) -> str:
    if isinstance(value, str):
        return _defused(value)
    if value is None:
        return ""
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def to_csv(rows: list[dict], total: dict | None = None) -> str:
    """The sheet as CSV for Excel in Swedish: `;` separated, UTF-8 with a BOM, one header row."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(COLUMNS)
    for row in rows:
        w.writerow([_text(row[c]) for c in COLUMNS])
    if total is not None:
        w.writerow([_text(total[c]) for c in COLUMNS])
    return buf.getvalue()


def _width(values, header: str) -> float:
    longest = max([len(header)] + [len(_text(v)) for v in values])
    return float(max(8, min(40, longest + 2)))


def write_workbook(rows: list[dict], cases: list[dict], path: str | Path, total: dict | None = None) -> Path:
    """The sheet as an Excel workbook: "Uppföljning" (header frozen and filtered, widths fitted,
    Datum as dates, Klart kl as times, numbers as numbers, a bold totals row) and
    "Ärenden och beslut". Written to `path` (its folder is made)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    sheets = ((wb.active, SHEET_TITLE, COLUMNS, rows), (wb.create_sheet(), CASES_TITLE, CASE_COLUMNS, cases))
    for ws, title, columns, data in sheets:
        ws.title = title
        ws.append(list(columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=False)
        n = 1  # rows written (ws.max_row scans every cell: too slow to ask per row)
        for row in data:
            ws.append([row[c] for c in columns])
            n += 1
            for j, c in enumerate(columns, start=1):
                value = row[c]
                if isinstance(value, str) and value.startswith(_FORMULA_START):
                    ws.cell(n, j).data_type = "s"  # text, never a formula
        if ws is wb.active and total is not None:
            ws.append([total[c] for c in columns])
            n += 1
            for j in range(1, len(columns) + 1):
                ws.cell(n, j).font = Font(bold=True)
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(data) + 1)}"
        for i, name in enumerate(columns, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = _width((r[name] for r in data), name)
            if name == DATE:
                for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    if isinstance(cell.value, dt.date):
                        cell.number_format = "yyyy-mm-dd"
            elif name == DONE_AT:
                for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    if isinstance(cell.value, dt.time):
                        cell.number_format = "hh:mm"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
