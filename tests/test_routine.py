"""The routine's rules (DESIGN.md §3), exercised through the pure decide/apply with time injected."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import routine
from kiosk.core.barcode import BarcodeRules
from kiosk.core.domain import PILES, SCAN_ORDER
from kiosk.core.effects import FAST_BLINK, SLOW_BLINK, STEADY
from kiosk.core.routine import Context

from .conftest import local
from .routine_harness import PureDay

MON = (2026, 11, 23)


def signed_in(ctx=None) -> PureDay:
    day = PureDay(ctx)
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 8, 0))
    return day


def sort_all(day: PureDay, counts: dict, at=None):
    at = at or local(*MON, 8, 5)
    for pile, n in counts.items():
        for _ in range(n):
            assert day.run({"cmd": "sort", "pile": pile}, at).ok


def scan_through(day: PureDay, codes: dict, at=None):
    at = at or local(*MON, 9, 0)
    assert day.run({"cmd": "scan_phase"}, at).ok
    for pile in SCAN_ORDER:
        for code in codes.get(pile, []):
            assert day.run({"cmd": "scan", "code": code}, at).code == "accepted"
        assert day.run({"cmd": "next_pile"}, at).ok


# -- sign-in ------------------------------------------------------------------------------------

def test_every_command_but_login_needs_a_signed_in_operator():
    day = PureDay()
    for name in sorted(routine.COMMANDS - routine.COMMANDS_WITHOUT_LOGIN):
        d = day.run({"cmd": name}, local(*MON, 8, 0))
        assert d.status == routine.ERROR and d.code == "not_signed_in", name
    assert day.events == []


def test_unknown_signature_and_badge_are_refused_and_a_known_badge_signs_in():
    day = PureDay()
    assert day.run({"cmd": "login", "operator": "ZZZ"}, local(*MON)).code == "unknown_operator"
    assert day.run({"cmd": "badge", "badge": "nope"}, local(*MON)).code == "unknown_badge"
    assert day.run({"cmd": "badge", "badge": "B-1"}, local(*MON)).ok
    assert day.state.operator == "BERT"


# -- step 1: sorting ----------------------------------------------------------------------------

def test_sorting_counts_each_pile_and_lights_it_steady():
    day = signed_in()
    for pile in PILES:
        cmd = {"cmd": "sort", "pile": pile, **({"letter": "B"} if pile == "leta_kund" else {}),
               **({"about": "Priskompensation"} if pile == "tillfalliga" else {})}
        d = day.run(cmd, local(*MON, 8, 1))
        assert d.ok and d.effects.lights.pattern(pile) == STEADY
        assert [s for s, p in d.effects.lights.on if p != "off"] == [pile]
    day.run({"cmd": "sort", "pile": "faktura"}, local(*MON, 8, 2))
    counts = day.summary()["counts"]
    assert counts == {p: (2 if p == "faktura" else 1) for p in PILES}


def test_unknown_pile_is_a_bad_argument():
    day = signed_in()
    d = day.run({"cmd": "sort", "pile": "soptunnan"}, local(*MON, 8, 1))
    assert d.status == routine.ERROR and d.code == "bad_argument"


def test_undo_takes_back_the_last_sort_and_then_the_one_before():
    day = signed_in()
    sort_all(day, {"dodsbo": 1, "faktura": 2})
    assert day.run({"cmd": "undo"}, local(*MON, 8, 6)).ok
    assert day.summary()["counts"]["faktura"] == 1
    assert day.run({"cmd": "undo"}, local(*MON, 8, 6)).ok
    assert day.run({"cmd": "undo"}, local(*MON, 8, 6)).ok
    assert day.summary()["counts"]["dodsbo"] == 0
    assert day.run({"cmd": "undo"}, local(*MON, 8, 6)).code == "nothing_to_undo"


def test_sorting_into_a_finished_pile_breaks_the_step_order_into_the_current_one_counts():
    day = signed_in()
    sort_all(day, {"dodsbo": 1})
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    d = day.run({"cmd": "sort", "pile": "dodsbo"}, local(*MON, 9))  # the pile being scanned: counted
    assert d.ok and d.data["scanning"] and day.summary()["counts"]["dodsbo"] == 2
    day.run({"cmd": "next_pile", "confirm": True}, local(*MON, 9))
    assert day.run({"cmd": "sort", "pile": "dodsbo"}, local(*MON, 9)).code == "step_order"  # finished
    assert day.run({"cmd": "sort", "pile": "faktura"}, local(*MON, 9)).ok  # not reached yet
    assert day.run({"cmd": "sort", "pile": "leta_kund", "letter": "C"}, local(*MON, 9)).ok  # no barcode


# -- step 2: scanning ---------------------------------------------------------------------------

def test_scanning_follows_the_fixed_order_and_tags_each_scan_with_the_current_pile():
    day = signed_in()
    sort_all(day, {p: 1 for p in SCAN_ORDER})
    d = day.run({"cmd": "scan_phase"}, local(*MON, 9))
    assert d.effects.lights.pattern("dodsbo") == SLOW_BLINK
    seen = []
    for i, pile in enumerate(SCAN_ORDER):
        assert day.state.current_pile == pile
        day.run({"cmd": "scan", "code": f"CODE-{i:04d}"}, local(*MON, 9, 1))
        seen.append(pile)
        d = day.run({"cmd": "next_pile"}, local(*MON, 9, 2))
        if i + 1 < len(SCAN_ORDER):
            assert d.effects.lights.pattern(SCAN_ORDER[i + 1]) == SLOW_BLINK
    assert [a["pile"] for a in day.summary()["scans"]["accepted"]] == list(SCAN_ORDER)
    assert day.summary()["deadline_met"] is True


def test_a_scan_before_the_scan_phase_is_rejected_and_recorded():
    day = signed_in()
    d = day.run({"cmd": "scan", "code": "12345678"}, local(*MON, 8))
    assert d.status == routine.REJECTED and d.code == "not_scan_phase"
    assert day.summary()["scans"]["rejected"][0]["reason"] == "not_scan_phase"


def test_duplicate_codes_of_the_day_are_rejected_and_not_counted_even_in_another_pile():
    day = signed_in()
    sort_all(day, {"dodsbo": 1, "sekretess": 1})
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    assert day.run({"cmd": "scan", "code": "ABC123456"}, local(*MON, 9)).code == "accepted"
    d = day.run({"cmd": "scan", "code": "ABC123456"}, local(*MON, 9))
    assert d.code == "duplicate" and d.effects.sound.kind == "reject"
    assert d.effects.lights.pattern("dodsbo") == FAST_BLINK
    day.run({"cmd": "next_pile"}, local(*MON, 9))
    assert day.run({"cmd": "scan", "code": "ABC123456"}, local(*MON, 9)).code == "duplicate"
    s = day.summary()
    assert len(s["scans"]["accepted"]) == 1 and s["scanned"]["sekretess"] == 0


def test_the_same_code_is_fine_again_on_another_day():
    day = signed_in()
    sort_all(day, {"dodsbo": 1})
    scan_through(day, {"dodsbo": ["ABC123456"]})
    tue = (2026, 11, 24)
    day.run({"cmd": "scan_phase"}, local(*tue, 9))
    assert day.run({"cmd": "scan", "code": "ABC123456"}, local(*tue, 9)).code == "accepted"


@pytest.mark.parametrize("code", ["", "12", "abc\x07def", "   1234567", "x" * 65, "1234567\n"])
def test_codes_failing_the_barcode_rules_are_rejected_as_invalid(code):
    day = signed_in()
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    d = day.run({"cmd": "scan", "code": code}, local(*MON, 9))
    assert d.status == routine.REJECTED and d.code == "invalid" and d.message


def test_check_digit_and_pile_pattern_rules():
    rules = BarcodeRules(min_length=8, max_length=20, check_digit="mod10_31", patterns={"dodsbo": r"7\d+"})
    day = signed_in(Context(operators=("ANNA",), barcode=rules))
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    assert day.run({"cmd": "scan", "code": "4006381333931"}, local(*MON, 9)).code == "wrong_pile"
    good = "7311041013656"  # a valid EAN-13 beginning with 7
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert day.run({"cmd": "scan", "code": bad}, local(*MON, 9)).code == "invalid"
    from kiosk.core.barcode import mod10_31_ok
    assert mod10_31_ok(good)
    assert day.run({"cmd": "scan", "code": good}, local(*MON, 9)).code == "accepted"


def test_a_pile_finished_with_fewer_scans_than_sorted_warns_and_does_not_block():
    day = signed_in()
    sort_all(day, {"dodsbo": 3, "faktura": 2})
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    day.run({"cmd": "scan", "code": "DODSBO-0001"}, local(*MON, 9))
    ask = day.run({"cmd": "next_pile"}, local(*MON, 9))  # a confirming second tap
    assert ask.status == routine.REJECTED and ask.code == "confirm_needed" and ask.data["missing"] == 2
    assert "2 av 3" in ask.message and ask.severity == "warning" and not ask.events
    d = day.run({"cmd": "next_pile", "confirm": True}, local(*MON, 9))
    assert d.ok and "Varning" in d.message and d.severity == "warning"
    assert day.state.current_pile == "sekretess"
    [w, *others] = day.summary()["warnings"]
    assert {k: w[k] for k in ("kind", "pile", "sorted", "scanned")} == \
        {"kind": "missing_scans", "pile": "dodsbo", "sorted": 3, "scanned": 1}
    assert [o["kind"] for o in others] == ["labels_missing"]


def test_scanned_faktura_and_ovriga_go_to_the_sekretesslada():
    day = signed_in()
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    day.run({"cmd": "next_pile"}, local(*MON, 9))
    day.run({"cmd": "next_pile"}, local(*MON, 9))
    d = day.run({"cmd": "next_pile"}, local(*MON, 9))  # faktura done
    assert d.effects.lights.pattern("sekretesslada") == STEADY
    d = day.run({"cmd": "next_pile"}, local(*MON, 9))  # ovriga_streckkod done
    assert d.effects.lights.pattern("sekretesslada") == STEADY


def test_scan_undo_only_within_the_current_pile():
    day = signed_in()
    sort_all(day, {"dodsbo": 2})
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    day.run({"cmd": "scan", "code": "DODSBO-0001"}, local(*MON, 9))
    assert day.run({"cmd": "undo"}, local(*MON, 9)).ok
    assert day.summary()["scans"]["accepted"] == []
    assert day.run({"cmd": "scan", "code": "DODSBO-0001"}, local(*MON, 9)).code == "accepted"
    day.run({"cmd": "next_pile", "confirm": True}, local(*MON, 9))
    # with no scans in the current pile, plain undo takes back the next_pile, never a scan elsewhere
    d = day.run({"cmd": "undo"}, local(*MON, 9))
    assert d.ok and d.data["what"] == "next_pile" and day.state.current_pile == "dodsbo"
    assert day.summary()["scanned"]["dodsbo"] == 1


# -- the 14:00 deadline, DST-correct ------------------------------------------------------------

@pytest.mark.parametrize("date, utc_hour", [
    ((2026, 1, 15), 13),   # winter, CET = UTC+1
    ((2026, 7, 15), 12),   # summer, CEST = UTC+2
    ((2026, 3, 29), 12),   # the day DST starts
    ((2026, 10, 25), 13),  # the day DST ends
])
def test_deadline_is_14_local_whatever_the_dst(date, utc_hour):
    utc = dt.timezone.utc
    just_before = dt.datetime(*date, utc_hour - 1, 59, 59, tzinfo=utc)
    just_after = dt.datetime(*date, utc_hour, 0, 0, tzinfo=utc)
    for when, met in ((just_before, True), (just_after, False)):
        day = PureDay()
        day.run({"cmd": "login", "operator": "ANNA"}, when - dt.timedelta(hours=1))
        day.run({"cmd": "sort", "pile": "ovriga_streckkod"}, when - dt.timedelta(minutes=6))
        day.run({"cmd": "scan_phase"}, when - dt.timedelta(minutes=5))
        for _ in SCAN_ORDER[:-1]:
            day.run({"cmd": "next_pile"}, when - dt.timedelta(minutes=1))
        day.run({"cmd": "scan", "code": "73500010000"}, when)
        day.run({"cmd": "next_pile"}, when)
        s = day.summary()
        assert s["deadline_met"] is met
        assert any(a["kind"] == "deadline_missed" for a in s["alerts"]) is (not met)


def test_the_deadline_alert_is_raised_once_when_time_passes_14_without_scanning_done():
    day = signed_in()
    sort_all(day, {"dodsbo": 1})
    assert day.run({"cmd": "sort", "pile": "faktura"}, local(*MON, 13, 59)).ok
    assert not day.summary()["alerts"]
    day.run({"cmd": "sort", "pile": "faktura"}, local(*MON, 14, 0))
    day.run({"cmd": "sort", "pile": "faktura"}, local(*MON, 14, 30))
    alerts = day.summary()["alerts"]
    assert [a["kind"] for a in alerts] == ["deadline_missed"]


def test_closing_a_day_with_unscanned_barcoded_letters_alerts_once_at_the_close():
    day = signed_in()
    sort_all(day, {"dodsbo": 1})
    ask = day.run({"cmd": "close_day"}, local(*MON, 9))
    assert ask.code == "confirm_needed" and [w["kind"] for w in ask.data["unfinished"]] == ["unscanned"]
    assert not ask.events  # the question raises nothing
    d = day.run({"cmd": "close_day", "confirm": True}, local(*MON, 9))
    assert d.ok and d.severity == "alert" and "skickas till TL" in d.message
    [alert] = day.summary()["alerts"]
    assert alert["kind"] == "deadline_missed" and "kl. 09:00" in alert["text"] and "14:00" in alert["text"]
    assert day.summary()["deadline_met"] is False
    assert day.run({"cmd": "sort", "pile": "dodsbo"}, local(*MON, 9, 5)).code == "day_closed"
    day.run({"cmd": "tick"}, local(*MON, 15))
    day.run({"cmd": "reopen_day"}, local(*MON, 15, 1))
    day.run({"cmd": "close_day", "confirm": True}, local(*MON, 15, 2))
    assert len(day.summary()["alerts"]) == 1 and day.summary()["deadline_met"] is False  # once


# -- step 3: dödsbo -----------------------------------------------------------------------------

def test_dodsbo_label_needs_the_pile_scanned_and_a_valid_personnummer():
    day = signed_in()
    assert day.run({"cmd": "dodsbo_label", "personnummer": "19121212-1212"}, local(*MON, 9)).code == "step_order"
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    day.run({"cmd": "next_pile"}, local(*MON, 9))
    bad = day.run({"cmd": "dodsbo_label", "personnummer": "19121212-1213"}, local(*MON, 9))
    assert bad.code == "invalid_personnummer" and "1213" not in bad.message
    d = day.run({"cmd": "dodsbo_label", "personnummer": "121212+1212", "confirm": True}, local(*MON, 9))
    assert d.ok
    job = d.effects.prints[0]
    assert job.kind == "dodsbo_label" and job.persist is False
    assert "19121212-1212" in job.layout.text_lines()
    assert d.effects.lights.pattern("oversta_facket") == STEADY
    assert "1212" not in repr(day.events)  # never in an event


# -- step 4: sekretess --------------------------------------------------------------------------

def test_cover_slip_counts_the_scanned_sekretess_invoices_and_carries_no_customer_data():
    day = signed_in()
    sort_all(day, {"sekretess": 2})
    scan_through(day, {"sekretess": ["SEK-00001", "SEK-00002"], "faktura": ["FAK-00001"]})
    d = day.run({"cmd": "cover_slip"}, local(*MON, 10))
    assert d.ok and d.data["count"] == 2
    text = "\n".join(d.effects.prints[1].layout.text_lines())  # [0] is the address label
    for line in ("Ellevio AB (publ)", "Fakturering", "Box 24207", "104 51 Stockholm", "2026-11-23", "ANNA"):
        assert line in text
    for code in ("SEK-00001", "SEK-00002", "FAK-00001"):
        assert code not in text


def test_cover_slip_with_nothing_scanned_is_refused():
    day = signed_in()
    scan_through(day, {})
    assert day.run({"cmd": "cover_slip"}, local(*MON, 10)).code == "nothing_to_send"


# -- step 5: Leta Kund --------------------------------------------------------------------------

def test_leta_kund_counts_per_type_with_apartments_for_a_and_names_the_wms_row():
    day = signed_in()
    for letter, count, apt in [("A", 1, 1), ("A", 1, 0), ("A", 1, 1), ("B", 1, 0), ("H", 1, 0)]:
        d = day.run({"cmd": "leta_kund", "letter": letter, "count": count, "apartments": apt}, local(*MON, 10))
        assert d.ok
    assert "Brev 4 retur" in day.run({"cmd": "leta_kund", "letter": "A"}, local(*MON, 10)).message
    assert day.summary()["leta_kund"] == {"A": 4, "B": 1, "C": 0, "D": 0, "H": 1, "apartments": 2}
    assert day.run({"cmd": "leta_kund", "letter": "B", "apartments": 1}, local(*MON, 10)).code == "bad_argument"
    assert day.summary()["counts"]["leta_kund"] == 6  # the pile's count is the sum of the types
    assert day.run({"cmd": "leta_kund", "letter": "E"}, local(*MON, 10)).code == "bad_argument"


# -- steps 6 and 7: the date rule ---------------------------------------------------------------

@given(offset=st.integers(min_value=-400, max_value=400))
def test_date_rule_discards_within_three_days_else_resends(offset):
    today = dt.date(2026, 11, 23)
    decision = routine.date_decision(today + dt.timedelta(days=offset), today)
    assert decision == ("kasta" if offset <= 3 else "skicka_om")


def test_date_check_and_outage_letters_reach_the_right_slot():
    day = signed_in()
    d = day.run({"cmd": "date_check", "kind": "planerat_stromavbrott", "date": "2026-11-26"}, local(*MON, 23, 30))
    assert d.data["decision"] == "kasta" and d.effects.lights.pattern("sekretesslada") == STEADY
    assert any("aviseringsadress" in n for n in d.effects.notes)
    d = day.run({"cmd": "date_check", "kind": "ovriga_brev", "date": "2026-11-27"}, local(*MON, 23, 31))
    assert d.data["decision"] == "skicka_om" and d.effects.lights.pattern("skicka_om") == STEADY
    d = day.run({"cmd": "stromavbrott_atgard"}, local(*MON, 23, 32))
    assert d.data["decision"] == "skicka_om"
    assert [x["decision"] for x in day.summary()["decisions"]] == ["kasta", "skicka_om", "skicka_om"]
    assert day.run({"cmd": "date_check", "kind": "ovriga_brev", "date": "27/11"}, local(*MON, 23, 33)).code == "bad_argument"


# -- step 8: incoming letters -------------------------------------------------------------------

@pytest.mark.parametrize("kind, segment, expect", [
    ("ovrigt", "privat", {"type": "DOKIN", "subject": "Scannat brev – Flytt", "status": "Upprättat", "group": "KS Privat"}),
    ("ovrigt", "foretag", {"type": "DOKIN", "subject": "Scannat brev – Flytt", "status": "Upprättat", "group": "KS Företag"}),
    ("fullmakt_med_brev", "privat", {"type": "DOKIN", "subject": "Scannat brev – Flytt", "status": "Upprättat", "group": "KS Privat"}),
    ("fullmakt", "privat", {"type": "DOKIN", "status": "Avslutat"}),
    ("autogiro", "privat", {"type": "DOKIN", "status": "Upprättad", "group": "Reskontra"}),
    ("bestridan", "foretag", {"type": "DOKIN", "subject": "Inscannat brev: Bestridan", "group": "KS Företag"}),
])
def test_incoming_letters_give_the_exact_cab_case(kind, segment, expect):
    day = signed_in()
    d = day.run({"cmd": "incoming", "kind": kind, "segment": segment, "about": "Flytt"}, local(*MON, 10))
    assert d.ok
    case = day.summary()["cab"][0]
    assert set(case) == {"type", "subject", "status", "group", "action"}
    for key, value in expect.items():
        assert case[key] == value
    alerted = [a["kind"] for a in day.summary()["alerts"]]
    assert alerted == (["bestridan"] if kind == "bestridan" else [])
    if kind == "bestridan":
        assert d.effects.alerts and "TL" in d.message


def test_incoming_without_segment_or_subject_is_a_bad_argument():
    day = signed_in()
    assert day.run({"cmd": "incoming", "kind": "ovrigt", "about": "x"}, local(*MON)).code == "bad_argument"
    assert day.run({"cmd": "incoming", "kind": "ovrigt", "segment": "privat"}, local(*MON)).code == "bad_argument"


# -- steps 9 and 10 -----------------------------------------------------------------------------

def test_temporary_mailings_are_counted_and_ask_the_tl():
    day = signed_in()
    d = day.run({"cmd": "temporary", "about": "Elpriskompensation"}, local(*MON, 10))
    assert d.effects.alerts[0].kind == "tillfalliga"
    assert day.summary()["temporary"][0]["about"] == "Elpriskompensation"


@pytest.mark.parametrize("code", ["brevlada_full", "poste_restante", "okand_adress", "ofullstandig_adress", "vagrad"])
def test_envelope_remarks_become_a_customer_log_note(code):
    day = signed_in()
    d = day.run({"cmd": "remark", "code": code, "barcode": "7350001000011"}, local(*MON, 10))
    remark = day.summary()["remarks"][0]
    assert remark["note"].startswith("Kundlogg: ")
    if code == "poste_restante":
        assert any("Upplysning.se" in c for c in remark["checklist"]) and d.effects.notes
    else:
        assert remark["checklist"] == []


# -- properties over whole command streams ------------------------------------------------------

commands = st.one_of(
    st.builds(lambda p: {"cmd": "sort", "pile": p}, st.sampled_from(PILES)),
    st.just({"cmd": "undo"}),
    st.just({"cmd": "scan_phase"}),
    st.just({"cmd": "next_pile"}),
    st.builds(lambda c: {"cmd": "scan", "code": c}, st.text(min_size=0, max_size=12)),
    st.builds(lambda c: {"cmd": "scan", "code": c}, st.sampled_from(["CODE-0001", "CODE-0002", "CODE-0003"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(commands, max_size=60))
def test_replaying_the_events_gives_the_same_state_and_counts_stay_consistent(stream):
    day = signed_in()
    for i, cmd in enumerate(stream):
        day.run(cmd, local(*MON, 9, 0, 0) + dt.timedelta(seconds=i))
    rebuilt = routine.replay(day.events)
    assert routine.summary(rebuilt) == day.summary()
    s = day.summary()
    codes = [a["code"] for a in s["scans"]["accepted"]]
    assert len(codes) == len(set(codes))  # never double-counted
    assert all(n >= 0 for n in s["counts"].values())
    for pile in SCAN_ORDER:
        assert s["scanned"][pile] == sum(1 for a in s["scans"]["accepted"] if a["pile"] == pile)


def test_the_day_summary_printout_names_the_configured_deadline():
    day = signed_in(Context(operators=("ANNA",), deadline=dt.time(13, 0)))
    d = day.run({"cmd": "close_day"}, local(*MON, 15))
    [job] = d.effects.prints
    assert job.kind == "day_summary"
    # no barcoded mail: neither met nor missed
    assert any(line.startswith("Före 13:00") and line.endswith("–") for line in job.layout.text_lines())
    day = signed_in(Context(operators=("ANNA",), deadline=dt.time(13, 0)))
    sort_all(day, {"faktura": 1})
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    for _ in range(4):
        day.run({"cmd": "next_pile", "confirm": True}, local(*MON, 9))
    [job] = day.run({"cmd": "close_day", "confirm": True}, local(*MON, 15)).effects.prints
    assert any(line.startswith("Före 13:00") and line.endswith("JA") for line in job.layout.text_lines())
