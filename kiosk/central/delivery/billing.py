"""Returned invoices for billing (what Releasy's form "Scanna returnerade fakturor" received):
per day and kiosk the accepted scans, as a CSV file, an Excel workbook beside it and a JSON
document. Pure (the workbook's bytes are made in memory).

Barcodes are text: the CSV carries them as bare digits for the programs that read it, and
Excel, opening a CSV, turns 735000100001 into 7,35E+11 and drops leading zeros; a CSV cannot
say "this column is text" without changing the value a program reads (="..." or a leading ').
So a person opens the workbook: one sheet per pile, every barcode cell a text cell with the
text format "@". Both carry "Sedd tidigare": the earliest accepted scan of the same code central
holds from an earlier time on another day or at another kiosk (kiosk/central/delivery/codes.py)."""

from __future__ import annotations

import csv
import hashlib
import io
import json

from ...core.clock import TZ, parse_iso
from ...core.domain import PILE_NAMES, SCAN_ORDER

CSV_COLUMNS = ("Datum", "Tid", "Streckkod", "Hög", "Plats", "Kiosk", "Signatur", "Sen", "Sedd tidigare")
# a workbook sheet per pile: Excel's sheet names hold at most 31 characters and no "/"
SHEET_NAMES = {"dodsbo": "Dödsbo", "sekretess": "Sekretess", "faktura": "Faktura och påminnelser",
               "ovriga_streckkod": "Övriga med streckkod"}


def accepted_scans(events) -> list[dict]:
    """The accepted scans of one kiosk's day from its events (envelope dicts) in order: each
    `scan_accepted` adds one, an `undone` scan removes the latest with its code."""
    out: list[dict] = []
    for ev in events:
        data = ev.get("data") or {}
        if ev.get("type") == "scan_accepted" and data.get("code"):
            out.append({"code": data["code"], "pile": data.get("pile") or "", "ts": ev.get("ts") or "",
                        "operator": ev.get("operator") or "", "late": bool(data.get("late"))})
        elif ev.get("type") == "undone" and data.get("what", "scan") == "scan" and data.get("code"):
            for i in range(len(out) - 1, -1, -1):
                if out[i]["code"] == data["code"]:
                    del out[i]
                    break
    return out


def _local(ts: str) -> tuple[str, str]:
    try:
        t = parse_iso(ts).astimezone(TZ)
    except ValueError:
        return "", ""
    return t.strftime("%Y-%m-%d"), t.strftime("%H:%M:%S")


def document(site: str, kiosk: str, day: str, scans: list[dict], seen: dict[str, dict] | None = None) -> dict:
    """The JSON billing receives (and the snapshot a delivery keeps). `seen`: per code the
    earlier sighting on another day or kiosk (codes.seen_before), `seen_before` of its scans."""
    rows = []
    for s in scans:
        _, hms = _local(s["ts"])
        rows.append({"barcode": s["code"], "pile": s["pile"], "pile_name": PILE_NAMES.get(s["pile"], s["pile"]),
                     "local_time": hms, "ts": s["ts"], "operator": s["operator"], "late": s["late"],
                     "seen_before": (seen or {}).get(s["code"])})
    return {"v": 1, "site": site, "kiosk": kiosk, "day": day, "count": len(rows), "scans": rows}


def seen_text(row: dict) -> str:
    """"2026-11-20 sthlm/kiosk-2" for a scan seen before, else ""."""
    seen = row.get("seen_before")
    return f"{seen['day']} {seen['site']}/{seen['kiosk']}" if seen else ""


def digest(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def file_name(site: str, kiosk: str, day: str) -> str:
    """Stable per day and kiosk: a later version replaces the file."""
    return f"returnerade-fakturor_{day}_{site}_{kiosk}.csv"


def xlsx_name(site: str, kiosk: str, day: str) -> str:
    """The workbook beside the CSV."""
    return file_name(site, kiosk, day)[:-len(".csv")] + ".xlsx"


def _cells(doc: dict, r: dict) -> list[str]:
    return [doc["day"], r["local_time"], r["barcode"], r["pile_name"], doc["site"], doc["kiosk"],
            r["operator"], "Ja" if r["late"] else "", seen_text(r)]


def to_csv(doc: dict, separator: str = ";") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=separator, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in doc["scans"]:
        w.writerow(_cells(doc, r))
    return buf.getvalue()


def to_xlsx(doc: dict) -> bytes:
    """The list as an Excel workbook: a sheet per pile with scans (in scanning order, an empty
    "Inga skanningar" sheet when none), the CSV's columns, header bold and frozen, every cell
    text; barcodes as text cells formatted "@", so Excel shows every digit."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    order = {p: i for i, p in enumerate(SCAN_ORDER)}
    piles = sorted({r["pile"] for r in doc["scans"]}, key=lambda p: (order.get(p, len(order)), p))
    wb = Workbook()
    wb.remove(wb.active)
    for pile in piles or [""]:
        title = SHEET_NAMES.get(pile) or PILE_NAMES.get(pile, pile).replace("/", " och ")[:31] or "Inga skanningar"
        ws = wb.create_sheet(title)
        ws.append(list(CSV_COLUMNS))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        rows = [_cells(doc, r) for r in doc["scans"] if r["pile"] == pile]
        for values in rows:
            ws.append(values)
        for n, name in enumerate(CSV_COLUMNS, start=1):
            for (cell,) in ws.iter_rows(min_row=2, min_col=n, max_col=n):
                cell.data_type = "s"  # text, never a number or a formula
                cell.number_format = "@"
            width = max([len(name)] + [len(v[n - 1]) for v in rows])
            ws.column_dimensions[get_column_letter(n)].width = min(40, width + 2)
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
