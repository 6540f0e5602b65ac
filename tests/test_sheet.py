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

from kiosk.core import followup
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
    scanned once too often and its cover slip refused by the printer (cover slip missing, a print
    failed), the label still waiting for the printer (a print queued), faktura and övriga never
    scanned before the day is closed (unscanned), a bestridan undone (an alert cancelled) and
    another that central never reported delivered (an alert unconfirmed)."""
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
    k.do(at(day, 8, 7), cmd="cover_slip")
    job = [p for p in k.controller.summary(day.isoformat())["print_jobs"] if p["kind"] == "cover_slip"][-1]["job"]
    k.do(at(day, 8, 7), cmd="print_outcome", job=job, ok=False, reason="no_paper")
    k.do(at(day, 8, 8), cmd="incoming", kind="bestridan", segment="privat")
    k.do(at(day, 8, 9), cmd="undo", what="incoming")
    k.do(at(day, 8, 10), cmd="incoming", kind="bestridan", segment="privat")
    k.controller.handle({"cmd": "close_day"}, at(day, 15))  # asks to confirm: piles unfinished
    k.do(at(day, 15), cmd="close_day", confirm=True)


def printer_took_all(k: KioskDay, when: dt.datetime) -> None:
    """The printer reports every job of the day waiting for it printed (as the shell does)."""
    for p in k.controller.summary(when.date().isoformat())["print_jobs"]:
        if p["state"] == "queued":
            k.do(when, cmd="print_outcome", job=p["job"], ok=True)


def day_with_a_reprint(k: KioskDay, day: dt.date) -> None:
    """Everything done before 14:00; one dödsbo label printed twice (the printer took both)."""
    k.do(at(day, 8), cmd="login", operator="BERT")
    sort(k, at(day, 8, 1), dodsbo=1, sekretess=1)
    k.do(at(day, 8, 2), cmd="scan_phase")
    k.do(at(day, 8, 3), cmd="scan", code="7350002000010")
    k.do(at(day, 8, 4), cmd="next_pile")
    k.do(at(day, 8, 5), cmd="dodsbo_label", personnummer="19121212-1212")
    k.do(at(day, 8, 6), cmd="dodsbo_label", personnummer="19121212-1212", confirm=True)
    printer_took_all(k, at(day, 8, 6))
    k.do(at(day, 8, 7), cmd="scan", code="7350002000027")
    k.do(at(day, 8, 8), cmd="next_pile")
    k.do(at(day, 8, 9), cmd="cover_slip")
    printer_took_all(k, at(day, 8, 9))
    for _ in range(2):
        k.do(at(day, 8, 10), cmd="next_pile")


def kiosk_numbers(summary: dict) -> dict[str, int]:
    """The kiosk's own day summary, counted per warning kind in letters (as its screen says:
    "1 av 3 är inte skannade", "3 utan försättsblad"), print jobs the printer has not taken and
    alerts without a confirmed delivery, plus reprints and cancelled alerts."""
    letters = {
        "missing_scans": lambda w: w["sorted"] - w["scanned"],
        "unscanned": lambda w: w["sorted"] - w["scanned"],
        "extra_scans": lambda w: w["scanned"] - w["sorted"],
        "labels_missing": lambda w: w["scanned"] - w["labels"],
        "cover_slip_missing": lambda w: w["scanned"] - w["covered"],
    }
    out = {followup.WARNING_COLUMNS[kind]: sum(n(w) for w in summary["warnings"] if w["kind"] == kind)
           for kind, n in letters.items()}
    jobs = summary["print_jobs"]
    out[followup.WARNING_COLUMNS["print_queued"]] = sum(1 for p in jobs if p["state"] == "queued")
    out[followup.WARNING_COLUMNS["print_failed"]] = sum(1 for p in jobs if p["state"] == "failed")
    out[followup.WARNING_COLUMNS["alert_unconfirmed"]] = sum(1 for a in summary["alerts"]
                                                             if not a["cancelled"] and not a.get("delivered_at"))
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
        assert want[(DAY.isoformat(), "kiosk-1")]["Ej skannade brev"] == 6  # four faktura, two övriga: never scanned
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
            assert header == list(followup.SHEET_COLUMNS), where
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


def printed_pairs(summary: dict) -> dict[str, str]:
    """The printed day summary's "name  value" lines, as the paper shows them."""
    import re

    from kiosk.core.printouts import Line, day_summary

    out = {}
    for item in day_summary(summary, "demo", "kiosk").items:
        m = re.match(r"^(\S.*\S)\s{2,}(\S.*)$", item.text) if isinstance(item, Line) else None
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_the_printed_summary_names_each_warning_kind_as_the_sheet_with_the_same_count(tmp_path):
    from kiosk.core.followup import follow_up_row

    k = KioskDay(tmp_path / "k", None)
    day_with_every_warning(k, DAY)
    summary = k.controller.summary(DAY.isoformat())
    row = follow_up_row(summary, "demo", "kiosk-1")
    printed = printed_pairs(summary)
    for kind, name in followup.WARNING_COLUMNS.items():
        assert printed.get(name) == str(row[kind]), (kind, name, printed)
        assert row[kind] > 0, kind


