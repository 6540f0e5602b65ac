"""Every record can be corrected; the checklist events and severity, through
the pure decide/apply with time injected."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import routine
from kiosk.core.domain import PILES, SCAN_ORDER

from .conftest import local
from .routine_harness import PureDay

MON = (2026, 11, 23)


def signed_in() -> PureDay:
    day = PureDay()
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 8, 0))
    return day


def run(day, cmd, hh=9, mm=0):
    return day.run(cmd, local(*MON, hh, mm))


def scanning(counts: dict) -> PureDay:
    day = signed_in()
    for pile, n in counts.items():
        for _ in range(n):
            assert run(day, {"cmd": "sort", "pile": pile}, 8, 5).ok
    assert run(day, {"cmd": "scan_phase"}).ok
    return day


# -- severity -----------------------------------------------------------------------------------

def test_severity_follows_what_happened_not_whether_the_command_ran():
    day = scanning({"dodsbo": 1})
    assert run(day, {"cmd": "scan", "code": "73500010"}).severity == "ok"
    assert run(day, {"cmd": "scan", "code": "73500011"}).severity == "warning"  # more than sorted
    assert run(day, {"cmd": "scan", "code": "73500011"}).severity == "warning"  # duplicate (rejected)
    assert run(day, {"cmd": "sort", "pile": "soptunnan"}).severity == "error"
    d = run(day, {"cmd": "incoming", "kind": "bestridan", "segment": "privat"})
    assert d.ok and d.severity == "alert"
    assert all(s in routine.SEVERITIES for s in ("ok", "warning", "error", "alert"))


def test_the_missed_deadline_is_an_alert_on_whatever_command_noticed_it():
    day = scanning({"faktura": 1})
    d = run(day, {"cmd": "sort", "pile": "ovriga_brev"}, 14, 1)
    assert d.ok and d.severity == "alert" and "14:00" in d.message


# -- plain undo while scanning ------------------------------------------------------------------

def test_double_tap_on_next_pile_is_caught_by_the_confirm_and_an_early_klar_can_be_undone():
    day = scanning({"dodsbo": 2, "sekretess": 2})
    run(day, {"cmd": "scan", "code": "11110001"})
    run(day, {"cmd": "scan", "code": "11110002"})
    assert run(day, {"cmd": "next_pile"}).ok
    second = run(day, {"cmd": "next_pile"})  # the second tap 150 ms later: 0 of 2 sekretess
    assert second.code == "confirm_needed" and second.data["missing"] == 2 and not second.events
    assert day.state.current_pile == "sekretess"
    # Klar tapped one letter early, then confirmed: undo brings the pile back
    run(day, {"cmd": "scan", "code": "22220001"})
    assert run(day, {"cmd": "next_pile", "confirm": True}).ok
    assert day.state.current_pile == "faktura"
    d = run(day, {"cmd": "undo"})
    assert d.ok and d.data == {"what": "next_pile", "pile": "sekretess", "current": "sekretess"}
    assert day.state.current_pile == "sekretess"
    assert [w["kind"] for w in day.summary()["warnings"]] == ["labels_missing"]  # no missing_scans any more
    assert run(day, {"cmd": "scan", "code": "22220002"}).data["pile"] == "sekretess"


def test_plain_undo_takes_the_current_piles_last_scan_and_names_it_never_a_sort_elsewhere():
    day = scanning({"dodsbo": 1, "faktura": 2})
    run(day, {"cmd": "scan", "code": "11110001"})
    run(day, {"cmd": "next_pile", "confirm": True})  # sekretess (empty)
    run(day, {"cmd": "next_pile"})
    run(day, {"cmd": "scan", "code": "33330001"})
    run(day, {"cmd": "scan", "code": "33330002"})
    d = run(day, {"cmd": "undo"})
    assert d.data["code"] == "33330002" and "33330002" in d.message and "1 av 2" in d.message
    assert day.summary()["counts"]["faktura"] == 2  # the sort is untouched


def test_undo_right_after_a_duplicate_removes_nothing_and_says_the_rejected_scan_was_not_counted():
    day = scanning({"dodsbo": 2})
    run(day, {"cmd": "scan", "code": "11110001"})
    assert run(day, {"cmd": "scan", "code": "11110001"}).code == "duplicate"
    d = run(day, {"cmd": "undo"})
    assert d.code == "rejected_not_counted" and not d.events and d.severity == "warning"
    assert "räknades inte" in d.message and d.data["last_accepted"] == "11110001"
    assert day.summary()["scanned"]["dodsbo"] == 1  # the original scan stays
    # the named scan can still be removed from the list
    d = run(day, {"cmd": "undo", "what": "scan", "code": "11110001"})
    assert d.ok and day.summary()["scanned"]["dodsbo"] == 0


def test_undo_during_sorting_takes_the_last_sort_including_a_leta_kund_letter():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "faktura"}, 8)
    run(day, {"cmd": "sort", "pile": "leta_kund", "letter": "A", "apartments": 1}, 8)
    d = run(day, {"cmd": "undo"}, 8)
    assert d.data["what"] == "leta_kund"
    s = day.summary()
    assert s["counts"]["leta_kund"] == 0 and s["leta_kund"]["A"] == 0 and s["leta_kund"]["apartments"] == 0
    assert run(day, {"cmd": "undo"}, 8).data == {"what": "sort", "pile": "faktura"}
    assert run(day, {"cmd": "undo"}, 8).code == "nothing_to_undo"


# -- undo with what -----------------------------------------------------------------------------

def test_every_kind_of_record_can_be_undone_and_an_undone_alert_is_cancelled():
    day = scanning({"dodsbo": 1})
    run(day, {"cmd": "leta_kund", "letter": "A", "count": 3, "apartments": 2})
    run(day, {"cmd": "date_check", "kind": "ovriga_brev", "date": "2026-12-20"})
    run(day, {"cmd": "remark", "code": "brevlada_full"})
    run(day, {"cmd": "temporary", "about": "Elpriskompensation"})
    run(day, {"cmd": "incoming", "kind": "bestridan", "segment": "privat"})
    before = day.summary()
    assert [a["kind"] for a in before["alerts"]] == ["tillfalliga", "bestridan"]
    for what in ("leta_kund", "date_check", "remark", "temporary", "incoming"):
        d = run(day, {"cmd": "undo", "what": what})
        assert d.ok and d.data["what"] == what, what
    s = day.summary()
    assert s["leta_kund"]["A"] == 0 and s["leta_kund"]["apartments"] == 0 and s["counts"]["leta_kund"] == 0
    assert s["decisions"] == [] and s["remarks"] == [] and s["temporary"] == [] and s["cab"] == []
    assert [(a["kind"], a["cancelled"]) for a in s["alerts"]] == [("tillfalliga", True), ("bestridan", True)]
    cancels = [e for e in day.events if e["type"] == "alert_cancelled"]
    raised = [e for e in day.events if e["type"] == "alert_raised"]
    assert [c["data"]["alert"] for c in cancels] == [raised[0]["id"], raised[1]["id"]]  # undone in that order
    for what in ("leta_kund", "date_check", "remark", "temporary", "incoming"):
        assert run(day, {"cmd": "undo", "what": what}).code == "nothing_to_undo"


def test_undo_of_a_sort_in_a_pile_being_scanned_is_refused_once_its_letters_are_scanned():
    day = scanning({"dodsbo": 1})
    run(day, {"cmd": "scan", "code": "11110001"})
    d = run(day, {"cmd": "undo", "what": "sort"})
    assert d.code == "step_order" and day.summary()["counts"]["dodsbo"] == 1
    assert run(day, {"cmd": "sort", "pile": "dodsbo"}).ok  # one more letter found for this pile ...
    assert run(day, {"cmd": "undo", "what": "sort"}).ok  # ... taken back before its scan
    assert day.summary()["counts"]["dodsbo"] == 1 and day.summary()["warnings"] == []


def test_a_named_scan_in_a_finished_pile_can_be_removed_and_the_warnings_follow():
    day = scanning({"dodsbo": 1})
    run(day, {"cmd": "scan", "code": "11110001"})
    run(day, {"cmd": "scan", "code": "11110002"})  # one too many
    assert [w["kind"] for w in day.summary()["warnings"]] == ["extra_scans"]
    run(day, {"cmd": "next_pile"})
    run(day, {"cmd": "dodsbo_label", "personnummer": "19121212-1212"})
    run(day, {"cmd": "dodsbo_label", "personnummer": "19121212-1212"})
    assert run(day, {"cmd": "undo", "what": "scan", "code": "11110002"}).ok
    assert day.summary()["warnings"] == []
    assert run(day, {"cmd": "undo", "what": "scan", "code": "99999999"}).code == "nothing_to_undo"


def test_undo_of_next_pile_with_scans_in_the_current_pile_asks_to_undo_those_first():
    day = scanning({"dodsbo": 1, "sekretess": 1})
    run(day, {"cmd": "scan", "code": "11110001"})
    run(day, {"cmd": "next_pile"})
    run(day, {"cmd": "scan", "code": "22220001"})
    assert run(day, {"cmd": "undo", "what": "next_pile"}).code == "step_order"


def test_undoing_the_last_next_pile_reopens_scanning_and_the_deadline_is_pending_again():
    day = scanning({"ovriga_streckkod": 1})
    for _ in SCAN_ORDER[:-1]:
        run(day, {"cmd": "next_pile"})
    run(day, {"cmd": "scan", "code": "44440001"})
    assert run(day, {"cmd": "next_pile"}).data["deadline_met"] is True
    assert run(day, {"cmd": "undo"}).ok
    s = day.summary()
    assert s["phase"] == "scanning" and s["deadline_met"] is None and s["scan_done_at"] is None
    assert day.state.current_pile == "ovriga_streckkod"


# -- close_day, reopen_day ----------------------------------------------------------------------

def test_close_day_lists_what_is_unfinished_needs_a_confirm_records_it_and_reopen_undoes_the_close():
    day = scanning({"dodsbo": 1, "sekretess": 1, "faktura": 1})
    run(day, {"cmd": "scan", "code": "11110001"})
    run(day, {"cmd": "next_pile"})
    run(day, {"cmd": "scan", "code": "22220001"})
    run(day, {"cmd": "next_pile"})
    ask = run(day, {"cmd": "close_day"}, 11)
    kinds = [w["kind"] for w in ask.data["unfinished"]]
    assert ask.code == "confirm_needed" and kinds == ["unscanned", "labels_missing", "cover_slip_missing"]
    assert all(w["text"] for w in ask.data["unfinished"]) and not ask.events
    d = run(day, {"cmd": "close_day", "confirm": True}, 11)
    assert d.ok and d.severity == "alert" and d.events[-1][1]["unfinished"] == ask.data["unfinished"]
    # closed with faktura unscanned: a missed deadline, alerted at the close
    assert day.summary()["phase"] == "closed" and [a["kind"] for a in day.summary()["alerts"]] == ["deadline_missed"]
    # a bestridan after closing is still registered: it needs the TL now
    assert run(day, {"cmd": "incoming", "kind": "bestridan", "segment": "privat"}, 11, 5).severity == "alert"
    assert run(day, {"cmd": "scan", "code": "33330001"}, 11, 6).code == "day_closed"
    r = run(day, {"cmd": "reopen_day"}, 11, 10)
    assert r.ok and r.data["phase"] == "scanning" and day.state.current_pile == "faktura"
    assert run(day, {"cmd": "reopen_day"}, 11, 11).code == "step_order"
    assert run(day, {"cmd": "scan", "code": "33330001"}, 11, 12).code == "accepted"
    assert day.summary()["reopened"] == 1


def test_close_day_with_nothing_unfinished_needs_no_confirm():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "ovriga_brev"}, 8)
    d = run(day, {"cmd": "close_day"}, 9, 30)
    assert d.ok and d.severity == "ok" and day.summary()["alerts"] == []


# -- checklist, idle logout ---------------------------------------------------------------------

def test_checklist_ticks_are_recorded_and_counted_in_the_summary_and_can_be_unticked():
    day = signed_in()
    for item in ("envelope_sent", "wms_ticked", "wms_ticked", "cab_case_created"):
        assert run(day, {"cmd": "checklist", "item": item}).ok
    run(day, {"cmd": "checklist", "item": "wms_ticked", "done": False})
    assert day.summary()["checklist"] == {"envelope_sent": 1, "wms_ticked": 1, "cab_case_created": 1,
                                          "poste_restante_checked": 0, "poste_restante_removed": 0}
    assert run(day, {"cmd": "checklist", "item": "kaffe"}).code == "bad_argument"
    assert run(day, {"cmd": "checklist", "item": "wms_ticked", "done": "ja"}).code == "bad_argument"


def test_an_idle_logout_is_recorded_with_its_reason():
    day = signed_in()
    d = run(day, {"cmd": "logout", "reason": "idle"})
    assert d.ok and day.events[-1]["data"] == {"reason": "idle"} and day.state.operator is None


# -- properties over command streams with the new undo kinds ------------------------------------

UNDO = [{"cmd": "undo", "what": w} for w in routine.UNDO_KINDS] + [{"cmd": "undo"}]
commands = st.one_of(
    st.builds(lambda p: {"cmd": "sort", "pile": p}, st.sampled_from([p for p in PILES if p != "leta_kund"])),
    st.builds(lambda t, n, a: {"cmd": "leta_kund", "letter": t, "count": n, "apartments": a if t == "A" else 0},
              st.sampled_from("ABCDH"), st.integers(1, 3), st.integers(0, 1)),
    st.sampled_from(UNDO),
    st.builds(lambda c: {"cmd": "undo", "what": "scan", "code": c}, st.sampled_from(["11110001", "11110002"])),
    st.just({"cmd": "scan_phase"}),
    st.builds(lambda c: {"cmd": "next_pile", "confirm": c}, st.booleans()),
    st.builds(lambda c: {"cmd": "scan", "code": c}, st.sampled_from(["11110001", "11110002", "11110003", "x"])),
    st.just({"cmd": "incoming", "kind": "bestridan", "segment": "privat"}),
    st.builds(lambda a: {"cmd": "temporary", "about": a}, st.sampled_from(["Elpris", "elpris", "Brev X"])),
    st.just({"cmd": "date_check", "kind": "ovriga_brev"}),
    st.just({"cmd": "remark", "code": "vagrad"}),
    st.builds(lambda c: {"cmd": "close_day", "confirm": c}, st.booleans()),
    st.just({"cmd": "reopen_day"}),
    st.builds(lambda i: {"cmd": "checklist", "item": i}, st.sampled_from(list(routine.CHECKLIST_ITEMS))),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(commands, max_size=50))
def test_over_any_stream_replay_equals_live_counts_stay_non_negative_and_undone_alerts_are_cancelled(stream):
    day = signed_in()
    for i, cmd in enumerate(stream):
        day.run(cmd, local(*MON, 9, 0) + dt.timedelta(seconds=10 * i))
    rebuilt = routine.replay(day.events)
    assert routine.summary(rebuilt) == day.summary()
    s = day.summary()
    assert all(n >= 0 for n in s["counts"].values()) and all(n >= 0 for n in s["scanned"].values())
    assert all(n >= 0 for n in s["leta_kund"].values()) and all(n >= 0 for n in s["checklist"].values())
    assert s["counts"]["leta_kund"] == sum(s["leta_kund"][t] for t in "ABCDH")
    assert s["leta_kund"]["apartments"] <= s["leta_kund"]["A"]
    # each bestridan/temporary alert is cancelled exactly when its record was undone
    live_bestridan = len(s["cab"])
    assert sum(1 for a in s["alerts"] if a["kind"] == "bestridan" and not a["cancelled"]) == live_bestridan
    kinds = {t["about"].casefold() for t in s["temporary"]}
    active = [a for a in s["alerts"] if a["kind"] == "tillfalliga" and not a["cancelled"]]
    assert len(active) == len(kinds)  # one alert per kind of mailing per day
    cancelled_ids = {e["data"]["alert"] for e in day.events if e["type"] == "alert_cancelled"}
    assert cancelled_ids == {a["id"] for a in s["alerts"] if a["cancelled"]}
