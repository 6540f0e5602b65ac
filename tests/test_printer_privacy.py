"""No personnummer on disk, whatever the printer backend.

A dödsbo label (persist=False) is only ever sent to a printer that keeps nothing: a `file` backend
on a regular file refuses it (Swedish message for the screen, English log), a device node such as
/dev/usb/lp0 (here /dev/null, also a character device) takes it. The print queue, its WAL and the
preview folder never hold it. Checked with the embedded default config and with the config the
installer writes, through the controller and the devices the kiosk builds."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
from pathlib import Path

import pytest

from kiosk.core import config as kconfig
from kiosk.core import printouts
from kiosk.core.clock import TZ, FixedClock
from kiosk.shelf.controller import Controller
from kiosk.core.effects import Print
from kiosk.shelf.hw import build
from kiosk.shelf.hw.escpos_render import decode_text
from kiosk.shelf.hw.printer import FileTransport, PrintService, make_transport
from kiosk.wire.journal import Journal

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "provisioning" / "install.sh"
PNR = "19121212-1212"
FORMS = (PNR, "121212-1212", "1212121212", "191212121212")
DAY = dt.date(2026, 11, 23)


def label():
    return Print("dodsbo_label", printouts.dodsbo_label(PNR, DAY), persist=False)


def slip():
    return Print("cover_slip", printouts.cover_slip(DAY, 2, "demo", "kiosk-1", "ANNA"))


def assert_nowhere_on_disk(*folders: Path) -> None:
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file() and "opt/returpost-kiosk/src" not in str(path):  # the installer's copy of the code
                blob = path.read_bytes()
                for form in FORMS:
                    assert form.encode() not in blob, f"{form} in {path}"


def test_file_backend_on_a_regular_file_refuses_the_label_and_prints_the_rest(tmp_path, caplog):
    paper = tmp_path / "var" / "printer.bin"
    service = PrintService(FileTransport(paper), tmp_path / "print_queue.db", preview_dir=tmp_path / "previews")
    caplog.set_level(logging.WARNING)
    outcome = service.submit(label())
    assert not outcome.ok and not outcome.kept
    assert "personnummer" in outcome.message and "visas bara på skärmen" in outcome.message
    assert "personnummer" in caplog.text and "would keep it on disk" in caplog.text  # English log
    assert PNR not in caplog.text
    assert service.last_preview_png("dodsbo_label").startswith(b"\x89PNG")  # the screen has it
    assert service.pending() == 0 and all(o.ok for o in service.retry())  # nothing waits to be written
    assert service.submit(slip()).ok  # the rest prints as before
    assert "FÖRSÄTTSBLAD" in decode_text(paper.read_bytes())
    assert not service.reprint(outcome.job_id).ok
    assert not service.print_now(label()).ok
    service.close()
    assert_nowhere_on_disk(tmp_path)


def test_file_backend_on_a_device_node_prints_the_label():
    transport = FileTransport(Path("/dev/null"))  # a character device, like /dev/usb/lp0
    assert not transport.keeps_bytes and FileTransport(Path("/tmp/x.bin")).keeps_bytes
    service = PrintService(transport, None)
    assert service.submit(label()).ok


def test_the_print_queue_and_its_wal_never_hold_a_label(tmp_path):
    """A label waiting for a printer that is off stays in memory; the queue file beside it, with
    its -wal and -shm, holds only the persistent jobs."""
    transport = make_transport({"backend": "dummy", "profile": "default"})
    transport.online = False
    service = PrintService(transport, tmp_path / "print_queue.db", preview_dir=tmp_path / "previews")
    service.submit(slip())
    outcome = service.submit(label())
    assert outcome.kept and service.pending() == 2
    assert any(p.name.endswith("-wal") for p in tmp_path.iterdir())
    assert_nowhere_on_disk(tmp_path)
    transport.online = True
    assert all(o.ok for o in service.retry())
    assert PNR in decode_text(transport.output)
    service.close()
    assert_nowhere_on_disk(tmp_path)


def run_day_to_the_label(config, tmp_path: Path, queue: Path):
    """Through the controller and the devices the kiosk builds from `config` (simulator)."""
    devices = build(config, simulator=True, queue_path=queue)
    journal = Journal(tmp_path / "journal.db", config.kiosk.site, config.kiosk.id)
    at = dt.datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
    ctl = Controller(config, journal, FixedClock(at))
    devices.attach(ctl)
    operator = config.operators[0].signature if config.operators else "ANNA"
    for cmd in ({"cmd": "login", "operator": operator}, {"cmd": "sort", "pile": "dodsbo"},
                {"cmd": "scan_phase"}, {"cmd": "scan", "code": "7350012345678"},
                {"cmd": "next_pile", "confirm": True}):
        assert ctl.handle(cmd, at).status != "error", cmd
    result = ctl.handle({"cmd": "dodsbo_label", "personnummer": PNR}, at)
    assert result.ok, result.message
    assert devices.wait_prints(10)
    [(job, outcome)] = [(j, o) for j, o in devices.last_outcomes if j.kind == "dodsbo_label"]
    return devices, journal, outcome


def test_default_config_the_label_never_reaches_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default config's paths are relative to the working directory
    config = kconfig.parse(f'[kiosk]\ndata_dir = "{tmp_path}/data"\n')
    assert config.data["printer"]["backend"] == "file"
    devices, journal, outcome = run_day_to_the_label(config, tmp_path, tmp_path / "data" / "print_queue.db")
    try:
        assert not outcome.ok and "personnummer" in outcome.message
        assert devices.printer.last_preview_png("dodsbo_label").startswith(b"\x89PNG")
    finally:
        devices.close()
        journal.close()
    assert_nowhere_on_disk(tmp_path)


def install_config(tmp_path: Path, printer: str) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/group").write_text("input:x:101:\nvideo:x:44:\ngpio:x:997:\nlp:x:7:\n")
    pw = tmp_path / "pw"
    pw.write_text("secret\n")
    done = subprocess.run(
        ["bash", str(INSTALL), "kiosk", "--root", str(root), "--site", "sthlm", "--kiosk-id", "k1",
         "--broker-host", "broker.example", "--mqtt-password-file", str(pw), "--ca-file", str(ROOT / "README.md"),
         "--printer", printer, "--display", "hdmi"],
        capture_output=True, text=True, timeout=180, env={**os.environ})
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "etc/returpost-kiosk/config.toml"


@pytest.mark.parametrize("printer", ["file:/dev/null", "usb:0416:5011"])
def test_installer_config_the_label_never_reaches_disk(tmp_path, printer):
    """The installer takes a device node for the file backend (here /dev/null, a character
    device like /dev/usb/lp0: the label prints) or a USB printer (absent here: the label waits
    in memory); either way nothing on disk holds the personnummer."""
    config = kconfig.load(install_config(tmp_path, printer))
    p = config.data["printer"]
    devices, journal, outcome = run_day_to_the_label(config, tmp_path, tmp_path / "print_queue.db")
    try:
        if printer.startswith("file:"):
            assert p["backend"] == "file" and config.data_path(p["path"]) == Path("/dev/null")
            assert outcome.ok, outcome.message
        else:
            assert p["backend"] == "usb"
            assert not outcome.ok and outcome.kept and "sparas inte" in outcome.message
        assert all(o.ok or o.kept for o in devices.printer.retry())
    finally:
        devices.close()
        journal.close()
    assert_nowhere_on_disk(tmp_path)


def test_the_installer_refuses_a_file_printer_on_disk(tmp_path):
    with pytest.raises(AssertionError, match="printer"):
        install_config(tmp_path, "file")
