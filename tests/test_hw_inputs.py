"""Scanner and badge reader: discovery, exclusive grab, decoding in the reader thread, unplug and
replug, two devices with two roles. Real evdev.InputEvents through objects with the evdev
InputDevice API (kiosk_dev.fakeinput): a real pipe behind fileno(), ENODEV on unplug."""

import os
import queue
import threading
import time

import pytest

from kiosk_dev.fakeinput import FakeBus, FakeInputDevice, typed
from kiosk.shelf.hw.inputs import Finder, InputWatcher, name_matches
from kiosk.shelf.hw.keymap import Decoder

from .conftest import wait_for

SCANNER = "/dev/input/event3"
BADGE = "/dev/input/event4"
KEYBOARD = "/dev/input/event0"


@pytest.fixture
def bus():
    b = FakeBus()
    b.plug(KEYBOARD, name="AT Translated Set 2 keyboard", vendor=0x0001, product=0x0001)
    b.plug(SCANNER, name="Honeywell Imaging & Mobility 1900", vendor=0x0C2E, product=0x0B61)
    return b


def watcher(bus, spec, role="scanner", layout="us", **kw):
    codes: queue.Queue = queue.Queue()
    w = InputWatcher(role, spec, Decoder(layout, gap=kw.pop("gap", 0.5), role=role), codes.put,
                     finder=bus.finder(), reconnect_s=kw.pop("reconnect_s", 0.05), **kw)
    return w, codes


# -- discovery ---------------------------------------------------------------------------------------
def test_name_matches_glob_or_substring():
    assert name_matches("honeywell", "Honeywell Imaging & Mobility 1900")
    assert name_matches("*imaging*1900", "Honeywell Imaging & Mobility 1900")
    assert not name_matches("zebra*", "Honeywell Imaging & Mobility 1900")


@pytest.mark.parametrize("spec", ["Honeywell", "*Mobility 1900", "0c2e:0b61", "0C2E:0B61", SCANNER])
def test_find_by_name_vidpid_or_path(bus, spec):
    dev = bus.finder().find(spec)
    assert dev is not None and dev.path == SCANNER
    dev.close()
    # the probes of other devices were closed again
    assert all(d.closed for d in bus.opened.get(KEYBOARD, []))


def test_find_by_id_symlink(tmp_path):
    bus = FakeBus()
    node = tmp_path / "event9"
    node.write_text("")
    link = tmp_path / "usb-Zebra_Symbol_Scanner-event-kbd"
    link.symlink_to(node)
    bus.plug(str(node), name="Symbol Scanner")
    dev = bus.finder().find(str(link))
    assert dev is not None and dev.path == str(node)


def test_nothing_found_is_none(bus):
    assert bus.finder().find("Datalogic") is None
    assert bus.finder().find("ffff:0001") is None
    assert bus.finder().find("/dev/input/by-id/usb-nothing-event-kbd") is None
    assert bus.finder().find("") is None


def test_vidpid_prefers_the_interface_that_types_keys():
    bus = FakeBus()
    bus.plug("/dev/input/event5", name="Scanner Consumer Control", vendor=0x05E0, product=0x1200, keys=False)
    bus.plug("/dev/input/event6", name="Scanner Keyboard", vendor=0x05E0, product=0x1200, keys=True)
    dev = bus.finder().find("05e0:1200")
    assert dev.path == "/dev/input/event6"


def test_describe_lists_every_device(bus):
    rows = bus.finder().describe()
    assert {r["path"] for r in rows} == {KEYBOARD, SCANNER}
    assert any(r["id"] == "0c2e:0b61" and r["keys"] for r in rows)


@pytest.mark.skipif(os.path.exists("/dev/input"), reason="this machine has input devices")
def test_real_evdev_finder_on_a_machine_without_input_devices():
    # No /dev/input (CI, containers): discovery says "nothing", it does not crash.
    finder = Finder()
    assert finder.describe() == []
    assert finder.find("Honeywell") is None
    assert finder.find("05e0:1200") is None
    assert finder.find("/dev/input/by-id/usb-Honeywell-event-kbd") is None


# -- reading ------------------------------------------------------------------------------------------
def test_watcher_grabs_decodes_and_delivers_codes(bus):
    w, codes = watcher(bus, "Honeywell")
    w.start()
    try:
        assert w.wait_present(True, 5)
        dev = bus.live(SCANNER)
        assert dev.grabbed and w.grabbed
        dev.feed(typed("7350012345678"))
        dev.feed(typed("ABC-123"))
        assert codes.get(timeout=5) == "7350012345678"
        assert codes.get(timeout=5) == "ABC-123"
    finally:
        w.stop()
    assert not w.present
    assert dev.closed and not dev.grabbed


def test_burst_of_many_codes_in_one_read(bus):
    w, codes = watcher(bus, "0c2e:0b61")
    w.start()
    try:
        assert w.wait_present(True, 5)
        sent = [f"CODE{i:04d}" for i in range(200)]
        events = []
        t = time.time()
        for i, c in enumerate(sent):
            events += typed(c, start=t + i * 0.01, step=0.0001)
        bus.live(SCANNER).feed(events)
        got = [codes.get(timeout=5) for _ in sent]
        assert got == sent
    finally:
        w.stop()


def test_unterminated_code_dropped_by_the_reader_without_further_input(bus, caplog):
    w, codes = watcher(bus, "Honeywell", gap=0.1)
    w.start()
    try:
        assert w.wait_present(True, 5)
        dev = bus.live(SCANNER)
        dev.feed(typed("HALF", start=time.time())[:-6])  # without the Enter press/release
        assert wait_for(lambda: w.decoder.dropped == 1, 5)  # the select timeout expires it
        dev.feed(typed("WHOLE"))
        assert codes.get(timeout=5) == "WHOLE"
        assert codes.empty()
    finally:
        w.stop()
    assert "dropped an unterminated code of 4 characters" in caplog.text


