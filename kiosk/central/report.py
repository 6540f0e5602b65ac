"""The follow-up sheet from central's database: one row per day and site/kiosk.

Each row is made exactly as the kiosk makes its own: the day's events of that kiosk, in seq
order, replayed with `routine.replay`, summarised with `routine.summary`, and turned into a row by
`report.follow_up_row`. Central's row therefore equals the kiosk's row by construction, provided
central holds all of that day's events; days touched by a seq gap are named as problems.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from ..core import report, routine
from . import summaries
from .db import Conn, display_name, is_url

SHEET_TITLE = "Uppföljning"


def _events(conn: Conn, site: str, kiosk: str, day: str):
    # One day of one kiosk may span two journals (a re-imaged kiosk): the older journal first.
    for (payload,) in conn.query(
            "select e.payload from events e left join journals j on j.site = e.site and "
            "j.kiosk = e.kiosk and j.journal = e.journal where e.site = ? and e.kiosk = ? and e.day = ? "
            "order by coalesce(j.n, 0), e.seq", [site, kiosk, day]):
        yield json.loads(payload)


def rows(db_path: str | Path, date_from: str | None = None, date_to: str | None = None) -> tuple[list[dict], list[str]]:
    """(rows, problems) for the days in [date_from, date_to] (inclusive, YYYY-MM-DD); `db_path`:
    a SQLite file or a postgresql:// URL."""
    from .store import CentralStore

    store = CentralStore(db_path)
    try:
        with store.db.connection() as conn:
            return _rows(store, conn, date_from, date_to)
    finally:
        store.close()


def _rows(store, conn: Conn, date_from: str | None, date_to: str | None) -> tuple[list[dict], list[str]]:
    keys = summaries.event_days(conn, date_from, date_to)
    out, problems = [], []
    for day, site, kiosk in keys:
        try:
            summary = routine.summary(routine.replay(_events(conn, site, kiosk, day)))
            out.append(report.follow_up_row(summary, site, kiosk))
        except Exception as exc:  # validated at ingest; still, one bad day must not hide the rest
            problems.append(f"{day} {site}/{kiosk}: cannot replay: {type(exc).__name__}: {exc}")
    wanted = {(d, s, k) for d, s, k in keys}
    for gap in store.gaps():
        days = _gap_days(conn, gap)
        hit = sorted(d for d in days if (d, gap["site"], gap["kiosk"]) in wanted)
        if hit or not days:
            problems.append(
                f"{gap['site']}/{gap['kiosk']}: seq {gap['from_seq']}..{gap['to_seq']} missing"
                + (f" (journal {gap['journal']})" if gap.get("journal") else "")
                + (f"; rows for {', '.join(hit)} may be incomplete" if hit else ""))
    return out, problems


def _gap_days(conn, gap: dict) -> set[str]:
    """The days an open seq range may belong to: from the day before it to the day after it."""
    jid = gap.get("journal") or ""
    before = conn.query_one("select day from events where site=? and kiosk=? and journal=? and seq<? "
                            "order by seq desc limit 1", [gap["site"], gap["kiosk"], jid, gap["from_seq"]])
    after = conn.query_one("select day from events where site=? and kiosk=? and journal=? and seq>? "
                           "order by seq limit 1", [gap["site"], gap["kiosk"], jid, gap["to_seq"]])
    if not before and not after:
        return set()
    lo = dt.date.fromisoformat((before or after)[0])
    hi = dt.date.fromisoformat((after or before)[0])
    return {(lo + dt.timedelta(days=i)).isoformat() for i in range((hi - lo).days + 1)}


def to_xlsx(rows_: list[dict], path: str | Path, problems: list[str] | None = None, source: str = "") -> Path:
    """The sheet as an Excel workbook (openpyxl): header row frozen, filter, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    ws.append(list(report.COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows_:
        ws.append([row.get(k, "") for k in report.COLUMNS])
    ws.freeze_panes = "A2"
    if rows_:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(report.COLUMNS))}{len(rows_) + 1}"
    for i, name in enumerate(report.COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(28, len(name) + 2))
    info = wb.create_sheet("Info")
    info.append(["source", source])
    info.append(["rows", len(rows_)])
    for p in problems or []:
        info.append(["problem", p])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def read_xlsx(path: str | Path) -> list[dict]:
    """Read a sheet written by `to_xlsx` back into rows (for checks and tests)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    ws = wb[SHEET_TITLE]
    it = ws.iter_rows(values_only=True)
    header = list(next(it))
    out = [{k: ("" if v is None else v) for k, v in zip(header, values)} for values in it]
    wb.close()
    return out


def write(rows_: list[dict], fmt: str, out: str | None, problems: list[str] | None = None,
          source: str = "") -> int:
    """Write rows as csv/json (stdout or --out) or xlsx (--out required). Returns an exit code."""
    if fmt == "xlsx":
        if not out:
            print("--format xlsx needs --out FILE.xlsx", file=sys.stderr)
            return 2
        to_xlsx(rows_, out, problems, source)
        print(f"wrote {len(rows_)} rows to {out}", file=sys.stderr)
        return 0
    text = report.to_csv(rows_) if fmt == "csv" else report.to_json(rows_) + "\n"
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def main(args) -> int:
    for flag, value in (("--from", args.date_from), ("--to", args.date_to)):
        try:
            if value is not None:
                dt.date.fromisoformat(value)
        except ValueError:
            print(f"{flag} {value!r}: use YYYY-MM-DD", file=sys.stderr)
            return 2
    db = args.central if is_url(args.central) else Path(args.central)
    if not is_url(db) and not Path(db).exists():
        print(f"no central database at {db}", file=sys.stderr)
        return 2
    rows_, problems = rows(db, args.date_from, args.date_to)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    return write(rows_, args.format, getattr(args, "out", None), problems, source=display_name(db))
