"""The follow-up sheet (uppföljningsfilen), in one place: the row of one kiosk's day, its columns
in English (the row's keys) and in Swedish (the sheet as the TL keeps it in Teams), and every
writer (CSV, JSON, XLSX). Pure but for the writers at the end (`write`, `write_workbook`,
`to_xlsx`, `read_xlsx`: the file or stream they are given); openpyxl (central's extra, not the
kiosk's) is imported only inside the XLSX functions.

    row = follow_up_row(routine.summary(state), site, kiosk)        # one day, English keys (COLUMNS)
    to_csv(rows) / to_json(rows) / to_xlsx(rows, path)               # `kiosk report` on both sides
    rows = sheet_rows(day_rows, now); cases = case_rows(day_rows)    # the Swedish sheet (SHEET_COLUMNS)
    sheet_csv(rows, totals(rows)) / write_workbook(rows, cases, path, totals(rows))

The kiosk makes its rows from its journal (`day_summaries`); central materialises the same row per
day (`kiosk.central.summaries`, which calls `follow_up_row`) and builds everything from those
materialised days: `kiosk report --central`, the web app's sheet and the month's workbook.

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
import sys
from pathlib import Path
from typing import Iterator, Protocol

from . import routine
from .clock import DEADLINE, TZ, deadline_for, parse_iso
from .domain import (DECISION_NAMES, DESTINATION_NAMES, LETA_KUND_TYPES, LETA_KUND_WMS, PILE_NAMES, PILES,
                     WARNING_NAMES, warning_counts)
from .printouts import VERDICT_WORDS, deadline_verdict

# -- the row: one kiosk's day, English keys -------------------------------------------------------


class Journal(Protocol):
    """What the sheet reads of a journal (`kiosk.wire.journal.Journal`): the core imports no file."""

    def days(self) -> list[str]: ...

    def events(self, day: str | None = None) -> Iterator[dict]: ...


COLUMNS: tuple[str, ...] = (
    ("day", "site", "kiosk")
    + tuple(f"count_{p}" for p in PILES)
    + tuple(f"leta_kund_{t}" for t in LETA_KUND_TYPES)
    + ("leta_kund_apartments", "scans_accepted", "scans_rejected")
    + tuple(WARNING_NAMES)  # one column per warning kind
    + ("late_letters",
       "labels_printed", "label_reprints", "cover_slips_printed",
       "scan_done_at", "deadline_met", "alerts", "alerts_bestridan", "alerts_tillfalliga",
       "alerts_deadline_missed", "alerts_cancelled", "warnings")
)


def follow_up_row(summary: dict, site: str, kiosk: str) -> dict:
    """One day's row. Warning columns count letters (missing, extra, unscanned, labels and cover
    slips missing), print jobs (queued, failed) and alerts (unconfirmed); `warnings` is their
    Swedish text for a TL; `deadline_met` is "" while pending; alerts count those not cancelled
    by an undo."""
    every = summary.get("alerts", [])
    alerts = [a for a in every if not a.get("cancelled")]
    warnings = summary.get("warnings", [])
    row = {"day": summary["day"], "site": site, "kiosk": kiosk}
    for p in PILES:
        row[f"count_{p}"] = summary["counts"].get(p, 0)
    for t in LETA_KUND_TYPES:
        row[f"leta_kund_{t}"] = summary["leta_kund"].get(t, 0)
    row["leta_kund_apartments"] = summary["leta_kund"].get("apartments", 0)
    row["scans_accepted"] = len(summary["scans"]["accepted"])
    row["scans_rejected"] = len(summary["scans"]["rejected"])
    row.update(warning_counts(warnings))
    row["late_letters"] = len(summary.get("late", []))
    row["labels_printed"] = summary.get("labels_printed", 0)
    row["label_reprints"] = summary.get("label_reprints", 0)
    row["cover_slips_printed"] = summary.get("cover_slips_printed", 0)
    row["scan_done_at"] = summary.get("scan_done_at") or ""
    met = summary.get("deadline_met")
    row["deadline_met"] = "" if met is None else bool(met)
    row["alerts"] = len(alerts)
    for kind in ("bestridan", "tillfalliga", "deadline_missed"):
        row[f"alerts_{kind}"] = sum(1 for a in alerts if a["kind"] == kind)
    row["alerts_cancelled"] = len(every) - len(alerts)
    row["warnings"] = " ".join(w.get("text", w["kind"]) for w in warnings)
    return row


def day_summaries(journal: Journal, days: list[str] | None = None) -> list[dict]:
    """The summary of each day (every day of the journal by default), replayed from its events."""
    return [routine.summary(routine.replay(journal.events(day=day)))
            for day in (journal.days() if days is None else days)]


# -- the Swedish sheet: from materialised days (kiosk.central.summaries.day_rows) ------------------

SHEET_TITLE = "Uppföljning"
CASES_TITLE = "Ärenden och beslut"

ALERT_KIND_NAMES: dict[str, str] = {
    "bestridan": "Bestridan",
    "tillfalliga": "Tillfälligt utskick",
    "deadline_missed": "Ej klart 14:00",
}

# Each kind of warning the kiosk's day summary gives (routine.warnings) has its column, by its one
# Swedish name (domain.WARNING_NAMES): what it concerns that day, as follow_up_row counts it.
WARNING_COLUMNS: dict[str, str] = dict(WARNING_NAMES)

# (Swedish name, row key) of every summed column, in the sheet's order: the day's numbers, then alerts
COUNTED: tuple[tuple[str, str], ...] = (
    tuple((PILE_NAMES[p], f"count_{p}") for p in PILES)
    + tuple((f"Leta Kund {t} ({LETA_KUND_WMS[t]})", f"leta_kund_{t}") for t in LETA_KUND_TYPES)
    + (("Lägenhetsnummer", "leta_kund_apartments"),
       ("Skannade", "scans_accepted"),
       ("Avvisade", "scans_rejected"))
    # the day's warnings (routine.warnings), one summable column per kind, in letters
    + tuple((name, kind) for kind, name in WARNING_COLUMNS.items())
    + (("Sena brev", "late_letters"),
       ("Dödsboetiketter", "labels_printed"),
       ("Omutskrivna etiketter", "label_reprints"),
       ("Försättsblad", "cover_slips_printed"))
)
ALERTS: tuple[tuple[str, str], ...] = (
    ("Larm", "alerts"),
    ("Larm bestridan", "alerts_bestridan"),
    ("Larm tillfälliga utskick", "alerts_tillfalliga"),
    ("Larm ej klart 14:00", "alerts_deadline_missed"),
    ("Återkallade larm", "alerts_cancelled"),
)
DATE, SITE, KIOSK, DONE_AT, DEADLINE_COL = "Datum", "Plats", "Kiosk", "Klart kl", "Före 14:00"
WARNINGS = "Varningar"
SHEET_COLUMNS: tuple[str, ...] = ((DATE, SITE, KIOSK) + tuple(n for n, _ in COUNTED) + (DONE_AT, DEADLINE_COL)
                                  + tuple(n for n, _ in ALERTS) + (WARNINGS,))
NUMBER_COLUMNS: tuple[str, ...] = tuple(n for n, _ in COUNTED + ALERTS)
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
    """One row per day and kiosk, keyed by `SHEET_COLUMNS`: Datum a date, Klart kl a time (or None)."""
    out = []
    for d in day_rows:
        row: dict = {DATE: dt.date.fromisoformat(d["day"]), SITE: d["site"], KIOSK: d["kiosk"]}
        for name, key in COUNTED:
            row[name] = int(d.get(key) or 0)
        row[DONE_AT] = local_time(d.get("scan_done_at"))
        row[DEADLINE_COL] = deadline_text(d, now)
        for name, key in ALERTS:
            row[name] = int(d.get(key) or 0)
        row[WARNINGS] = d.get("warnings") or ""
        out.append(row)
    return out


def totals_row(label: str, sums: dict[str, int], yes: int, decided: int) -> dict:
    """A totals row keyed by `SHEET_COLUMNS`: `label` in Datum, `sums` by Swedish column name,
    Före 14:00 as "Ja N av M" (empty when no day is decided)."""
    out: dict = {c: "" for c in SHEET_COLUMNS}
    out[DATE] = label
    out.update(sums)
    out[DEADLINE_COL] = f"Ja {yes} av {decided}" if decided else ""
    return out


def totals(rows: list[dict]) -> dict:
    """The totals row: sums of every number column; Före 14:00 as "Ja N av M"."""
    return totals_row("Summa", {name: sum(int(r[name]) for r in rows) for name in NUMBER_COLUMNS},
                      sum(1 for r in rows if r[DEADLINE_COL] == "Ja"),
                      sum(1 for r in rows if r[DEADLINE_COL] in ("Ja", "Nej")))


_DECISION_KINDS = {"planerat_stromavbrott": "Planerat strömavbrott", "ovriga_brev": "Övrigt brev med datum",
                   "stromavbrott_atgard": "Åtgärder till följd av återkommande strömavbrott"}


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
            what = _DECISION_KINDS.get(dec.get("kind"), dec.get("kind"))
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


# -- writers ---------------------------------------------------------------------------------------

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


def to_csv(rows: list[dict]) -> str:
    """Rows (English keys) as CSV: `,` separated, one header row of `COLUMNS`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return buf.getvalue()


