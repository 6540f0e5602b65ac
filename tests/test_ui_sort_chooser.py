"""The sorting screen's temporary-mailing chooser and a letter sorted into the pile being scanned,
through the real app with real X input (tests/ui_sort_chooser_driver.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_ui import needs_x, run_ui_driver, xdisplay  # noqa: F401  (the module's Xvfb fixture)

DRIVER = Path(__file__).resolve().parent / "ui_sort_chooser_driver.py"


@pytest.fixture(scope="module")
def seen(tmp_path_factory, xdisplay):  # noqa: F811
    return run_ui_driver(DRIVER, tmp_path_factory.mktemp("chooser"), xdisplay)


def of(seen, kind):
    return [e["data"] for e in seen["events"] if e["type"] == kind]


@needs_x
def test_the_tillfalliga_tile_asks_which_mailing_and_every_kind_asks_the_tl_once(seen):
    assert seen["done"] and not seen["error"]
    assert seen["after_open"] == {"temporary": 0, "count": 0}  # opening the chooser counts nothing
    assert [d["about"] for d in of(seen, "temporary_counted")] == [
        "Priskompensation", "Priskompensation", "Bristfällig anläggning", "Nätavgift"]
    asked = [d["text"] for d in of(seen, "alert_raised") if d["kind"] == "tillfalliga"]
    assert asked == ["Tillfälligt utskick i retur: Priskompensation. Hur ska det hanteras?",
                     "Tillfälligt utskick i retur: Bristfällig anläggning. Hur ska det hanteras?",
                     "Tillfälligt utskick i retur: Nätavgift. Hur ska det hanteras?"]
    assert [d["kind"] for d in of(seen, "alert_cancelled")] == ["tillfalliga"]  # the undone Nätavgift
    assert seen["pris_button"].startswith("Priskompensation") and "]2[" in seen["pris_button"]
    assert "Frågan om hur utskicket ska hanteras skickas till TL" in seen["banner_after_new_kind"]
    assert "TL har" not in seen["banner_after_new_kind"]
    assert "Nätavgift 1" in seen["others_line"]
    s = seen["summary"]
    assert s["counts"]["tillfalliga"] == 3 and len(s["temporary"]) == 3  # one letter, one count
    assert "3" in seen["tile"]
    assert not any(d.get("pile") == "tillfalliga" for d in of(seen, "sorted"))


@needs_x
def test_a_letter_for_the_pile_being_scanned_is_sorted_into_it(seen):
    assert [d["pile"] for d in of(seen, "sorted")] == ["dodsbo", "dodsbo"]
    assert "skanna brevet nu" in seen["current_pile_banner"]
    # no false scan warning (extra or missing scans); the day's questions to the TL about its
    # temporary mailings are truly unconfirmed here (no central behind this kiosk: sync is off)
    assert [w for w in seen["warnings"] if w["kind"] != "alert_unconfirmed"] == []
    assert {w["alert_kind"] for w in seen["warnings"]} <= {"tillfalliga"}
