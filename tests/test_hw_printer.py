"""The thermal printer: the same Layout to ESC/POS bytes (code page, sizes, cut), the durable job
queue (offline, out of paper, restart, reprint), the dödsbo label never on disk, the network
backend against a TCP printer that answers real ESC/POS status queries."""

import datetime as dt
import json
import re
import socket
import threading
from pathlib import Path

import pytest

from kiosk.core import config as kconfig, printouts
from kiosk.core.clock import FixedClock
from kiosk.shelf.controller import Controller
from kiosk.core.effects import Print
from kiosk.shelf.hw import build
from kiosk.shelf.hw.escpos_render import decode_text, has_cut, render
from kiosk.shelf.hw.printer import (NO_PAPER, OFFLINE, OK, DummyTransport, EscposTransport, FileTransport,
                              PrintService, make_transport)
from kiosk.wire.journal import Journal

from kiosk.core.clock import TZ

EXAMPLE = Path(__file__).resolve().parent.parent / "kiosk" / "shelf" / "examples" / "example-day.jsonl"
DAY = dt.date(2026, 11, 23)


def local(y, m, d, hh=9, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


def slip():
    return printouts.test_slip("demo", "kiosk-1", dt.datetime(2026, 11, 23, 9, 0))


def label(pnr="19121212-1212"):
    return printouts.dodsbo_label(pnr, DAY)


# -- rendering ---------------------------------------------------------------------------------------
def test_swedish_letters_decode_with_the_selected_code_page():
    data = render(slip(), "CP858")
    assert b"\x1bt\x13" in data  # ESC t 19 = CP858, selected before any text
    assert data.index(b"\x1bt\x13") < data.index("TESTUTSKRIFT".encode())
    text = decode_text(data, "CP858")
    assert "Svenska tecken: å ä ö Å Ä Ö é" in text
    assert "å ä ö".encode("cp858") in data and "å".encode("utf-8") not in data
    assert has_cut(data) and data.endswith(b"\x1dV\x00")


def test_other_code_page_changes_the_bytes_but_not_the_text():
    data = render(slip(), "CP850")
    assert b"\x1bt\x02" in data
    assert "Svenska tecken: å ä ö Å Ä Ö é" in decode_text(data, "CP850")


def test_sizes_bold_alignment_and_rules():
    layout = printouts.Layout("t", (printouts.Line("STOR", size=2, bold=True, align="center"),
                                    printouts.Line("liten", align="right"), printouts.Rule(),
                                    printouts.Line("trippel", size=3)))
    data = render(layout)
    big = data.index(b"STOR")
    before = data[:big]
    assert b"\x1b!0" in before or b"\x1d!\x11" in before  # double width and height
    assert before.endswith(b"\x1bE\x01\x1ba\x01")  # bold on, centred, right before the text
    small = data.index(b"liten")
    assert data[:small].endswith(b"\x1bE\x00\x1ba\x02")  # bold off, right aligned
    assert "─" * 48 in decode_text(data)
    assert b"\x1d!\x22" in data  # custom size 3x3 for size 3


def test_long_lines_wrap_the_same_way_in_preview_and_print():
    text = "Lägg fakturorna i kuvertet bakom detta blad och skicka dem till faktureringen i dag."
    layout = printouts.Layout("t", (printouts.Line(text),), cut=False)
    printed = [ln for ln in decode_text(render(layout)).splitlines() if ln]
    assert printed == printouts.wrap(text, 48)
    assert all(len(ln) <= 48 for ln in printed)
    assert " ".join(printed) == text


def test_unknown_characters_become_question_marks_not_a_crash():
    layout = printouts.Layout("t", (printouts.Line("Ω ok ✓"),))
    assert "? ok ?" in decode_text(render(layout))


def test_layout_serialisation_round_trip():
    for layout in (slip(), label(), printouts.cover_slip(DAY, 3, "s", "k", "ANNA")):
        assert printouts.layout_from_dict(json.loads(json.dumps(printouts.layout_to_dict(layout)))) == layout


# -- the printouts of a real day -----------------------------------------------------------------------
def run_example_day(tmp_path):
    cfg = kconfig.parse(f'[kiosk]\ndata_dir = "{tmp_path}"\n[printer]\nbackend = "dummy"\npreview_dir = "{tmp_path}/prev"\n')
    journal = Journal(tmp_path / "journal.db", "demo", "kiosk-1")
    clock = FixedClock(local(2026, 11, 23, 8, 0))
    controller = Controller(cfg, journal, clock)
    devices = build(cfg, controller, simulator=True)
    printed = []
    devices.print_listeners.append(lambda job, outcome: printed.append((job, outcome)))
    scripted = [json.loads(line) for line in EXAMPLE.read_text().splitlines() if line.strip()]
    from kiosk.core.clock import parse_iso
    for command in scripted:
        at = parse_iso(command.pop("at"))
        clock.set(at)
        controller.handle(command, at)
    return devices, printed, scripted, journal


def test_cover_slip_bytes_hold_no_barcode_and_no_personnummer(tmp_path):
    devices, printed, scripted, journal = run_example_day(tmp_path)
    try:
        kinds = [job.kind for job, _ in printed]
        assert kinds.count("cover_slip") == 1 and kinds.count("address_label") == 1 and kinds.count("dodsbo_label") == 3
        cover = next(job for job, _ in printed if job.kind == "cover_slip")
        data = render(cover.layout)
        text = decode_text(data)
        barcodes = {c["code"] for c in scripted if c.get("cmd") == "scan"} | {c["barcode"] for c in scripted if c.get("barcode")}
        pnrs = [c["personnummer"] for c in scripted if c.get("cmd") == "dodsbo_label"]
        assert len(barcodes) >= 10 and len(pnrs) == 4  # one of them asked for the century first
        for code in barcodes:
            assert code.encode("cp858", "replace") not in data and code not in text
        digits_only = re.sub(r"\D", "", text)
        for pnr in pnrs:
            d = re.sub(r"\D", "", pnr)
            assert d[-10:] not in digits_only  # neither 10- nor 12-digit form, with or without dash
        # what it must hold: billing's address, date, count, kiosk, signature
        for row in ("Ellevio AB (publ)", "Fakturering", "Box 24207", "104 51 Stockholm", "2026-11-23",
                    "demo/kiosk-1", "ANNA"):
            assert row in text
        assert re.search(r"Antal fakturor:\s+3", text)
        assert has_cut(data)
        # and everything the dummy printer got: every job's bytes, in order, with a cut each
        out = devices.printer.transport.output
        assert out.count(b"\x1dV\x00") == len(printed)
    finally:
        devices.close()
        journal.close()


def test_dodsbo_label_prints_the_personnummer_large_and_formatted(tmp_path):
    devices, printed, _, journal = run_example_day(tmp_path)
    try:
        labels = [job for job, _ in printed if job.kind == "dodsbo_label"]
        assert all(not job.persist for job in labels)
        data = render(labels[0].layout)
        text = decode_text(data)
        assert "19121212-1212" in text and "DÖDSBO" in text
        pos = data.index(b"19121212-1212")
        assert data[:pos].endswith(b"\x1d!\x22\x1bE\x01\x1ba\x01")  # triple size, bold, centred
        assert "19811218-9876" in decode_text(render(labels[1].layout))  # 10 digits -> YYYYMMDD-NNNN
    finally:
        devices.close()
        journal.close()


def test_day_summary_bytes_hold_the_follow_up_row(tmp_path):
    devices, printed, _, journal = run_example_day(tmp_path)
    try:
        summary = next(job for job, _ in printed if job.kind == "day_summary")
        text = decode_text(render(summary.layout))
        assert "DAGSSAMMANSTÄLLNING" in text and "Dödsbofakturor" in text and "Övriga brev med streckkod" in text
        assert re.search(r"Sekretessfakturor\s+3", text)
        assert re.search(r"Lägenhetsnummer \(brev A\)\s+2", text)
    finally:
        devices.close()
        journal.close()


# -- the queue -----------------------------------------------------------------------------------------
@pytest.fixture
def dummy():
    return DummyTransport()


def service(transport, tmp_path, **kw):
    return PrintService(transport, tmp_path / "print_queue.db", preview_dir=tmp_path / "previews", **kw)


def test_printed_at_once_when_the_printer_is_ready(dummy, tmp_path):
    s = service(dummy, tmp_path)
    outcome = s.submit(Print("test", slip()))
    assert outcome.ok and not outcome.kept and outcome.message == "Testutskrift: utskriven."
    assert dummy.output == render(slip())
    assert s.pending() == 0
    assert s.jobs()[0]["state"] == "printed"


def test_offline_job_survives_a_restart_and_prints_when_the_printer_is_back(dummy, tmp_path):
    dummy.online = False
    s = service(dummy, tmp_path)
    outcome = s.submit(Print("cover_slip", printouts.cover_slip(DAY, 3, "demo", "kiosk-1", "ANNA")))
    assert not outcome.ok and outcome.kept and outcome.state == OFFLINE
    assert outcome.message.startswith("Skrivaren svarar inte.") and "sparad" in outcome.message
    assert s.pending() == 1
    assert s.status() == (OFFLINE, "Skrivaren svarar inte. Kontrollera att den är påslagen och att kabeln sitter i.")
    s.close()  # the kiosk restarts

    s2 = service(dummy, tmp_path)
    assert s2.pending() == 1
    assert s2.retry()[0].state == OFFLINE  # still off: still kept
    dummy.online = True
    outcomes = s2.retry()
    assert [o.ok for o in outcomes] == [True]
    assert "Ellevio AB (publ)" in decode_text(dummy.output)
    assert s2.pending() == 0
    s2.close()


def test_out_of_paper_message_and_order_kept(dummy, tmp_path):
    s = service(dummy, tmp_path)
    dummy.paper = 0
    a = s.submit(Print("test", printouts.Layout("Jobb A", (printouts.Line("AAA"),))))
    b = s.submit(Print("test", printouts.Layout("Jobb B", (printouts.Line("BBB"),))))
    assert a.state == NO_PAPER and "slut på papper" in a.message and "Jobb A" in a.message
    assert not b.ok and s.pending() == 2
    assert s.status()[0] == NO_PAPER
    dummy.paper = 2
    c = s.submit(Print("test", printouts.Layout("Jobb C", (printouts.Line("CCC"),))))
    assert c.ok
    text = decode_text(dummy.output)
    assert text.index("AAA") < text.index("BBB") < text.index("CCC")


def test_paper_low_is_ok_with_a_warning(dummy, tmp_path):
    dummy.paper = 1
    s = service(dummy, tmp_path)
    assert s.status() == (OK, "Skrivaren är klar, men pappret tar snart slut.")
    assert s.submit(Print("test", slip())).ok


def test_reprint_on_request(dummy, tmp_path):
    s = service(dummy, tmp_path)
    job_id = s.submit(Print("day_summary", slip())).job_id
    assert s.reprint(job_id).ok
    assert dummy.output == render(slip()) * 2
    assert not s.reprint("999").ok


def test_dodsbo_label_is_never_written_to_disk(dummy, tmp_path):
    pnr = "19121212-1212"
    dummy.online = False
    s = service(dummy, tmp_path)
    outcome = s.submit(Print("dodsbo_label", label(pnr), persist=False))
    assert not outcome.ok and outcome.kept and outcome.job_id.startswith("m")
    assert "personnummer" in outcome.message and "sparas inte" in outcome.message
    assert s.pending() == 1
    assert s.last_preview_png("dodsbo_label").startswith(b"\x89PNG")  # in memory for the screen
    s.submit(Print("test", slip()))  # a persistent job beside it
    # nothing on disk holds it: queue DB, WAL, previews
    for path in tmp_path.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for form in (pnr, "121212-1212", "1212121212", "191212121212"):
                assert form.encode() not in blob, path
    assert not any("dodsbo" in p.name for p in (tmp_path / "previews").iterdir())
    dummy.online = True
    assert all(o.ok for o in s.retry())
    assert pnr in decode_text(dummy.output)
    assert s.pending() == 0
    assert not s.reprint(outcome.job_id).ok  # gone from memory once printed: re-enter it
    s.close()


def test_dodsbo_label_kept_in_memory_is_gone_after_a_restart(dummy, tmp_path):
    dummy.online = False
    s = service(dummy, tmp_path)
    s.submit(Print("dodsbo_label", label(), persist=False))
    assert s.pending() == 1
    s.close()
    s2 = service(dummy, tmp_path)
    assert s2.pending() == 0  # it must be entered again
    outcome = s2.reprint("m1")
    assert not outcome.ok and "Mata in personnumret igen" in outcome.message


def test_previews_of_persistent_jobs_are_saved(dummy, tmp_path):
    s = service(dummy, tmp_path)
    s.submit(Print("cover_slip", printouts.cover_slip(DAY, 2, "demo", "kiosk-1", "ANNA")))
    files = list((tmp_path / "previews").glob("*-cover_slip.png"))
    assert len(files) == 1 and files[0].read_bytes() == s.last_preview_png("cover_slip")


# -- file backend --------------------------------------------------------------------------------------
def test_file_backend_appends_and_missing_device_is_offline(tmp_path):
    f = FileTransport(tmp_path / "out" / "printer.bin")
    s = PrintService(f, tmp_path / "q.db")
    assert s.submit(Print("test", slip())).ok
    assert s.submit(Print("test", slip())).ok
    assert (tmp_path / "out" / "printer.bin").read_bytes() == render(slip()) * 2
    s.close()
    lp = FileTransport(Path("/dev/usb/lp9"))
    assert lp.status()[0] == OFFLINE
    s = PrintService(lp, tmp_path / "q.db")
    outcome = s.submit(Print("test", slip()))
    assert outcome.kept and outcome.state == OFFLINE and s.pending() == 1


def test_usb_and_serial_backends_without_their_device_are_offline(tmp_path):
    cfg = kconfig.parse("").data["printer"]
    for backend in ("usb", "serial"):
        t = make_transport(dict(cfg, backend=backend))
        state, detail = t.status()
        assert state == OFFLINE and detail


# -- network backend against a TCP printer ---------------------------------------------------------------
class TcpPrinter:
    """A network thermal printer on localhost: answers DLE EOT 1 / DLE EOT 4 like a real one and
    keeps what it is sent. `off()` stops listening and drops open connections (power cut),
    `on()` starts again on the same port."""

    def __init__(self):
        self.paper = 0x12  # paper adequate; 0x72 = no paper
        self.online_byte = 0x16  # bit 3 clear = online
        self.mute = False  # True: a printer that never answers status queries
        self.received = bytearray()
        self.connections = 0
        self.port = None
        self._srv = None
        self._conns = []
        self._thread = None
        self.on()

    def on(self):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port or 0))
        srv.listen(4)
        self.port = srv.getsockname()[1]
        self._srv = srv
        self._thread = threading.Thread(target=self._serve, args=(srv,), daemon=True)
        self._thread.start()

    def off(self):
        srv, self._srv = self._srv, None
        for sock in [srv] + self._conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._conns = []
        self._thread.join(2)

    def _serve(self, srv):
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        buf = bytearray()
        with conn:
            while True:
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while True:
                    m = re.search(rb"\x10\x04([\x01\x04])", bytes(buf))
                    if not m:
                        break
                    self.received += buf[:m.start()]
                    del buf[:m.end()]
                    if self.mute:
                        continue
                    try:
                        conn.sendall(bytes([self.online_byte if m.group(1) == b"\x01" else self.paper]))
                    except OSError:
                        return
                keep = 2 if buf.endswith(b"\x10\x04") else 1 if buf.endswith(b"\x10") else 0
                self.received += buf[:len(buf) - keep]
                del buf[:len(buf) - keep]


