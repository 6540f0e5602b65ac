"""The kiosk tells the truth about the TL alert and the printer, through the real app (Xvfb, real X
input) synced to a real mosquitto: central absent, central's inbox on the wire, printer off and
back. Assertions on what the screen showed and on the journal file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.wire.journal import Journal
from tests.mqtt_broker import broker, needs_mosquitto  # noqa: F401  (the broker fixture)
from tests.test_ui import child_env, needs_x, xdisplay  # noqa: F401  (the module's Xvfb fixture)

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "ui_alert_truth_driver.py"
GREEN, AMBER, RED = "7ee787", "ffb86b", "ff7b72"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    keep = os.environ.get("TRUTH_SHOTS")  # a folder to keep the screenshots in (to look at them)
    path = Path(keep) if keep else tmp_path_factory.mktemp("shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@needs_x
@needs_mosquitto
@pytest.mark.slow
@pytest.mark.parametrize("size", ["800x480", "1280x720"])
def test_alert_and_printer_states_on_screen(tmp_path, xdisplay, broker, shots, size):  # noqa: F811
    env = child_env(xdisplay)
    env["TRUTH_BROKER_PORT"] = str(broker.port)
    out = tmp_path / "seen.json"
    proc = subprocess.run([sys.executable, str(DRIVER), str(tmp_path / "data"), str(out), size, str(shots)],
                          env=env, capture_output=True, text=True, timeout=240)
    seen = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0, (seen.get("error"), proc.stderr[-3000:])

    # never "received" before central says so
    for step in ("first", "unreachable"):
        texts = " ".join(str(v) for v in seen[step].values())
        assert "TL har larmats" not in texts and "TL har fått" not in texts and "TL larmad" not in texts
    un = seen["unreachable"]
    assert un["note"] == "[b]Larmet har inte nått TL (centralen svarar inte) – säg till TL direkt[/b]"
    assert "Larmet har inte nått TL (centralen svarar inte) – säg till TL direkt." in un["banner"]
    assert f"TL-larm: [color={RED}]ej skickat – säg till TL" in un["status"]
    # central's inbox on the wire: delivered, in local time, and recorded in the day
    de = seen["delivered"]
    assert de["note"] == f"[b]TL har fått larmet {seen['delivered_hhmm']}[/b]"
    assert f"TL har fått larmet {seen['delivered_hhmm']}." in de["banner"]
    assert f"TL-larm: [color={GREEN}]mottaget {seen['delivered_hhmm']}" in de["status"]
    assert de["note_rgba"] != un["note_rgba"]  # green, not red
    # withdrawn after the TL got it: the operator tells the TL
    wi = seen["withdrawn"]
    told = f"TL fick larmet {seen['delivered_hhmm']} – säg till TL att larmet är återkallat"
    assert wi["note"] == f"[b]{told}[/b]" and f"{told}." in wi["banner"] and "TL har fått besked" not in wi["banner"]
    assert f"TL-larm: [color={RED}]återkallat – säg till TL" in wi["status"]
    assert wi["banner"].startswith("⚠ Ångrat") and wi["banner_rgba"] == un["banner_rgba"]  # red, like an alert

    # printer off: the label does not count; red word and strip; amber banner (kept in memory)
    pf = seen["print_failed"]
    assert pf["labels_printed"] == 0 and "Etiketter i dag: [b]0[/b] av 2 dödsbofakturor (1 skrevs inte ut)" in pf["progress"]
    assert f"Skrivare: [color={RED}]fel" in pf["status"] and "Skrivare: [color=7ee787]OK" not in pf["status"]
    assert "Skrivaren svarar inte" in pf["banner"] and "Skrivaren svarar inte" in pf["problem"]
    # back, "Försök igen" tapped: counted, banner and strip gone, green
    pb = seen["print_back"]
    assert pb["labels_printed"] == 1 and "(1 skrevs inte ut)" not in pb["progress"]
    assert pb["banner"] == "" and pb["problem"] == "" and f"Skrivare: [color={GREEN}]OK" in pb["status"]
    assert "Inga varningar" not in seen["summary"]  # one invoice still has no label
    assert f"Bestridan: TL fick larmet {seen['delivered_hhmm']} – säg till TL att larmet är återkallat" in seen["summary"]

    journal = Journal(tmp_path / "data" / "journal.db", "demo", "kiosk-1")
    events = list(journal.events())
    journal.close()
    types = [e["type"] for e in events]
    assert types.count("alert_delivered") == 1
    assert types.count("print_failed") == 1 and types.count("print_done") == 1
    assert types.index("print_failed") < types.index("print_done")
    assert "191212" not in json.dumps(events) and "121212-1212" not in json.dumps(events)  # DESIGN §6
    for name in ("alert-unreachable", "alert-delivered", "alert-withdrawn", "printer-failed", "printer-back", "summary"):
        assert (shots / f"{size}-truth-{name}.png").stat().st_size > 1000
