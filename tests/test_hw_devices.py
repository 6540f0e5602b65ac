"""The devices wired to the real controller and journal: badge signs in, scanner scans, results
light the shelf (MockFactory pins), sound the buzzer and print (dummy printer); the simulator's
stand-ins; `kiosk devices` and `kiosk print-test` through kiosk.cli.main."""

import datetime as dt
import json
import queue
import subprocess
import sys
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk import cli
from kiosk.core import config as kconfig
from kiosk.core.clock import SystemClock
from kiosk.shelf.controller import Controller
from kiosk.core.effects import FAST_BLINK, SLOW_BLINK, STEADY, Effects, Lights, Print, Sound
from kiosk.shelf.hw import build, want_simulator
from kiosk.shelf.hw.escpos_render import decode_text
from kiosk_dev.fakeinput import FakeBus, typed
from kiosk.shelf.hw.inputs import InputWatcher, SimulatedInput
from kiosk.wire.journal import Journal
from kiosk.core import printouts

from .conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
SCANNER, BADGE = "/dev/input/event3", "/dev/input/event4"


def make_config(tmp_path, extra="", devices=True):
    readers = '[scanner]\ndevice = "Honeywell"\n[badge_reader]\ndevice = "0c27:3bfa"\nlayout = "se"' if devices else ""
    return kconfig.parse(f"""
[kiosk]
data_dir = "{tmp_path}"
[[operators]]
signature = "ANNA"
badge = "0004521987"
[[operators]]
signature = "BERT"
{readers}
[printer]
backend = "dummy"
preview_dir = "{tmp_path}/previews"
{extra}
""")


@pytest.fixture
def rig(tmp_path):
    cfg = make_config(tmp_path)
    bus = FakeBus()
    bus.plug(SCANNER, name="Honeywell Imaging & Mobility 1900", vendor=0x0C2E, product=0x0B61)
    bus.plug(BADGE, name="RFIDeas USB Keyboard", vendor=0x0C27, product=0x3BFA)
    factory = MockFactory()
    journal = Journal(tmp_path / "journal.db", "demo", "kiosk-1")
    controller = Controller(cfg, journal, SystemClock())
    results = queue.Queue()
    controller.listeners.append(results.put)
    devices = build(cfg, controller, simulator=False, finder=bus.finder(), pin_factory=factory)
    devices.start()
    assert devices.scanner.wait_present(True, 5) and devices.badge.wait_present(True, 5)
    yield cfg, bus, factory, controller, devices, results
    devices.close()
    journal.close()
    factory.reset()


def test_badge_signs_in_and_scanner_scans_through_the_controller(rig):
    cfg, bus, factory, controller, devices, results = rig
    assert isinstance(devices.scanner, InputWatcher) and isinstance(devices.badge, InputWatcher)
    assert devices.scanner.device_path == SCANNER and devices.badge.device_path == BADGE

    bus.live(BADGE).feed(typed("0004521987", "se"))
    assert results.get(timeout=5).code == "signed_in"
    assert controller.operator == "ANNA"

    for _ in range(2):  # the UI's part of the routine, straight into the controller
        controller.handle({"cmd": "sort", "pile": "dodsbo"})
    controller.handle({"cmd": "scan_phase"})
    while not results.empty():
        results.get()
    pins = cfg.data["slots"]
    assert devices.shelf.pattern("dodsbo") == SLOW_BLINK

    bus.live(SCANNER).feed(typed("7350001000011"))
    r = results.get(timeout=5)
    assert (r.status, r.code) == ("ok", "accepted")
    assert controller.state.scanned["dodsbo"] == 1

    factory.pin(cfg.gpio.buzzer).clear_states()
    bus.live(SCANNER).feed(typed("12"))  # too short: rejected
    r = results.get(timeout=5)
    assert (r.status, r.code) == ("rejected", "invalid")
    assert devices.shelf.pattern("dodsbo") == FAST_BLINK
    assert wait_for(lambda: sum(s.state for s in factory.pin(cfg.gpio.buzzer).states[1:]) == 3, 5)
    assert devices.buzzer.sounded[-1] == "reject"
    assert factory.pin(pins["sekretess"]).state == 0