@pytest.fixture
def tcp_printer():
    p = TcpPrinter()
    yield p
    if p._srv is not None:
        p.off()


def network_transport(port):
    cfg = dict(kconfig.parse("").data["printer"], backend="network", host="127.0.0.1", port=port, timeout_s=2.0)
    t = make_transport(cfg)
    assert isinstance(t, EscposTransport)
    return t


def wait_received(printer, needle, timeout=5):
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end and needle not in printer.received:
        time.sleep(0.02)
    return needle in printer.received


def test_network_printer_status_and_print(tcp_printer, tmp_path):
    s = PrintService(network_transport(tcp_printer.port), tmp_path / "q.db")
    assert s.status() == (OK, "Skrivaren är klar.")
    assert s.submit(Print("test", slip())).ok
    assert wait_received(tcp_printer, b"\x1dV\x00")
    assert bytes(tcp_printer.received) == render(slip())
    tcp_printer.paper = 0x72
    assert s.status()[0] == NO_PAPER
    outcome = s.submit(Print("test", slip()))
    assert outcome.state == NO_PAPER and outcome.kept
    tcp_printer.paper = 0x12
    tcp_printer.online_byte = 0x1E  # cover open: the printer reports it is not online
    assert s.status()[0] == "error"
    tcp_printer.online_byte = 0x16
    assert [o.ok for o in s.retry()] == [True]
    s.close()


