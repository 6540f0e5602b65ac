"""The screens for the contract's commands, through the real app with real X
input: what the person sees and what reached the journal and the paper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_ui import needs_x, run_ui_driver, xdisplay  # noqa: F401  (the module's Xvfb fixture)

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "ui_contract_driver.py"


@pytest.fixture(scope="module")
def seen(tmp_path_factory, xdisplay):  # noqa: F811
    tmp = tmp_path_factory.mktemp("contract")
    got = run_ui_driver(DRIVER, tmp, xdisplay)
    got["paper"] = (tmp / "paper" / "printer.bin").read_bytes()
    return got


def of(seen, kind):
    return [e["data"] for e in seen["events"] if e["type"] == kind]


@needs_x
def test_klar_with_missing_scans_asks_and_can_be_undone(seen):
    c = seen["klar_confirm"]
    assert c["index"] == 0 and c["missing"] == 1  # the first tap closed nothing
    assert c["button"].startswith("Tryck igen") and "1 oskannade" in c["button"]
    assert "1 av 2" in c["banner"] and c["banner"].startswith("⚠")
    assert seen["undo_label_after_klar"] == 'Ångra "Klar" för Dödsbofakturor'
    assert any(d.get("what") == "next_pile" for d in of(seen, "undone"))


@needs_x
def test_late_letter_from_the_sorting_screen(seen):
    assert "Skanna det sena brevet" in seen["late_armed"]["button"]
    assert seen["late_armed"]["banner"].startswith("⚠ Sent brev till Dödsbofakturor")
    late = [d for d in of(seen, "scan_accepted") if d.get("late")]
    assert [d["code"] for d in late] == ["7350010000013"] and late[0]["pile"] == "dodsbo"
    assert seen["late_banner"].startswith("✓ Sent brev")


@needs_x
def test_dodsbo_century_plus_and_reprint(seen):
    assert seen["century_buttons"] == ["Född 1912-12-12", "Född 2012-12-12"]
    labels = of(seen, "dodsbo_label_printed")
    assert len(labels) == 4 and [bool(d.get("reprint")) for d in labels] == [False, False, False, True]
    assert seen["reprint_button"].startswith("Tryck igen för omtryck")
    # The chosen century, the + rule and 12 digits all print as 19121212-1212; the label itself
    # never reaches a file (printer privacy), so the paper file holds none of it.
    assert b"1212-1212" not in seen["paper"]
    raw = json.dumps([e["data"] for e in seen["events"]])
    assert "1212-1212" not in raw and "121212" not in raw  # never in the journal


@needs_x
def test_checklist_ticks_are_recorded(seen):
    items = [d["item"] for d in of(seen, "checklist_ticked") if d.get("done", True)]
    assert items == ["envelope_sent", "wms_ticked", "cab_case_created", "poste_restante_checked",
                     "poste_restante_removed"]
    assert seen["summary"]["checklist"]["envelope_sent"]
    assert seen["pr_tick_mm"] >= 9.0
    assert all(t.startswith("☑") for t in seen["pr_ticks"])


@needs_x
def test_an_undone_case_leaves_the_incoming_panel(seen):
    """After "Ångra ärende" the panel shows no case, and "Klart i CAB" neither shows nor records."""
    assert seen["incoming_undo_label"] == "Ångra ärende: Autogiroblankett"
    after = seen["incoming_after_undo"]
    assert "Skapa i CAB" not in after["case"]
    assert not after["cab_enabled"] and after["cab_opacity"] == 0
    assert after["ticks_added"] == 0


@needs_x
def test_no_date_letter_and_undo_per_step(seen):
    assert seen["no_date_decision"]["date"] is None and seen["no_date_decision"]["decision"] == "skicka_om"
    whats = [d.get("what") for d in of(seen, "undone")]
    for what in ("next_pile", "leta_kund", "date_check", "incoming", "temporary", "remark"):
        assert what in whats, what
    assert [d["kind"] for d in of(seen, "alert_cancelled")] == ["tillfalliga"]
    # sync is off: the withdrawal cannot reach central, so the operator tells the TL (a question: "återkallad")
    assert "säg till TL direkt att frågan är återkallad" in seen["undo_temporary_banner"]
    assert "TL har fått besked" not in seen["undo_temporary_banner"]


@needs_x
def test_close_and_reopen_the_day(seen):
    types = [e["type"] for e in seen["events"]]
    assert types.count("day_closed") == 2 and types.count("day_reopened") == 1
    assert types.index("day_reopened") > types.index("day_closed")
    assert seen["closed_button"] == "Dagen är avslutad – öppna igen"
    assert seen["reopened_phase"] == "scanned"


@needs_x
def test_sekretess_under_every_strip(seen):
    """With the printer strip, a two-line status bar and the TL strip up, Sekretess keeps the whole
    billing address (none of it cut) and its ticks >= 9 mm; a real tap on one is recorded."""
    up = seen["strips_up"]
    assert up["problem"] and up["status_lines_2"]
    assert up["address"].splitlines()[-1] == "104 51 Stockholm" and not up["address_cut"]
    assert up["tick_mm"] >= 9.0
    assert seen["summary"]["checklist"]["envelope_sent"]


@needs_x
def test_closing_again_says_it_prints_a_second_summary(seen):
    assert "sammanställningen igen" not in seen["first_close_confirm"]
    assert "andra sammanställning" not in seen["first_close_banner"]
    assert "skriver ut sammanställningen igen" in seen["second_close_confirm"]
    assert "dagens andra sammanställning" in seen["second_close_banner"]