def test_unplug_mid_code_then_replug(bus, caplog):
    w, codes = watcher(bus, "Honeywell", reconnect_s=0.05)
    w.start()
    try:
        assert w.wait_present(True, 5)
        dev = bus.live(SCANNER)
        dev.feed(typed("12345")[:9])  # a few keys of a code
        assert wait_for(lambda: w.decoder.pending != "", 5)
        bus.unplug(SCANNER)  # ENODEV on the next read
        assert w.wait_present(False, 5)
        attempts_before = w.attempts
        time.sleep(0.5)  # absent for a while: the watcher polls gently, it does not spin
        polls = w.attempts - attempts_before
        assert 2 <= polls <= 0.5 / 0.05 + 3
        assert not w.present
        bus.plug(SCANNER, name="Honeywell Imaging & Mobility 1900", vendor=0x0C2E, product=0x0B61)
        assert w.wait_present(True, 5)
        new = bus.live(SCANNER)
        assert new is not dev and new.grabbed
        new.feed(typed("67890"))
        assert codes.get(timeout=5) == "67890"  # the half code before the unplug is not glued on
        assert codes.empty()
        assert w.connects == 2
    finally:
        w.stop()
    assert "disconnected (ENODEV)" in caplog.text


def test_device_absent_at_start_is_found_when_plugged():
    bus = FakeBus()
    w, codes = watcher(bus, "Honeywell", reconnect_s=0.05)
    w.start()
    try:
        assert not w.present
        assert wait_for(lambda: w.attempts >= 2, 5)
        bus.plug(SCANNER, name="Honeywell 1900")
        assert w.wait_present(True, 5)
        bus.live(SCANNER).feed(typed("X123"))
        assert codes.get(timeout=5) == "X123"
    finally:
        w.stop()


def test_grab_refused_still_reads_and_says_so(bus, caplog, monkeypatch):
    def busy(self):
        raise OSError(16, "Device or resource busy")
    monkeypatch.setattr(FakeInputDevice, "grab", busy)
    w, codes = watcher(bus, "Honeywell")
    w.start()
    try:
        assert w.wait_present(True, 5)
        assert not w.grabbed
        bus.live(SCANNER).feed(typed("Q1"))
        assert codes.get(timeout=5) == "Q1"
    finally:
        w.stop()
    assert "cannot grab exclusively" in caplog.text


def test_a_failing_receiver_does_not_kill_the_reader(bus):
    got = []

    def receiver(code):
        got.append(code)
        if code == "BOOM":
            raise RuntimeError("receiver bug")

    w = InputWatcher("scanner", "Honeywell", Decoder(), receiver, finder=bus.finder(), reconnect_s=0.05)
    w.start()
    try:
        assert w.wait_present(True, 5)
        bus.live(SCANNER).feed(typed("BOOM") + typed("AFTER"))
        assert wait_for(lambda: got == ["BOOM", "AFTER"], 5)
        assert w.present
    finally:
        w.stop()


# -- two devices, two roles ----------------------------------------------------------------------------
def test_scanner_and_badge_reader_each_get_their_own_device(bus):
    bus.plug(BADGE, name="RFIDeas USB Keyboard", vendor=0x0C27, product=0x3BFA)
    scanner, scans = watcher(bus, "Honeywell", role="scanner")
    badge, badges = watcher(bus, "0c27:3bfa", role="badge", layout="se")
    scanner.start()
    badge.start()
    try:
        assert scanner.wait_present(True, 5) and badge.wait_present(True, 5)
        assert scanner.device_path == SCANNER and badge.device_path == BADGE
        bus.live(BADGE).feed(typed("0004521987", "se"))
        bus.live(SCANNER).feed(typed("7350012345678"))
        assert badges.get(timeout=5) == "0004521987"
        assert scans.get(timeout=5) == "7350012345678"
        assert scans.empty() and badges.empty()
    finally:
        scanner.stop()
        badge.stop()


def test_two_watchers_with_overlapping_patterns_do_not_share_a_device():
    bus = FakeBus()
    bus.plug("/dev/input/event1", name="HID Keyboard Reader A")
    bus.plug("/dev/input/event2", name="HID Keyboard Reader B")
    a, _ = watcher(bus, "HID Keyboard*", role="scanner")
    b, _ = watcher(bus, "HID Keyboard*", role="badge")
    a.exclude = lambda: {b.device_path} if b.present else set()
    b.exclude = lambda: {a.device_path} if a.present else set()
    a.start()
    assert a.wait_present(True, 5)
    b.start()
    try:
        assert b.wait_present(True, 5)
        assert a.device_path != b.device_path
    finally:
        a.stop()
        b.stop()


def test_stop_is_prompt_while_blocked_in_select(bus):
    w, _ = watcher(bus, "Honeywell")
    w.start()
    assert w.wait_present(True, 5)
    t = threading.Thread(target=w.stop)
    t.start()
    t.join(3)
    assert not t.is_alive()
    assert not w.present


def test_absence_is_logged_once_not_every_poll(caplog):
    bus = FakeBus()
    w, _ = watcher(bus, "Honeywell", reconnect_s=0.02)
    w.start()
    try:
        assert wait_for(lambda: w.attempts >= 10, 5)
    finally:
        w.stop()
    assert caplog.text.count("'Honeywell' not found") == 1