def test_network_printer_switched_off_then_on(tcp_printer, tmp_path):
    s = PrintService(network_transport(tcp_printer.port), tmp_path / "q.db")
    tcp_printer.off()
    assert s.status()[0] == OFFLINE
    outcome = s.submit(Print("cover_slip", printouts.cover_slip(DAY, 1, "demo", "kiosk-1", "BERT")))
    assert outcome.kept and outcome.state == OFFLINE and s.pending() == 1
    tcp_printer.on()
    assert s.status()[0] == OK
    assert [o.ok for o in s.retry()] == [True]
    assert wait_received(tcp_printer, b"\x1dV\x00")
    assert "Fakturering" in decode_text(bytes(tcp_printer.received))
    s.close()


# -- the preview shows what the paper shows ---------------------------------------------------------------
def test_preview_shows_the_printers_question_mark_and_plain_dash():
    from kiosk.shelf import preview
    a = printouts.Layout("t", (printouts.Line("Ω – x"),))
    b = printouts.Layout("t", (printouts.Line("? - x"),))
    assert preview.png_bytes(a) == preview.png_bytes(b)
    assert decode_text(render(a)) == decode_text(render(b))


def test_preview_columns_fill_the_paper_like_the_printer():
    from kiosk.shelf import preview
    img = preview.render(printouts.Layout("t", (printouts.Line("X" * 48),), cut=False))
    dark = [x for x in range(img.width) if any(img.getpixel((x, y)) < 128 for y in range(img.height))]
    assert dark[0] < 12 and dark[-1] >= 576 - 12  # 48 cells of 12 dots: edge to edge
    right = preview.render(printouts.Layout("t", (printouts.Line("7", align="right"),), cut=False))
    dark = [x for x in range(right.width) if any(right.getpixel((x, y)) < 128 for y in range(right.height))]
    assert dark[0] >= 576 - 12


