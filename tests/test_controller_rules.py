"""The controller with the new rules: severity on Result, alert ids from the journal (an undo
cancels the alert that was committed), the midnight settle committed for the old day, and the
follow-up row's warning columns. Real journal files, injected time."""

import datetime as dt

from kiosk.core import followup, routine
from kiosk.core.clock import TZ, FixedClock
from kiosk.core.config import load
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal


def controller(tmp_path, t0):
    cfg = load(None)
    return Controller(cfg, Journal(tmp_path / "j.db", cfg.kiosk.site, cfg.kiosk.id), FixedClock(t0))


def at(hh, mm=0, day=23):
    return dt.datetime(2026, 11, day, hh, mm, tzinfo=TZ)


def test_results_carry_severity_and_an_undone_alert_is_cancelled_by_its_committed_id(tmp_path):
    c = controller(tmp_path, at(8))
    assert c.handle({"cmd": "login", "operator": "ANNA"}, at(8)).severity == "ok"
    assert c.handle({"cmd": "sort", "pile": "kompost"}, at(8)).severity == "error"
    raised = c.handle({"cmd": "incoming", "kind": "bestridan", "segment": "privat"}, at(9))
    assert raised.severity == "alert"
    alert_id = next(e["id"] for e in raised.events if e["type"] == "alert_raised")
    undone = c.handle({"cmd": "undo", "what": "incoming"}, at(9, 1))
    cancel = next(e for e in undone.events if e["type"] == "alert_cancelled")
    assert cancel["data"] == {"alert": alert_id, "kind": "bestridan"}
    live = c.summary()
    assert live == followup.day_summaries(c.journal, ["2026-11-23"])[0]  # replay equals live
    assert live["alerts"] == [{"kind": "bestridan", "text": live["alerts"][0]["text"], "id": alert_id, "cancelled": True,
                               "at": "2026-11-23T08:00:00.000Z", "delivered_at": None}]
    row = followup.follow_up_row(live, "demo", "kiosk-1")
    assert row["alerts"] == 0 and row["alerts_cancelled"] == 1 and row["alerts_bestridan"] == 0
    c.journal.close()


def test_the_midnight_settle_is_committed_for_the_old_day_and_survives_a_restart(tmp_path):
    c = controller(tmp_path, at(20))
    c.handle({"cmd": "login", "operator": "ANNA"}, at(20))
    sorted_ = c.handle({"cmd": "sort", "pile": "dodsbo"}, at(20, 1))
    assert sorted_.severity == "alert"  # after 14:00 with a barcoded pile unfinished: the alert, once
    assert c.tick(at(23, 59)) is None
    r = c.tick(dt.datetime(2026, 11, 24, 0, 0, 5, tzinfo=TZ))
    assert r is not None and r.code == "new_day" and r.severity == "warning" and "ny dag" in r.message
    assert {e["day"] for e in r.events} == {"2026-11-23"}
    assert c.tick(dt.datetime(2026, 11, 24, 0, 0, 10, tzinfo=TZ)) is None  # once
    c.journal.close()
    cfg = load(None)
    again = Controller(cfg, Journal(tmp_path / "j.db", cfg.kiosk.site, cfg.kiosk.id), FixedClock(at(8, 0, 24)))
    old = again.summary("2026-11-23")
    assert old["closed_by"] == "midnight" and [w["kind"] for w in old["warnings"]] == ["unscanned", "alert_unconfirmed"]
    assert [a["kind"] for a in old["alerts"]] == ["deadline_missed"]
    row = followup.follow_up_row(old, "demo", "kiosk-1")
    assert row["unscanned"] == 1 and row["deadline_met"] is False and "skannades aldrig klart" in row["warnings"]
    assert again.handle({"cmd": "sort", "pile": "faktura"}, at(8, 5, 24)).data.get("new_day") is None
    again.journal.close()


def test_the_follow_up_row_counts_letters_per_warning_kind_and_pending_deadline_is_blank():
    s = routine.summary(routine.DayState())
    s["warnings"] = [
        {"kind": "missing_scans", "pile": "faktura", "sorted": 5, "scanned": 3, "text": "a"},
        {"kind": "extra_scans", "pile": "dodsbo", "sorted": 1, "scanned": 3, "text": "b"},
        {"kind": "labels_missing", "pile": "dodsbo", "scanned": 3, "labels": 1, "text": "c"},
        {"kind": "cover_slip_missing", "pile": "sekretess", "scanned": 2, "covered": 0, "text": "d"},
        {"kind": "unscanned", "pile": "ovriga_streckkod", "sorted": 4, "scanned": 1, "text": "e"},
    ]
    row = followup.follow_up_row(s, "demo", "k")
    assert (row["missing_scans"], row["extra_scans"], row["labels_missing"], row["cover_slip_missing"],
            row["unscanned"]) == (2, 2, 2, 2, 3)
    assert row["warnings"] == "a b c d e" and row["deadline_met"] == ""
    assert set(row) == set(followup.COLUMNS)
