"""The follow-up sheet counts what happened: every kind of warning the kiosk's day summary gives
has its own summable column in the web app's page, its CSV and its XLSX, with the kiosk's own
numbers, on both engines.

Kiosk days made by the real controller and journal (tests/web_helpers.KioskDay), stored through
the store's ingest, read back over HTTP from the served web app as a TL would."""

from __future__ import annotations

import csv
import datetime as dt
import io
from html.parser import HTMLParser

import pytest

from kiosk.central import followup
from kiosk.central.web.app import create_app
from kiosk.core.clock import TZ
from kiosk_dev.web_serve import Client, Served

from .web_helpers import PASSWORDS, KioskDay, add_users, ingest

DAY = dt.date(2026, 11, 23)


def at(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=TZ)


def sort(k: KioskDay, when: dt.datetime, **piles: int) -> None:
    for pile, n in piles.items():
        for _ in range(n):
            k.do(when, cmd="sort", pile=pile)


def day_with_every_warning(k: KioskDay, day: dt.date) -> None:
    """Dödsbo finished one short (missing scans) with a label short (labels missing), sekretess
    scanned once too often and no cover slip, faktura and övriga never scanned before the day is
    closed (unscanned), a bestridan undone (an alert cancelled)."""
    k.do(at(day, 8), cmd="login", operator="ANNA")
    sort(k, at(day, 8, 1), dodsbo=3, sekretess=2, faktura=4, ovriga_streckkod=2, ovriga_brev=1)
    k.do(at(day, 8, 2), cmd="scan_phase")
    for code in ("7350001000011", "7350001000028"):
        k.do(at(day, 8, 3), cmd="scan", code=code)
    k.controller.handle({"cmd": "next_pile"}, at(day, 8, 4))  # asks to confirm: one is missing
    k.do(at(day, 8, 4), cmd="next_pile", confirm=True)
    k.do(at(day, 8, 5), cmd="dodsbo_label", personnummer="19121212-1212")
    for code in ("7350001000035", "7350001000042", "7350001000059"):
        k.do(at(day, 8, 6), cmd="scan", code=code)
    k.do(at(day, 8, 7), cmd="next_pile")
    k.do(at(day, 8, 8), cmd="incoming", kind="bestridan", segment="privat")
    k.do(at(day, 8, 9), cmd="undo", what="incoming")
    k.controller.handle({"cmd": "close_day"}, at(day, 15))  # asks to confirm: piles unfinished
    k.do(at(day, 15), cmd="close_day", confirm=True)


def day_with_a_reprint(k: KioskDay, day: dt.date) -> None:
    """Everything done before 14:00; one dödsbo label printed twice."""
    k.do(at(day, 8), cmd="login", operator="BERT")
    sort(k, at(day, 8, 1), dodsbo=1, sekretess=1)
    k.do(at(day, 8, 2), cmd="scan_phase")
    k.do(at(day, 8, 3), cmd="scan", code="7350002000010")
    k.do(at(day, 8, 4), cmd="next_pile")
    k.do(at(day, 8, 5), cmd="dodsbo_label", personnummer="19121212-1212")
    k.do(at(day, 8, 6), cmd="dodsbo_label", personnummer="19121212-1212", confirm=True)
    k.do(at(day, 8, 7), cmd="scan", code="7350002000027")
    k.do(at(day, 8, 8), cmd="next_pile")
    k.do(at(day, 8, 9), cmd="cover_slip")
    for _ in range(2):
        k.do(at(day, 8, 10), cmd="next_pile")


def kiosk_numbers(summary: dict) -> dict[str, int]:
    """The kiosk's own day summary, counted per warning kind in letters (as its screen says:
    "1 av 3 är inte skannade", "3 utan försättsblad"), plus reprints and cancelled alerts."""
    letters = {
        "missing_scans": lambda w: w["sorted"] - w["scanned"],
        "unscanned": lambda w: w["sorted"] - w["scanned"],
        "extra_scans": lambda w: w["scanned"] - w["sorted"],
        "labels_missing": lambda w: w["scanned"] - w["labels"],
        "cover_slip_missing": lambda w: w["scanned"] - w["covered"],
    }
    out = {followup.WARNING_COLUMNS[kind]: sum(n(w) for w in summary["warnings"] if w["kind"] == kind)
           for kind, n in letters.items()}
    out["Omutskrivna etiketter"] = summary["label_reprints"]
    out["Återkallade larm"] = sum(1 for a in summary["alerts"] if a["cancelled"])
    return out