def test_unplugged_scanner_shows_absent_in_status_then_comes_back(rig):
    cfg, bus, factory, controller, devices, results = rig
    bus.unplug(SCANNER)
    assert devices.scanner.wait_present(False, 5)
    assert devices.status()["scanner"]["present"] is False
    assert devices.badge.present  # the other device is unaffected
    bus.plug(SCANNER, name="Honeywell Imaging & Mobility 1900")
    assert devices.scanner.wait_present(True, 5)
    assert devices.status()["scanner"]["present"] is True


def test_apply_prints_and_tells_listeners(tmp_path):
    cfg = make_config(tmp_path, devices=False)
    devices = build(cfg, simulator=True)
    try:
        seen = []
        devices.print_listeners.append(lambda job, outcome: seen.append((job.kind, outcome.ok, outcome.message)))

        class R:
            effects = Effects(lights=Lights.of(sekretess=SLOW_BLINK),
                              prints=(Print("cover_slip", printouts.cover_slip(dt.date(2026, 11, 23), 2, "demo", "kiosk-1", "ANNA")),),
                              sound=Sound("accept"))

        devices.apply(R())
        assert seen == [("cover_slip", True, "Försättsblad sekretess: utskriven.")]
        assert "Fakturering" in decode_text(devices.printer.transport.output)
        assert devices.shelf.pattern("sekretess") == SLOW_BLINK
        assert devices.printer.last_preview_png("cover_slip").startswith(b"\x89PNG")
        devices.printer.transport.online = False
        devices.apply(R())
        assert seen[-1][1] is False and "Skrivaren svarar inte." in seen[-1][2]
        assert devices.printer.pending() == 1
    finally:
        devices.close()


def test_dispatch_runs_reader_commands_on_the_owners_thread(tmp_path):
    cfg = make_config(tmp_path, devices=False)
    journal = Journal(tmp_path / "journal.db", "demo", "kiosk-1")
    controller = Controller(cfg, journal, SystemClock())
    devices = build(cfg, simulator=True)
    pending = []
    devices.attach(controller, dispatch=pending.append)
    try:
        devices.start()
        devices.badge.inject("0004521987")
        assert controller.operator is None  # not yet: waiting for the owner's thread
        assert len(pending) == 1
        pending.pop()()
        assert controller.operator == "ANNA"
    finally:
        devices.close()
        journal.close()


def test_simulator_stand_ins(tmp_path):
    cfg = make_config(tmp_path, '[gpio]\npin_factory = "lgpio"', devices=False)  # simulator: mock pins anyway
    journal = Journal(tmp_path / "journal.db", "demo", "kiosk-1")
    controller = Controller(cfg, journal, SystemClock())
    devices = build(cfg, controller, simulator=True)
    try:
        assert isinstance(devices.scanner, SimulatedInput) and isinstance(devices.badge, SimulatedInput)
        assert devices.status()["gpio"]["pin_factory"] == "MockFactory"
        devices.start()
        assert devices.scanner.present
        devices.badge.inject("0004521987")
        assert controller.operator == "ANNA"
        controller.handle({"cmd": "sort", "pile": "dodsbo"})
        assert devices.shelf.pattern("dodsbo") == STEADY
        devices.shelf.set_status("online")
        assert devices.shelf.failed_slots == set()
    finally:
        devices.close()
        journal.close()


def test_hardware_mode_from_config(tmp_path):
    assert want_simulator(kconfig.parse('[kiosk]\nhardware = "simulator"'), None) is True
    assert want_simulator(kconfig.parse('[kiosk]\nhardware = "pi"'), None) is False
    assert want_simulator(kconfig.parse(""), True) is True
    assert want_simulator(kconfig.parse(""), None) is not Path("/proc/device-tree/model").exists()


