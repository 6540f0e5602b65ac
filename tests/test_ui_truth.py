"""Through the real app (Xvfb, real X input): no tap counts twice, the screen tells the
truth, severity colours, the shelf after a restart, the scanner where no scan may be recorded,
idle sign-out. Assertions on the journal file and the devices' shelf as well as on widgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_ui import needs_x, run_ui_driver, xdisplay  # noqa: F401  (the module's Xvfb fixture)

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "ui_truth_driver.py"


@pytest.fixture(scope="module")
def seen(tmp_path_factory, xdisplay):  # noqa: F811
    tmp = tmp_path_factory.mktemp("truth")
    got = run_ui_driver(DRIVER, tmp, xdisplay)
    return got


@needs_x
def test_no_tap_counts_twice(seen):
    # "Klar – nästa hög" double-tapped 50, 150, 300 ms apart: one pile each time.
    assert [r["moved"] for r in seen["klar_double"]] == [1, 1, 1], seen["klar_double"]
    assert seen["decision_double"] == [1, 1, 1]
    assert seen["temporary_double"] == [1, 1, 1]
    assert seen["incoming_double_150"] == 1
    # Sorting and the Leta Kund chooser: a 40 ms bounce is one letter (within ui.bounce_ms, set to
    # 300 ms by the driver: the guard measures the gap as the app sees it, and xdotool's 40 ms
    # stretch on a loaded machine), two taps a second apart two letters; the chooser's undo names
    # and takes back the last letter.
    assert seen["sort_double_40"] == 1 and seen["sort_double_1000"] == 2
    assert seen["lk_double_40"] == 1 and seen["lk_double_1000"] == 2
    assert seen["lk_undo_label"] == "Ångra: D · Brev 3"
    assert seen["sort_undo_label"] == "Ångra Leta Kund-brev: D · Brev 3"  # the sorting screen's latest count
    assert seen["ignored_taps"] >= 8  # the second taps were seen by the buttons and ignored
    types = [e["type"] for e in seen["events"]]
    assert types.count("pile_done") == 4 and types.count("scanning_done") == 1
    # temporary: three taps on step 9's screen and the mailing sorted onto its pile before the restart
    assert types.count("date_checked") == 3 and types.count("temporary_counted") == 4
    assert types.count("incoming_registered") == 1


@needs_x
def test_the_scan_screen_tells_the_truth(seen):
    assert seen["undo_label_one_scan"] == "Ångra skanning …10000011"
    assert "GODKÄND" in seen["box_after_scan"] and "7350010000012" in seen["box_after_scan"]
    assert seen["list_after_scan"] == ["✕ …10000012", "✕ …10000011"]
    # After a duplicate the undo button names what it takes back (the last accepted scan), not
    # an explanation; the box says the duplicate was not counted, in the banner's amber with ⚠.
    dup = seen["after_duplicate"]
    assert dup["undo"] == "Ångra skanning …10000012"
    assert "DUBBLETT" in dup["box"] and "⚠" in dup["box"] and "räknas inte" in dup["box"]
    assert "i Dödsbofakturor" in dup["box"]  # the pile it was first scanned in
    assert dup["box_rgba"] == seen["colours"]["amber"]
    after = seen["after_undo"]
    assert after["count"] == f"{after['scanned']} av 2"  # the big count and the state agree
    assert "GODKÄND" not in after["box"]  # the box no longer claims the undone scan
    assert seen["removed_code"] not in seen["codes_after_remove"]
    assert "ÅNGRAD" in seen["box_after_remove"] and seen["removed_code"] in seen["box_after_remove"]


@needs_x
def test_severity_colours_with_icon_and_words(seen):
    c = seen["colours"]
    assert seen["banner_accepted"]["rgba"] == c["green"] and seen["banner_accepted"]["text"].startswith("✓")
    assert seen["banner_duplicate"]["rgba"] == c["amber"] and seen["banner_duplicate"]["text"].startswith("⚠")
    assert seen["banner_alert"]["rgba"] == c["red"] and "TL" in seen["banner_alert"]["text"]
    assert seen["banner_alert"]["text"].startswith("⚠")


@needs_x
def test_stale_context_is_cleared(seen):
    assert seen["banner_before_leaving"] and seen["banner_on_home"] == ""
    assert seen["date_after_register"] and seen["date_on_return"]
    assert seen["case_red"]
    assert seen["case_after_next_kind"].startswith("Välj vad det är för brev")
    assert not seen["case_bg_after_next_kind_red"]


@needs_x
def test_shelf_after_restart_and_leaving_a_step(seen):
    assert seen["screen_at_start"] == "scan"  # the step in progress, not Home
    assert seen["lit_at_start"] == {"dodsbo": "slow_blink"}  # rebuilt: the current pile blinks
    assert seen["lit_on_home"] == {}
    assert seen["lit_after_decision"] == {"skicka_om": "steady"}
    assert seen["lit_after_leaving_datecheck"] == {}
    assert seen["lit_at_end"] == {}


@needs_x
def test_scanner_where_no_scan_is_recorded(seen):
    assert seen["dodsbo_field"] == "19121212-1212" and seen["dodsbo_scan_events"] == []
    assert seen["dodsbo_field_after_leave"] == ""
    assert "Logga in först" in seen["signin_scan_banner"]["text"]
    assert seen["signin_scan_banner"]["rgba"] == seen["colours"]["amber"]
    assert seen["signin_scan_events"] == []
    # The personnummer the scanner read reached no file.
    raw = b"".join(e["type"].encode() + json.dumps(e["data"]).encode() for e in seen["events"])
    assert b"1212-1212" not in raw and b"121212" not in raw


@needs_x
def test_idle_sign_out_with_a_warning(seen):
    assert "loggas ut" in seen["idle_warning"]["text"]
    assert seen["idle_warning"]["rgba"] == seen["colours"]["amber"]
    assert seen["after_touch"] == {"operator": "ANNA", "banner": ""}
    assert len(seen["idle_signed_out"]) == 1