def test_preview_height_follows_wrapped_rows_and_sizes():
    from kiosk.shelf import preview
    one = preview.render(printouts.Layout("t", (printouts.Line("kort"),), cut=False)).height
    two = preview.render(printouts.Layout("t", (printouts.Line("ord " * 20),), cut=False)).height
    big = preview.render(printouts.Layout("t", (printouts.Line("kort", size=3),), cut=False)).height
    assert two - one == 24 and big - one == 48


def test_config_rejects_an_unknown_code_page_and_silly_timings():
    with pytest.raises(kconfig.ConfigError, match="printer.codepage"):
        kconfig.parse('[printer]\ncodepage = "CP9999"')
    with pytest.raises(kconfig.ConfigError, match="printer.retry_s"):
        kconfig.parse('[printer]\nretry_s = 0.0')
    assert kconfig.parse('[printer]\ncodepage = "CP850"').printer.codepage == "CP850"


def test_bench_prints_figures_beside_its_baselines(capsys):
    import argparse
    from kiosk_dev import hw_bench as bench
    bench.run(argparse.Namespace(hw_repeat=5))
    out = capsys.readouterr().out
    assert "day summary -> ESC/POS" in out and "PNG preview (baseline)" in out
    assert "decoder cost per 13-digit code" in out


def test_printed_jobs_are_dropped_after_keep_days_but_waiting_ones_never(dummy, tmp_path):
    t0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.timezone.utc)
    s = service(dummy, tmp_path, clock=lambda: t0)
    s.submit(Print("test", slip()))
    dummy.online = False
    s.submit(Print("cover_slip", printouts.cover_slip(DAY, 1, "demo", "kiosk-1", "ANNA")))
    s.close()
    s = service(dummy, tmp_path, clock=lambda: t0 + dt.timedelta(days=29))
    assert [j["state"] for j in s.jobs()] == ["printed", "pending"]
    s.close()
    s = service(dummy, tmp_path, clock=lambda: t0 + dt.timedelta(days=31))
    assert [j["state"] for j in s.jobs()] == ["pending"]
    s.close()


