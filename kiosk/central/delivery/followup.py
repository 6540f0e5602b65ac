"""The month's follow-up workbook for the folder: one row per day and kiosk,
the web app's own sheet (`kiosk.central.summaries` for the rows, `kiosk.core.followup` for
the Swedish columns and the XLSX), so the file in Teams equals what the TLs see in the web app."""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

from ...core import followup as sheet
from .. import summaries
from ..db import Database, using


def _month_range(month: str) -> tuple[str, str]:
    y, m = (int(x) for x in month.split("-"))
    return f"{month}-01", f"{month}-{calendar.monthrange(y, m)[1]:02d}"


def write(db: "Database | str | Path", month: str, path: Path, now: dt.datetime) -> Path:
    lo, hi = _month_range(month)
    with using(db) as conn:
        summaries.ensure_schema(conn)
        summaries.refresh(conn, now)
        days = summaries.day_rows(conn, lo, hi)
    rows = sheet.sheet_rows(days, now)
    return sheet.write_workbook(rows, sheet.case_rows(days), path, sheet.totals(rows))
