"""The touch UI: the real Kivy app in a real window on a private Xvfb, driven by real X input
events (xdotool) through a whole day. Assertions are on the journal file, the controller's state
and the shelf the devices show, not only on widgets."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.wire.journal import Journal

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "ui_day_driver.py"

needs_x = pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
                             reason="Xvfb and xdotool are needed (scripts/setup test installs them)")


@pytest.fixture(scope="module")
def xdisplay():
    from kiosk_dev.xvfb import Xvfb

    x = Xvfb(1280, 1280)
    x.start()
    yield x
    x.stop()


def child_env(x) -> dict:
    env = x.env()
    env["PYTHONPATH"] = str(ROOT)
    env.pop("NOTIFY_SOCKET", None)
    return env


def run_ui_driver(driver: Path, tmp: Path, x, size: str = "800x480") -> dict:
    """One UI child (tests/ui_*_driver.py) on the Xvfb display `x`, data in tmp/data: what it saw
    (its seen.json), with the journal's events after it ended under "events"."""
    out = tmp / "seen.json"
    proc = subprocess.run([sys.executable, str(driver), str(tmp / "data"), str(out), size],
                          env=child_env(x), capture_output=True, text=True, timeout=240)
    seen = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0, (seen.get("error"), proc.stderr[-3000:])
    journal = Journal(tmp / "data" / "journal.db", "demo", "kiosk-1")
    seen["events"] = list(journal.events())
    journal.close()
    return seen