# -- properties of the shared row wrapping and of the ESC/POS text ------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

CP858_TEXT = st.text(alphabet=st.characters(codec="cp858", categories=("L", "N", "P", "S", "Zs")), max_size=150)


@settings(max_examples=200, deadline=None)
@given(text=CP858_TEXT, width=st.sampled_from([16, 24, 48]))
def test_wrap_keeps_every_character_and_fits_the_width(text, width):
    rows = printouts.wrap(text, width)
    assert all(len(r) <= width for r in rows)
    assert "".join(rows).replace(" ", "") == text.replace(" ", "")


@settings(max_examples=100, deadline=None)
@given(text=CP858_TEXT, size=st.sampled_from([1, 2, 3]), bold=st.booleans(),
       align=st.sampled_from(["left", "center", "right"]))
def test_escpos_text_decodes_back_row_by_row(text, size, bold, align):
    line = printouts.Line(text, size=size, bold=bold, align=align)
    data = render(printouts.Layout("t", (line,), cut=False))
    printed = decode_text(data).split("\n")
    rows = [printouts.printable(r) for r in printouts.line_rows(line)]
    assert printed[:len(rows)] == rows


def test_kept_connection_is_reused_and_reopened_once_when_stale(tcp_printer, tmp_path):
    from escpos.printer import Network

    transport = EscposTransport("network", lambda: Network("127.0.0.1", port=tcp_printer.port, timeout=2),
                                "kept network printer", keep_open=True)
    s = PrintService(transport, tmp_path / "q.db")
    assert s.status()[0] == OK
    assert s.submit(Print("test", slip())).ok and s.submit(Print("test", slip())).ok
    assert transport.opens == 1 and tcp_printer.connections == 1
    assert wait_received(tcp_printer, render(slip()) * 2)
    tcp_printer.off()  # power cycle: the kept connection is dead
    tcp_printer.on()
    assert s.submit(Print("test", slip())).ok  # the stale connection is noticed before sending
    assert transport.opens == 2
    assert wait_received(tcp_printer, render(slip()) * 3)
    assert bytes(tcp_printer.received) == render(slip()) * 3  # nothing doubled, nothing lost
    tcp_printer.off()
    assert s.status()[0] == OFFLINE
    s.close()