def to_json(rows: list[dict]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=2)


def sheet_csv(rows: list[dict], total: dict | None = None) -> str:
    """The Swedish sheet as CSV for Excel in Swedish: `;` separated, UTF-8 with a BOM, one header row."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(SHEET_COLUMNS)
    for row in rows:
        w.writerow([_text(row[c]) for c in SHEET_COLUMNS])
    if total is not None:
        w.writerow([_text(total[c]) for c in SHEET_COLUMNS])
    return buf.getvalue()


def _width(values, header: str) -> float:
    longest = max([len(header)] + [len(_text(v)) for v in values])
    return float(max(8, min(40, longest + 2)))


def _table(ws, title: str, columns, data: list[dict], widths: list[float]) -> int:
    """Header (bold, frozen, filtered) and rows into worksheet `ws`, `widths` by column. Text that looks like a formula stays text. Returns the rows written."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws.title = title
    ws.append(list(columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    n = 1  # rows written (ws.max_row scans every cell: too slow to ask per row)
    for row in data:
        ws.append([row.get(c, "") for c in columns])
        n += 1
        for j, c in enumerate(columns, start=1):
            value = row.get(c)
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                ws.cell(n, j).data_type = "s"  # text, never a formula
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(data) + 1)}"
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    return n


def _save(wb, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_workbook(rows: list[dict], cases: list[dict], path: str | Path, total: dict | None = None) -> Path:
    """The Swedish sheet as an Excel workbook: "Uppföljning" (header frozen and filtered, widths
    fitted, Datum as dates, Klart kl as times, numbers as numbers, a bold totals row) and
    "Ärenden och beslut". Written to `path` (its folder is made)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    for ws, title, columns, data in ((wb.active, SHEET_TITLE, SHEET_COLUMNS, rows),
                                     (wb.create_sheet(), CASES_TITLE, CASE_COLUMNS, cases)):
        n = _table(ws, title, columns, data, [_width((r[name] for r in data), name) for name in columns])
        if title == SHEET_TITLE and total is not None:
            ws.append([total[c] for c in columns])
            for j in range(1, len(columns) + 1):
                ws.cell(n + 1, j).font = Font(bold=True)
        for i, name in enumerate(columns, start=1):
            kind, fmt = {DATE: (dt.date, "yyyy-mm-dd"), DONE_AT: (dt.time, "hh:mm")}.get(name, (None, ""))
            if kind is not None:
                for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    if isinstance(cell.value, kind):
                        cell.number_format = fmt
    return _save(wb, path)


def to_xlsx(rows: list[dict], path: str | Path, problems: list[str] | None = None, source: str = "") -> Path:
    """Rows (English keys) as an Excel workbook: the sheet "Uppföljning" (header frozen, filter,
    numbers as numbers) and "Info" (source, row count, problems)."""
    from openpyxl import Workbook

    wb = Workbook()
    _table(wb.active, SHEET_TITLE, COLUMNS, rows, [float(max(10, min(28, len(name) + 2))) for name in COLUMNS])
    info = wb.create_sheet("Info")
    info.append(["source", source])
    info.append(["rows", len(rows)])
    for p in problems or []:
        info.append(["problem", p])
    return _save(wb, path)


def read_xlsx(path: str | Path) -> list[dict]:
    """Read a sheet written by `to_xlsx` back into rows (for checks and tests)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    it = wb[SHEET_TITLE].iter_rows(values_only=True)
    header = list(next(it))
    out = [{k: ("" if v is None else v) for k, v in zip(header, values)} for values in it]
    wb.close()
    return out


def write(rows: list[dict], fmt: str, out: str | None, problems: list[str] | None = None,
          source: str = "") -> int:
    """`kiosk report`'s output: rows as csv/json (stdout or `out`) or xlsx (`out` required).
    Returns the exit code."""
    if fmt == "xlsx":
        if not out:
            print("--format xlsx needs --out FILE.xlsx", file=sys.stderr)
            return 2
        to_xlsx(rows, out, problems, source)
        print(f"wrote {len(rows)} rows to {out}", file=sys.stderr)
        return 0
    text = to_csv(rows) if fmt == "csv" else to_json(rows) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