@needs_x
@pytest.mark.parametrize("size", ["800x480", pytest.param("720x1280", marks=pytest.mark.slow)])
def test_a_whole_day_by_touch(tmp_path, xdisplay, size):
    seen = run_ui_driver(DRIVER, tmp_path, xdisplay, size)
    assert seen["done"] and not seen["error"]

    # The journal file, read on its own: every tap that changed the day is there, once.
    events = seen["events"]
    types = [e["type"] for e in events]
    assert types[0] == "signed_in" and events[0]["data"]["operator"] == "ANNA"
    # 10 taps, the last undone; 3 Leta Kund letters in the chooser, the last undone there
    assert types.count("sorted") == 10 and types.count("undone") == 2
    assert types.count("scan_accepted") == 8
    rejected = [e["data"]["reason"] for e in events if e["type"] == "scan_rejected"]
    assert sorted(rejected) == ["duplicate", "invalid"]
    assert types.count("pile_done") == 4 and types.count("scanning_done") == 1
    for t in ("dodsbo_label_printed", "cover_slip_printed", "date_checked", "remark_logged", "day_closed"):
        assert types.count(t) == 1, t
    assert types.count("leta_kund_counted") == 5  # 3 from the sorting screen's chooser, 2 in step 5
    alerts = [e["data"]["kind"] for e in events if e["type"] == "alert_raised"]
    assert sorted(alerts) == ["bestridan", "tillfalliga", "tillfalliga"]

    # Free text typed on the on-screen keyboard (å ä ö, a capital, a backspace) reached the
    # journal exactly: the CAB subject of the incoming letter, the temporary mailing's `about`.
    incoming = [e["data"] for e in events if e["type"] == "incoming_registered"]
    assert [i["kind"] for i in incoming] == ["bestridan", "ovrigt"]
    assert incoming[1]["about"] == "Fråga om kö på väg 12" and incoming[1]["segment"] == "foretag"
    assert incoming[1]["cab"]["subject"] == "Scannat brev – Fråga om kö på väg 12"
    temporary = [e["data"]["about"] for e in events if e["type"] == "temporary_counted"]
    assert temporary == ["Priskompensation", "Återbäring för ö-post"]
    tl_texts = [e["data"]["text"] for e in events if e["type"] == "alert_raised"]
    assert any("Återbäring för ö-post" in t for t in tl_texts)
    assert "Fråga om kö på väg 12" in seen["own_case_text"]
    assert seen["own_about_button"] == "Annat: Fråga om kö på väg 12"
    assert seen["kb_field"].startswith("Fråga om kö på väg 12")
    # The keyboard: every key a big target, all of it on screen; 60 characters at most; a
    # cancelled text sends nothing; a personnummer is refused (and never reached the disk: below).
    geo = seen["kb_geometry"]
    assert geo["keys"] >= 45 and geo["min_mm"] >= 9.0 and geo["inside"], geo
    assert seen["kb_capped_len"] == 60 and "60" in seen["kb_capped_hint"]
    assert seen["temporary_after_cancel"] == 2
    assert seen["kb_after_signin"] == {"open": False, "text": ""}
    # Simulator: while the keyboard is open the physical keyboard types into its field, not
    # into the scanner (the scans above, with the keyboard closed, still went to the scanner).
    assert seen["kb_physical"] == {"text": "halv 12", "scan_buffer": ""}
    assert not seen["kb_pnr_done_enabled"] and seen["kb_pnr_still_open"]
    assert "personnummer" in seen["kb_pnr_hint"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    # The personnummer never reached the disk (journal and WAL) nor stayed on screen.
    for f in (tmp_path / "data").rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            assert b"121212" not in raw and b"1212-1212" not in raw, f
    assert seen["dodsbo_digits_after"] == ""
    assert not any("1212" in t for t in seen["texts_after_label"])
    assert "Giltigt" in seen["validation"]

    # The controller's day, as the summary row will report it.
    summary = seen["summary"]
    assert summary["phase"] == "closed" and summary["deadline_met"] is True
    # one letter, one count: one letter left sorted onto Inkomna brev, two registered in step 8
    assert summary["counts"]["dodsbo"] == 2 and summary["counts"]["inkomna_brev"] == 2
    assert summary["scanned"] == {"dodsbo": 2, "sekretess": 2, "faktura": 3, "ovriga_streckkod": 1}
    assert summary["leta_kund"]["A"] == 1 and summary["leta_kund"]["apartments"] == 1
    assert summary["leta_kund"]["C"] == 2 and summary["leta_kund"]["B"] == 1
    assert seen["undo_label_sort"] == "Ångra sortering: Inkomna brev"
    assert seen["undo_label_chooser"] == "Ångra: C · Brev 2"
    assert summary["decisions"][0]["decision"] == "kasta"
    assert summary["cab"][0]["subject"] == "Inscannat brev: Bestridan"
    assert summary["cab"][1]["subject"] == "Scannat brev – Fråga om kö på väg 12"
    # the file printer refuses a personnummer: the label did not print and does not count
    assert summary["labels_printed"] == 0 and summary["cover_slips_printed"] == 1
    assert [(p["kind"], p["state"]) for p in summary["print_jobs"]] == [("dodsbo_label", "failed"), ("cover_slip", "printed")]

    # The shelf the devices show, and the on-screen shelf showing the same.
    assert seen["shelf_after_sort"]["inkomna_brev"] == "steady"
    assert seen["shelf_scan_dodsbo"]["dodsbo"] == "slow_blink"
    assert seen["onscreen_scan_dodsbo"] == seen["shelf_scan_dodsbo"]
    assert [s for s, p in seen["shelf_after_label"].items() if p != "off"] == ["oversta_facket"]
    assert seen["shelf_after_date"]["sekretesslada"] == "steady"
    assert all(p == "off" for p in seen["shelf_end"].values())
    # ... and on the GPIO pins (gpiozero mock pins): steady LEDs are high, the rest low.
    assert seen["pins_after_sort"]["inkomna_brev"] == 1
    assert sum(seen["pins_after_sort"].values()) == 1
    assert seen["pins_after_label"]["oversta_facket"] == 1 and sum(seen["pins_after_label"].values()) == 1
    assert not any(seen["pins_end"].values())

    # The printouts went through the devices' printer: ESC/POS on the (simulated) paper. The
    # paper here is a file, so the dödsbo label is refused (a personnummer never reaches disk).
    paper = (tmp_path / "paper" / "printer.bin").read_bytes()
    assert b"\x1b@" in paper and b"19121212-1212" not in paper and b"1212-1212" not in paper
    assert "FÖRSÄTTSBLAD".encode("cp858") in paper

    # What the person saw.
    assert "DUBBLETT" in seen["duplicate_feedback"] and "OGILTIG" in seen["invalid_feedback"]
    assert "KASTA" in seen["decision_preview"] and "Inget datum" not in seen["decision_preview"]
    # A discard is the routine's normal outcome, not an error: its box is shown in the calm blue
    # of the other verdict, never in the red kept for what the operator must act on.
    blue, red = seen["rgb"]["blue"], seen["rgb"]["red"]
    shown = seen["decision_preview_pixel"]
    assert max(abs(a - b) for a, b in zip(shown, blue)) <= 3, (shown, blue)
    assert max(abs(a - b) for a, b in zip(shown, red)) > 60, shown
    # After registering, the box gives no verdict on a letter not yet read (no red KASTA for
    # today beside the banner that reports the decision just made).
    after = seen["decision_after_register"]
    assert "KASTA" not in after["text"] and "SKICKA" not in after["text"] and "Registrerat" in after["text"]
    # no central in this kiosk (sync off): never "TL har larmats", the operator tells the TL at once
    assert "TL har" not in seen["case_text"]
    assert seen["tl_note_text"] == "[b]Larmet har inte nått TL (synk är avstängd) – säg till TL direkt[/b]"
    assert "Upplysning.se" in seen["remark_note"]
    assert seen["preview_kind"] == "cover_slip" and seen["summary_kind"] == "day_summary"
    # One label for two dödsbo invoices: closing the day names what is unfinished and asks again.
    answer = seen["close_answer"]
    assert answer["code"] == "confirm_needed", answer
    assert "labels_missing" in [w["kind"] for w in answer["data"]["unfinished"]]
    assert answer["button"].startswith("Tryck igen: avsluta ändå")
    assert types.count("day_closed") == 1


def test_run_without_display_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    env["PYTHONPATH"] = str(ROOT)
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path}"\n[mqtt]\nenabled = false\n')
    proc = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(cfg), "run"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert "no display found" in proc.stderr and "--xvfb" in proc.stderr
    assert not (tmp_path / "journal.db").exists()


@needs_x
def test_kiosk_run_notifies_systemd_and_feeds_the_watchdog(tmp_path, xdisplay):
    """`kiosk run` as systemd starts it: READY=1 after the first screen, then WATCHDOG=1 pings
    from the UI loop; SIGTERM stops it cleanly."""
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(1.0)
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\nhardware = "simulator"\n[mqtt]\nenabled = false\n')
    env = child_env(xdisplay)
    env.update(NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="1000000")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(cfg), "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got: list[str] = []
    try:
        end = time.monotonic() + 60
        def seen_both() -> bool:
            text = "\n".join(got)
            return "READY=1" in text and "WATCHDOG=1" in text[text.index("READY=1"):]

        while time.monotonic() < end and not seen_both():
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert seen_both(), got
    finally:
        proc.terminate()
        try:
            rc = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = None
        sock.close()
    assert rc == 0
    assert (tmp_path / "data" / "journal.db").exists()