def test_a_printer_that_never_answers_status_still_prints(tcp_printer, tmp_path):
    from escpos.printer import Network

    tcp_printer.mute = True
    transport = EscposTransport("network", lambda: Network("127.0.0.1", port=tcp_printer.port, timeout=0.3), "mute")
    s = PrintService(transport, tmp_path / "q.db")
    assert s.status() == (OK, "Skrivaren är klar.")
    assert transport.status() == (OK, "status unknown")
    assert s.submit(Print("test", slip())).ok
    assert wait_received(tcp_printer, b"\x1dV\x00")
    s.close()


def test_the_print_queue_loads_no_sqlite_utils(tmp_path):
    """The kiosk's print queue works on plain sqlite3: printing loads no sqlite-utils (with click,
    dateutil and pluggy, about 5 MB of the kiosk's memory)."""
    import subprocess
    import sys

    code = f"""
import sys, datetime as dt
from kiosk.core import printouts
from kiosk.core.effects import Print
from kiosk.shelf.hw.printer import DummyTransport, PrintService
service = PrintService(DummyTransport(), __import__("pathlib").Path({str(tmp_path / 'q.db')!r}))
slip = printouts.test_slip("demo", "kiosk-1", dt.datetime(2026, 11, 23, 9, 0))
out = service.submit(Print("test_slip", slip))
assert out.ok and service.jobs()[0]["state"] == "printed", (out, service.jobs())
print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"sqlite_utils", "click", "pluggy"}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_queue_written_before_the_ref_column_still_prints(dummy, tmp_path):
    """A print_queue.db as sqlite-utils created it before outcomes were recorded (no "ref"
    column), holding a pending cover slip: the service opens it, adds the column, prints the
    job and records it printed."""
    import sqlite3

    conn = sqlite3.connect(tmp_path / "print_queue.db")
    conn.execute('CREATE TABLE "jobs" (\n   "id" INTEGER PRIMARY KEY,\n   "kind" TEXT NOT NULL,\n   "title" TEXT,\n'
                 '   "layout" TEXT NOT NULL,\n   "created" TEXT NOT NULL,\n   "state" TEXT NOT NULL,\n'
                 '   "attempts" INTEGER,\n   "last_error" TEXT,\n   "printed_at" TEXT\n)')
    conn.execute('CREATE INDEX "idx_jobs_state" ON "jobs" ("state")')
    conn.execute("INSERT INTO jobs (kind, title, layout, created, state, attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 ["test_slip", slip().title, json.dumps(printouts.layout_to_dict(slip()), ensure_ascii=False),
                  "2026-11-23T09:00:00+01:00", "pending", 1, "offline"])
    conn.commit()
    conn.close()
    s = service(dummy, tmp_path)
    try:
        assert s.pending() == 1
        assert [o.ok for o in s.retry()] == [True]
        assert "TESTUTSKRIFT" in decode_text(bytes(dummy.output))
        assert [(j["id"], j["state"], j["attempts"]) for j in s.jobs()] == [(1, "printed", 2)]
        assert s.submit(Print("test_slip", slip())).ok and [j["id"] for j in s.jobs()] == [1, 2]
    finally:
        s.close()


def test_python_escpos_parses_its_printer_database_once_into_a_lasting_cache(tmp_path):
    """The first printout of a start imports python-escpos: its parsed printer database is kept in
    the kiosk's cache (systemd's CACHE_DIRECTORY, else XDG_CACHE_HOME), loaded by the next start
    and never written to a new temporary directory."""
    import os
    import subprocess
    import sys

    tmp, cache = tmp_path / "tmp", tmp_path / "cache"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("ESCPOS_CAPABILITIES_PICKLE_DIR", "CACHE_DIRECTORY")}
    env.update(TMPDIR=str(tmp), XDG_CACHE_HOME=str(cache))
    code = ("import datetime as dt; from kiosk.core import printouts; from kiosk.shelf.hw.escpos_render import render; "
            "assert render(printouts.test_slip('demo', 'kiosk-1', dt.datetime(2026, 11, 23, 9, 0))).endswith(b'\\x1dV\\x00')")
    stamps = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        pickles = list((cache / "returpost-kiosk" / "escpos").glob("*.capabilities.pickle"))
        assert len(pickles) == 1, pickles
        stamps.append(pickles[0].stat().st_mtime_ns)
    assert stamps[0] == stamps[1]  # the second start loaded it, did not parse and write it again
    # nothing written to temporary files (python-escpos still makes an empty directory there: it
    # evaluates mkdtemp() as the default before it reads the variable)
    assert [f for f in tmp.rglob("*") if f.is_file()] == []
