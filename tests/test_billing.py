"""Billing reads what it needs: beside each day's CSV an Excel workbook, a sheet per pile, every
barcode a text cell (Excel shows all its digits, never 7,35E+11); both files and the POST mark a
code central has seen before on another day or at another kiosk, decided from the store.

Kiosk days made by the real controller and journal, stored through the store's ingest, the files
written by the delivery worker into a folder; on both engines."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from openpyxl import load_workbook

from kiosk.central.db import open_database
from kiosk.central.delivery import billing, outbox, worker
from kiosk.central.delivery.config import read
from kiosk.core.clock import TZ
from kiosk.core.config import load

from .web_helpers import KioskDay, ingest
from .delivery_servers import without_delivery

MON = dt.date(2026, 11, 23)
TUE = MON + dt.timedelta(days=1)
LONG = "735000100001"  # twelve digits: Excel shows a number 7,35E+11
ZEROS = "0073500012345"  # leading zeros a number drops


def at(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=TZ)


def scan_day(k: KioskDay, day: dt.date, hh: int, dodsbo: list[str], faktura: list[str]) -> None:
    """A day at one kiosk: these codes scanned in the dödsbo and faktura piles, from hh:00."""
    k.do(at(day, hh), cmd="login", operator="ANNA")
    for pile, codes in (("dodsbo", dodsbo), ("faktura", faktura)):
        for _ in codes:
            k.do(at(day, hh, 1), cmd="sort", pile=pile)
    k.do(at(day, hh, 2), cmd="scan_phase")
    for minute, (pile, codes) in enumerate((("dodsbo", dodsbo), ("sekretess", []), ("faktura", faktura)), start=3):
        for code in codes:
            k.do(at(day, hh, minute), cmd="scan", code=code)
        k.do(at(day, hh, minute), cmd="next_pile")


def deliver(db: str, tmp_path: Path, now: dt.datetime) -> Path:
    folder = tmp_path / "billing"
    cfg_path = tmp_path / "central.toml"
    cfg_path.write_text(f'[delivery]\ninterval_s = 0.05\n[clock_alerts]\nenabled = false\n'
                        f'[billing]\ndir = "{folder}"\n', encoding="utf-8")
    worker.run_once(read(load(cfg_path)), db, now=now.astimezone(dt.timezone.utc))
    return folder


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))


def test_workbook_beside_the_csv_keeps_barcodes_as_text_per_pile_and_marks_codes_seen_before(central_db, tmp_path):
    with open_database(central_db) as database:
        outbox.ensure_schema(database)  # delivery on from the start
    one = KioskDay(tmp_path / "k1", None, site="sthlm", kiosk="kiosk-1")
    two = KioskDay(tmp_path / "k2", None, site="gbg", kiosk="kiosk-2")
    scan_day(one, MON, 8, dodsbo=[LONG], faktura=["7350001000011", ZEROS])
    scan_day(two, TUE, 8, dodsbo=["7350009999999"], faktura=["7350001000011"])  # seen Monday at kiosk-1
    scan_day(one, TUE, 9, dodsbo=[LONG], faktura=["7350001000011"])  # LONG: Monday, same kiosk; 0011: kiosk-2, 08:05
    for k in (one, two):
        ingest(central_db, k.messages())
    folder = deliver(central_db, tmp_path, at(TUE, 12))

    name = "returnerade-fakturor_{}_{}_{}.{}"
    mon = read_csv(folder / name.format(MON, "sthlm", "kiosk-1", "csv"))
    assert [(r["Streckkod"], r["Hög"], r["Sedd tidigare"]) for r in mon] == [
        (LONG, "Dödsbofakturor", ""), ("7350001000011", "Faktura/påminnelse", ""), (ZEROS, "Faktura/påminnelse", "")]
    gbg = read_csv(folder / name.format(TUE, "gbg", "kiosk-2", "csv"))
    assert [(r["Streckkod"], r["Sedd tidigare"]) for r in gbg] == [
        ("7350009999999", ""), ("7350001000011", f"{MON} sthlm/kiosk-1")]
    tue = read_csv(folder / name.format(TUE, "sthlm", "kiosk-1", "csv"))
    assert [(r["Streckkod"], r["Sedd tidigare"]) for r in tue] == [
        (LONG, f"{MON} sthlm/kiosk-1"), ("7350001000011", f"{MON} sthlm/kiosk-1")]  # the earliest sighting

    # the workbook beside each CSV: the same rows, a sheet per pile, barcodes as text cells
    for csv_rows, (day, site, kiosk) in ((mon, (MON, "sthlm", "kiosk-1")), (tue, (TUE, "sthlm", "kiosk-1")),
                                         (gbg, (TUE, "gbg", "kiosk-2"))):
        wb = load_workbook(folder / name.format(day, site, kiosk, "xlsx"))
        assert wb.sheetnames == ["Dödsbo", "Faktura och påminnelser"]
        rows = []
        for ws in wb:
            header = [c.value for c in ws[1]]
            assert header == list(billing.CSV_COLUMNS) and ws.freeze_panes == "A2"
            for line in ws.iter_rows(min_row=2):
                code = line[header.index("Streckkod")]
                assert code.data_type == "s" and code.number_format == "@" and isinstance(code.value, str)
                rows.append({h: ("" if c.value is None else c.value) for h, c in zip(header, line)})
            assert {r["Hög"] for r in rows[-(ws.max_row - 1):]} == {{"Dödsbo": "Dödsbofakturor"}.get(
                ws.title, "Faktura/påminnelse")}
        assert rows == csv_rows
    wb = load_workbook(folder / name.format(MON, "sthlm", "kiosk-1", "xlsx"))
    assert [c.value for (c,) in wb["Faktura och påminnelser"].iter_rows(min_row=2, min_col=3, max_col=3)] == \
        ["7350001000011", ZEROS]


def test_codes_stored_before_delivery_existed_count_as_seen(central_db, tmp_path):
    """An upgraded central: Monday was stored before the delivery rooms were made; Tuesday's
    list still marks the code Monday had (the codes are backfilled from the store)."""
    one = KioskDay(tmp_path / "k1", None, site="sthlm", kiosk="kiosk-1")
    scan_day(one, MON, 8, dodsbo=[], faktura=[LONG])
    ingest(central_db, one.messages())
    without_delivery(central_db)  # a new database has every room at once: make it an older central
    with open_database(central_db) as database:
        outbox.ensure_schema(database)
    first = one.journal.last_seq
    scan_day(one, TUE, 8, dodsbo=[], faktura=[LONG, "7350001000011"])
    ingest(central_db, one.messages(after_seq=first))
    folder = deliver(central_db, tmp_path, at(TUE, 12))
    assert sorted(p.name for p in folder.iterdir()) == [f"returnerade-fakturor_{TUE}_sthlm_kiosk-1.csv",
                                                        f"returnerade-fakturor_{TUE}_sthlm_kiosk-1.xlsx"]
    rows = read_csv(folder / f"returnerade-fakturor_{TUE}_sthlm_kiosk-1.csv")
    assert [(r["Streckkod"], r["Sedd tidigare"]) for r in rows] == [(LONG, f"{MON} sthlm/kiosk-1"),
                                                                   ("7350001000011", "")]


def test_an_undone_scan_is_not_a_sighting(central_db, tmp_path):
    with open_database(central_db) as database:
        outbox.ensure_schema(database)
    one = KioskDay(tmp_path / "k1", None, site="sthlm", kiosk="kiosk-1")
    one.do(at(MON, 8), cmd="login", operator="ANNA")
    one.do(at(MON, 8, 1), cmd="sort", pile="faktura")
    one.do(at(MON, 8, 2), cmd="scan_phase")
    one.do(at(MON, 8, 3), cmd="next_pile")
    one.do(at(MON, 8, 3), cmd="next_pile")
    one.do(at(MON, 8, 4), cmd="scan", code=LONG)
    one.do(at(MON, 8, 5), cmd="undo", what="scan", code=LONG)
    first = one.journal.last_seq
    ingest(central_db, one.messages())
    deliver(central_db, tmp_path, at(MON, 9))
    scan_day(one, TUE, 8, dodsbo=[], faktura=[LONG])
    ingest(central_db, one.messages(after_seq=first))
    folder = deliver(central_db, tmp_path, at(TUE, 9))
    assert [(r["Streckkod"], r["Sedd tidigare"]) for r in read_csv(
        folder / f"returnerade-fakturor_{TUE}_sthlm_kiosk-1.csv")] == [(LONG, "")]