def test_kept_job_prints_from_the_maintenance_loop(tmp_path):
    cfg = make_config(tmp_path, "retry_s = 0.05", devices=False)  # appended to [printer]
    devices = build(cfg, simulator=True)
    try:
        devices.printer.transport.online = False
        devices.printer.submit(Print("test", printouts.test_slip("demo", "kiosk-1", dt.datetime(2026, 11, 23, 9))))
        devices.start()
        assert devices.printer.pending() == 1
        devices.printer.transport.online = True
        assert wait_for(lambda: devices.printer.pending() == 0, 5)
        assert "TESTUTSKRIFT" in decode_text(devices.printer.transport.output)
    finally:
        devices.close()


# -- commands ---------------------------------------------------------------------------------------------
def write_config(tmp_path, body):
    path = tmp_path / "kiosk.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def test_kiosk_devices_on_a_machine_without_hardware(tmp_path, capsys):
    path = write_config(tmp_path, '[scanner]\ndevice = "Honeywell"\n[printer]\nbackend = "usb"\n')
    rc = cli.main(["--config", path, "devices", "--pi"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "Hardware: Pi hardware" in out
    assert "Scanner: ABSENT - no input device matches 'Honeywell'" in out
    assert "Printer: USB 0416:5011" in out and "state: OFFLINE" in out
    assert "GPIO: pin_factory = auto" in out
    assert "dodsbo            GPIO5   Dödsbofakturor" in out
    assert "Some configured devices are ABSENT or failed" in out


def test_kiosk_devices_simulator_is_all_present_and_json(tmp_path, capsys):
    path = write_config(tmp_path, f'[kiosk]\ndata_dir = "{tmp_path}/var"\n[printer]\npath = "{tmp_path}/var/p.bin"\n')
    assert cli.main(["--config", path, "devices", "--simulator"]) == 0
    assert "All configured devices present." in capsys.readouterr().out
    assert cli.main(["--config", path, "devices", "--simulator", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ok"] and info["gpio"]["factory"] == "MockFactory"
    assert all(s["ok"] for s in info["gpio"]["slots"])
    assert not (tmp_path / "var" / "p.bin").exists()  # looking changes nothing


def test_kiosk_print_test_writes_the_slip(tmp_path, capsys):
    out_file = tmp_path / "printer.bin"
    path = write_config(tmp_path, f'[printer]\npath = "{out_file}"\n')
    rc = cli.main(["--config", path, "print-test", "--preview", str(tmp_path / "slip.png")])
    out = capsys.readouterr().out
    assert rc == 0 and "printed: Testutskrift: utskriven." in out
    text = decode_text(out_file.read_bytes())
    assert "TESTUTSKRIFT" in text and "å ä ö Å Ä Ö" in text
    assert (tmp_path / "slip.png").read_bytes().startswith(b"\x89PNG")


def test_kiosk_print_test_printer_absent_exit_code_and_message(tmp_path):
    path = write_config(tmp_path, '[printer]\nbackend = "network"\nhost = "127.0.0.1"\nport = 9\ntimeout_s = 1.0\n')
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--config", path, "print-test"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert "NOT printed: offline" in proc.stdout and "Skrivaren svarar inte" in proc.stdout


def test_started_devices_print_in_the_background_and_report_through_dispatch(tmp_path):
    cfg = make_config(tmp_path, devices=False)
    devices = build(cfg, simulator=True)
    journal = Journal(tmp_path / "journal.db", "demo", "kiosk-1")
    controller = Controller(cfg, journal, SystemClock())
    owner_thread = []
    devices.attach(controller, dispatch=owner_thread.append)
    seen = []
    devices.print_listeners.append(lambda job, outcome: seen.append((job.kind, outcome.ok)))
    try:
        devices.start()
        devices.printer.transport.online = False

        class R:
            effects = Effects(prints=(Print("dodsbo_label", printouts.dodsbo_label("19121212-1212", dt.date(2026, 11, 23)), persist=False),))

        devices.apply(R())
        assert devices.printer.pending() == 1  # kept before the print thread even tried
        assert devices.wait_prints(5)
        assert seen == [] and len(owner_thread) == 1  # the listener waits for the owner's thread
        owner_thread.pop()()
        assert seen == [("dodsbo_label", False)]
        devices.printer.transport.online = True
        devices.apply(R())
        assert devices.wait_prints(5)
        for call in owner_thread:
            call()
        assert seen[-1] == ("dodsbo_label", True)
        assert devices.printer.pending() == 0  # both labels printed, in order
        assert decode_text(devices.printer.transport.output).count("19121212-1212") == 2
    finally:
        devices.close()
        journal.close()


def test_faults_in_swedish_and_the_status_led(rig):
    cfg, bus, factory, controller, devices, results = rig
    status_pin = factory.pin(cfg.gpio.status_led)
    devices.set_status("online")
    assert devices.faults() == [] and status_pin.state == 1 and devices.shelf.status == "online"
    bus.unplug(SCANNER)
    assert devices.scanner.wait_present(False, 5)
    devices.refresh_status()
    assert devices.faults() == ["Skannern är inte ansluten. Kontrollera USB-kabeln."]
    assert devices.shelf.status == "error"
    status_pin.clear_states()
    assert wait_for(lambda: len(status_pin.states) >= 4, 5)  # blinking fast
    devices.printer.transport.paper = 0
    devices.printer.status()
    assert "Skrivaren har slut på papper. Lägg i en ny rulle." in devices.faults()
    bus.plug(SCANNER, name="Honeywell 1900")
    devices.printer.transport.paper = 2
    devices.printer.status()
    assert devices.scanner.wait_present(True, 5)
    devices.refresh_status()
    assert devices.faults() == [] and devices.shelf.status == "online"


def test_a_hanging_printer_never_blocks_apply_or_the_queue(tmp_path):
    import threading as th
    from kiosk.shelf.hw.printer import DummyTransport

    class Hanging(DummyTransport):
        def __init__(self):
            super().__init__()
            self.release = th.Event()
            self.entered = th.Event()

        def send(self, data):
            self.entered.set()
            self.release.wait(10)  # a network printer timing out
            super().send(data)

    cfg = make_config(tmp_path, devices=False)
    devices = build(cfg, simulator=True)
    devices.printer.transport = hanging = Hanging()
    try:
        devices.start()

        class R:
            effects = Effects(lights=Lights.of(dodsbo=STEADY),
                              prints=(Print("test", printouts.test_slip("demo", "kiosk-1", dt.datetime(2026, 11, 23, 9))),))

        devices.apply(R())
        assert hanging.entered.wait(5)  # the print thread is stuck in send ...
        devices.apply(R())  # ... and the caller still gets through: job kept, lights shown
        assert devices.printer.pending() == 2
        assert devices.shelf.pattern("dodsbo") == STEADY
        hanging.release.set()
        assert devices.wait_prints(10)
        assert devices.printer.pending() == 0
        assert decode_text(hanging.output).count("TESTUTSKRIFT") == 2
    finally:
        hanging.release.set()
        devices.close()


def test_a_configured_reader_is_real_in_the_simulator_too(tmp_path):
    bus = FakeBus()
    bus.plug(SCANNER, name="Honeywell Imaging & Mobility 1900")
    devices = build(make_config(tmp_path), simulator=True, finder=bus.finder())
    try:
        assert isinstance(devices.scanner, InputWatcher) and isinstance(devices.badge, InputWatcher)
        assert devices.status()["gpio"]["pin_factory"] == "MockFactory"
        devices.start()
        assert devices.scanner.wait_present(True, 5)
        assert not devices.badge.present
        assert devices.faults() == ["Tagg-läsaren är inte ansluten. Kontrollera USB-kabeln."]
    finally:
        devices.close()


def test_printer_off_at_start_is_a_fault_at_once(tmp_path):
    devices = build(make_config(tmp_path, devices=False), simulator=True)
    devices.printer.transport.online = False
    try:
        devices.start()
        assert wait_for(lambda: devices.faults() == [
            "Skrivaren svarar inte. Kontrollera att den är påslagen och att kabeln sitter i."], 5)
        assert devices.shelf.status == "error"
    finally:
        devices.close()