class Table(HTMLParser):
    """The cells of one `<table id=...>`: header, body rows and footer, as text."""

    def __init__(self, table_id: str):
        super().__init__()
        self.id, self.inside, self.part = table_id, False, ""
        self.head: list[str] = []
        self.rows: list[list[str]] = []
        self.foot: list[str] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.id:
            self.inside = True
        elif self.inside and tag in ("thead", "tbody", "tfoot"):
            self.part = tag
        elif self.inside and tag == "tr" and self.part == "tbody":
            self.rows.append([])
        elif self.inside and tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self.inside:
            self.inside = False
        elif self.inside and tag in ("th", "td") and self.cell is not None:
            text = "".join(self.cell).strip()
            {"thead": self.head, "tfoot": self.foot}.get(self.part, self.rows[-1] if self.rows else []).append(text)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_every_warning_kind_has_a_summable_column_with_the_kiosks_numbers(tmp_path, engine):
    from io import BytesIO

    from openpyxl import load_workbook

    if engine == "sqlite":
        import contextlib

        databases = contextlib.nullcontext(str(tmp_path / "central.db"))
    else:
        from kiosk_dev.pgtest import temp_database

        databases = temp_database()
    with databases as db:
        add_users(db, at(DAY, 7))
        one = KioskDay(tmp_path / "k1", None, kiosk="kiosk-1")
        two = KioskDay(tmp_path / "k2", None, kiosk="kiosk-2")
        day_with_every_warning(one, DAY)
        day_with_a_reprint(two, DAY)
        day_with_every_warning(two, DAY + dt.timedelta(days=1))
        for k in (one, two):
            ingest(db, k.messages())
        want = {}
        for k, name in ((one, "kiosk-1"), (two, "kiosk-2")):
            for day in k.journal.days():
                want[(day, name)] = kiosk_numbers(k.controller.summary(day))
        kinds = {w["kind"] for k in (one, two) for d in k.journal.days() for w in k.controller.summary(d)["warnings"]}
        assert kinds == set(followup.WARNING_COLUMNS), "the days give every kind of warning the sheet has a column for"
        assert want[(DAY.isoformat(), "kiosk-1")]["Ej skannade"] == 6  # four faktura, two övriga: never scanned
        assert want[(DAY.isoformat(), "kiosk-2")]["Omutskrivna etiketter"] == 1
        assert sum(n["Återkallade larm"] for n in want.values()) == 2  # one undone bestridan a day of every warning
        columns = list(kiosk_numbers(one.controller.summary(DAY.isoformat())))
        assert set(columns) <= set(followup.NUMBER_COLUMNS)  # summed in the totals row

        lo, hi = DAY.isoformat(), (DAY + dt.timedelta(days=1)).isoformat()
        app = create_app(db, secret="s" * 64, clock=lambda: at(DAY + dt.timedelta(days=2), 9))
        with Served(app) as served:
            c = Client(served.url)
            assert c.login("lasare", PASSWORDS["lasare"]) == 303
            status, _, body = c.get(f"/uppfoljning?from={lo}&to={hi}&format=csv")
            assert status == 200
            lines = list(csv.reader(io.StringIO(body.decode("utf-8").lstrip("\ufeff")), delimiter=";"))
            status, _, xlsx = c.get(f"/uppfoljning?from={lo}&to={hi}&format=xlsx")
            assert status == 200
            status, _, html = c.get(f"/uppfoljning?from={lo}&to={hi}")
            assert status == 200
        page = Table("sheet")
        page.feed(html.decode("utf-8"))
        ws = load_workbook(BytesIO(xlsx))[followup.SHEET_TITLE]
        sheets = {
            "csv": (lines[0], lines[1:-1], lines[-1]),
            "xlsx": ([c.value for c in ws[1]], [list(r) for r in ws.iter_rows(min_row=2, max_row=ws.max_row - 1,
                                                                              values_only=True)],
                     [c.value for c in ws[ws.max_row]]),
            "page": (page.head, page.rows, page.foot),
        }
        for where, (header, rows, total) in sheets.items():
            assert header == list(followup.COLUMNS), where
            got = {}
            for r in rows:
                cells = dict(zip(header, r))
                day = cells["Datum"].date().isoformat() if isinstance(cells["Datum"], dt.datetime) else cells["Datum"]
                got[(day, cells["Kiosk"])] = {c: int(cells[c]) for c in columns}
            assert got == want, where
            sums = dict(zip(header, total))
            assert sums["Datum"] == "Summa", where
            for c in columns:
                assert int(sums[c]) == sum(n[c] for n in want.values()), (where, c)