def kiosk_without_barcoded_mail(k: KioskDay, day: dt.date, close: bool) -> None:
    k.do(at(day, 8), cmd="login", operator="ANNA")
    sort(k, at(day, 8, 1), ovriga_brev=2)
    if close:
        k.do(at(day, 9), cmd="close_day", confirm=True)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_before_the_deadline_central_says_what_the_kiosk_prints(tmp_path, engine):
    """"Före 14:00" at central is the kiosk's verdict: "–" for a day without barcoded mail (open or
    closed, before or after 14:00), "pågår" for barcoded mail unfinished before 14:00, "Nej" after
    it (even if the kiosk never said so), "Ja" for a day done in time; in the CSV and the page."""
    import contextlib

    from kiosk.core.printouts import VERDICT_WORDS, deadline_verdict

    if engine == "sqlite":
        databases = contextlib.nullcontext(str(tmp_path / "central.db"))
    else:
        from kiosk_dev.pgtest import temp_database

        databases = temp_database()
    days = {"closed-none": (DAY, True), "open-none": (DAY + dt.timedelta(days=1), False)}
    with databases as db:
        add_users(db, at(DAY, 7))
        kiosks = {}
        for name, (day, close) in days.items():
            kiosks[name] = KioskDay(tmp_path / name, None, kiosk=name)
            kiosk_without_barcoded_mail(kiosks[name], day, close)
        pending = kiosks["pending"] = KioskDay(tmp_path / "pending", None, kiosk="pending")
        pending.do(at(DAY + dt.timedelta(days=1), 8), cmd="login", operator="BERT")
        sort(pending, at(DAY + dt.timedelta(days=1), 8, 1), faktura=2)
        done = kiosks["done"] = KioskDay(tmp_path / "done", None, kiosk="done")
        day_with_a_reprint(done, DAY)
        for k in kiosks.values():
            ingest(db, k.messages())
        lo, hi = DAY.isoformat(), (DAY + dt.timedelta(days=1)).isoformat()
        for hour, want_pending in ((11, "pågår"), (15, "Nej")):
            now = at(DAY + dt.timedelta(days=1), hour)
            app = create_app(db, secret="s" * 64, clock=lambda now=now: now)
            with Served(app) as served:
                c = Client(served.url)
                assert c.login("lasare", PASSWORDS["lasare"]) == 303
                status, _, body = c.get(f"/uppfoljning?from={lo}&to={hi}&format=csv")
                assert status == 200
                status, _, html = c.get(f"/uppfoljning?from={lo}&to={hi}")
                assert status == 200
            lines = list(csv.reader(io.StringIO(body.decode("utf-8").lstrip("\ufeff")), delimiter=";"))
            page = Table("sheet")
            page.feed(html.decode("utf-8"))
            for where, header, rows in (("csv", lines[0], lines[1:-1]), ("page", page.head, page.rows)):
                got = {dict(zip(header, r))["Kiosk"]: dict(zip(header, r))[followup.DEADLINE_COL] for r in rows}
                assert got == {"closed-none": "–", "open-none": "–", "pending": want_pending, "done": "Ja"}, \
                    (where, hour)
                total = dict(zip(header, lines[-1] if where == "csv" else page.foot))
                decided = 1 if want_pending == "pågår" else 2
                assert total[followup.DEADLINE_COL] == f"Ja 1 av {decided}", (where, hour)
        # the kiosk's own words for the same days (the printed summary's "Före 14:00")
        for name, k in kiosks.items():
            summary = k.controller.summary(k.journal.days()[-1])
            printed = printed_pairs(summary)["Före 14:00"]
            assert printed == VERDICT_WORDS[deadline_verdict(summary)].upper()
            if name.endswith("none"):
                assert printed == "–" and summary["deadline_met"] is None and summary["barcoded_mail"] is False


def test_the_cards_deadline_line_says_no_deadline_on_a_day_without_barcoded_mail():
    from kiosk.central.web import views

    day = DAY.isoformat()
    none = {"deadline_met": None, "barcoded_mail": 0, "phase": "sorting", "scan_done_at": None}
    assert views.deadline_view(day, none, at(DAY, 13))["text"] == "1 h 00 min kvar till 14:00"  # mail may still come
    for row, now in ((none, at(DAY, 15)), (dict(none, phase="closed"), at(DAY, 9))):
        assert views.deadline_view(day, row, now) == {"text": "Inga streckkodsbrev i dag: ingen 14:00-gräns", "cls": ""}
    pending = dict(none, barcoded_mail=1)
    assert views.deadline_view(day, pending, at(DAY, 15)) == {"text": "14:00 har passerat: skanningen är inte klar",
                                                               "cls": "red"}


def test_the_kiosks_summary_screen_names_each_warning_kind_as_the_sheet():
    from kiosk.core.followup import COLUMNS
    from kiosk.shelf.ui.screens.summary import COLUMN_NAMES

    for kind, name in followup.WARNING_COLUMNS.items():
        assert COLUMN_NAMES[kind] == name and kind in COLUMNS and name in followup.SHEET_COLUMNS, kind
