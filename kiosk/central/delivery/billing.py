"""Returned invoices for billing (what Releasy's form "Scanna returnerade fakturor" received):
per day and kiosk the accepted scans, as a CSV file and as a JSON document. Pure."""

from __future__ import annotations

import csv
import hashlib
import io
import json

from ...clock import TZ, parse_iso
from ...domain import PILE_NAMES

CSV_COLUMNS = ("Datum", "Tid", "Streckkod", "Hög", "Plats", "Kiosk", "Signatur", "Sen")


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


def document(site: str, kiosk: str, day: str, scans: list[dict]) -> dict:
    """The JSON billing receives (and the snapshot a delivery keeps)."""
    rows = []
    for s in scans:
        _, hms = _local(s["ts"])
        rows.append({"barcode": s["code"], "pile": s["pile"], "pile_name": PILE_NAMES.get(s["pile"], s["pile"]),
                     "local_time": hms, "ts": s["ts"], "operator": s["operator"], "late": s["late"]})
    return {"v": 1, "site": site, "kiosk": kiosk, "day": day, "count": len(rows), "scans": rows}


def digest(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def file_name(site: str, kiosk: str, day: str) -> str:
    """Stable per day and kiosk: a later version replaces the file."""
    return f"returnerade-fakturor_{day}_{site}_{kiosk}.csv"


def to_csv(doc: dict, separator: str = ";") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=separator, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for r in doc["scans"]:
        w.writerow([doc["day"], r["local_time"], r["barcode"], r["pile_name"], doc["site"], doc["kiosk"],
                    r["operator"], "Ja" if r["late"] else ""])
    return buf.getvalue()
