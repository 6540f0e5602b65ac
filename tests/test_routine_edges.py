"""The routine's rules at the edges of a real day (deadline, midnight, DST, late letters,
warnings, century, input limits, Leta Kund, temporary mailings, letters without a date, barcodes),
through the pure decide/apply with time injected."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import routine
from kiosk.core.barcode import BarcodeRules, check
from kiosk.core.clock import TZ
from kiosk.core.config import load
from kiosk.core.domain import PILES, SCAN_ORDER
from kiosk.core.routine import Context

from .conftest import local
from .routine_harness import PureDay

MON = (2026, 11, 23)
T15 = Context(operators=("ANNA", "BERT"), deadline=dt.time(15, 0))


def signed_in(ctx=None, date=MON, hh=8) -> PureDay:
    day = PureDay(ctx)
    day.run({"cmd": "login", "operator": "ANNA"}, local(*date, hh, 0))
    return day


def run(day, cmd, hh=9, mm=0, ss=0, date=MON):
    return day.run(cmd, local(*date, hh, mm, ss))


def alerts(day, kind="deadline_missed"):
    return [a for a in day.summary()["alerts"] if a["kind"] == kind]


def finish_scanning(day, hh=9, mm=0, date=MON, codes=None):
    """Scan every barcoded pile through (one code per sorted letter)."""
    codes = iter(codes or (f"{9000_0000 + i}" for i in range(1000)))
    if day.state.phase == routine.SORTING:
        run(day, {"cmd": "scan_phase"}, hh, mm, date=date)
    while day.state.current_pile:
        pile = day.state.current_pile
        for _ in range(day.state.counts[pile] - day.state.scanned[pile]):
            assert run(day, {"cmd": "scan", "code": next(codes)}, hh, mm, date=date).code == "accepted"
        assert run(day, {"cmd": "next_pile"}, hh, mm, date=date).ok


# -- item 1: the deadline, only when it is one --------------------------------------------------

def test_a_day_with_no_mail_closes_without_any_alert():
    day = signed_in(hh=9)
    d = run(day, {"cmd": "close_day"}, 9, 30)
    assert d.ok and day.summary()["alerts"] == [] and day.summary()["deadline_met"] is None


def test_a_day_with_only_date_checks_never_alerts_not_even_at_23_59_59():
    day = signed_in()
    run(day, {"cmd": "date_check", "kind": "ovriga_brev", "date": "2026-12-20"}, 10)
    run(day, {"cmd": "tick"}, 14, 0)
    run(day, {"cmd": "tick"}, 23, 59, 59)
    assert day.summary()["alerts"] == []


def test_deadline_met_is_pending_until_the_deadline_passes_or_scanning_finishes():
    day = signed_in(T15)
    run(day, {"cmd": "sort", "pile": "faktura"}, 8, 10)
    assert day.summary()["deadline_met"] is None
    run(day, {"cmd": "tick"}, 14, 59, 59)
    assert day.summary()["deadline_met"] is None and alerts(day) == []
    d = run(day, {"cmd": "tick"}, 15, 0)
    assert d.code == "deadline_missed" and "15:00" in d.message and "14:00" not in d.message
    assert alerts(day)[0]["text"] == "Skanningen av returpost var inte klar kl. 15:00."
    assert day.summary()["deadline_met"] is False
    run(day, {"cmd": "tick"}, 15, 30)
    assert len(alerts(day)) == 1  # once


def test_finishing_before_a_15_00_deadline_says_15_00_in_the_message_and_on_the_printout():
    day = signed_in(T15)
    run(day, {"cmd": "sort", "pile": "dodsbo"}, 8, 10)
    run(day, {"cmd": "scan_phase"}, 14, 0)
    run(day, {"cmd": "scan", "code": "73500010"}, 14, 10)
    run(day, {"cmd": "next_pile"}, 14, 20)
    for _ in SCAN_ORDER[1:-1]:
        run(day, {"cmd": "next_pile"}, 14, 25)
    d = run(day, {"cmd": "next_pile"}, 14, 30)
    assert "Skanningen är klar före 15:00." in d.message and "14:00" not in d.message
    run(day, {"cmd": "dodsbo_label", "personnummer": "19121212-1212"}, 14, 35)
    closed = run(day, {"cmd": "close_day"}, 16)
    lines = closed.effects.prints[0].layout.text_lines()
    assert any(line.startswith("Före 15:00") and line.endswith("JA") for line in lines)
    assert day.summary()["alerts"] == []


@pytest.mark.parametrize("date", [(2026, 3, 29), (2026, 10, 25)])
def test_the_deadline_on_the_dst_days_is_15_00_local(date):
    utc_deadline = dt.datetime(*date, 15, 0, tzinfo=TZ).astimezone(dt.timezone.utc)
    day = PureDay(T15)
    day.run({"cmd": "login", "operator": "ANNA"}, utc_deadline - dt.timedelta(hours=6))
    day.run({"cmd": "sort", "pile": "sekretess"}, utc_deadline - dt.timedelta(hours=5))
    day.run({"cmd": "tick"}, utc_deadline - dt.timedelta(seconds=1))
    assert alerts(day) == []
    day.run({"cmd": "tick"}, utc_deadline)
    assert len(alerts(day)) == 1
    # the local wall clock at the alert is 15:00 on both days, whatever the UTC offset
    assert utc_deadline.astimezone(TZ).hour == 15


# -- item 2: midnight ---------------------------------------------------------------------------

def test_scanning_past_midnight_settles_the_old_day_and_the_new_day_starts_in_sorting():
    day = signed_in(hh=20)
    run(day, {"cmd": "sort", "pile": "dodsbo"}, 20, 5)
    run(day, {"cmd": "sort", "pile": "faktura"}, 20, 5)
    run(day, {"cmd": "scan_phase"}, 23, 30)
    run(day, {"cmd": "scan", "code": "73500010"}, 23, 40)
    assert len(alerts(day)) == 1  # raised at 23:30 (past 14:00) already
    d = day.run({"cmd": "scan", "code": "73500020"}, local(2026, 11, 24, 0, 10))
    assert day.new_day is not None and day.new_day.code == "new_day"
    assert "ny dag" in day.new_day.message and day.new_day.day == dt.date(*MON)
    assert d.code == "not_scan_phase"  # the new day is in sorting: nothing is scanning
    assert day.state.day == dt.date(2026, 11, 24) and day.state.phase == routine.SORTING
    old = routine.summary(routine.replay([e for e in day.events if e["day"] == "2026-11-23"]))
    assert old["phase"] == "closed" and old["closed_by"] == "midnight"
    assert {(w["kind"], w.get("pile")) for w in old["warnings"]} >= {("unscanned", "dodsbo"), ("unscanned", "faktura")}
    assert [a["kind"] for a in old["alerts"]] == ["deadline_missed"]  # not twice
    assert old["deadline_met"] is False


def test_midnight_raises_the_old_days_alert_if_the_kiosk_was_off_at_the_deadline():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "sekretess"}, 8, 5)
    # the kiosk is off from 08:05 until the next morning
    day.run({"cmd": "login", "operator": "BERT"}, local(2026, 11, 24, 7, 30))
    old = [e for e in day.events if e["day"] == "2026-11-23"]
    assert [e["data"]["kind"] for e in old if e["type"] == "alert_raised"] == ["deadline_missed"]
    assert day.state.operator == "BERT" and day.summary()["alerts"] == []


def test_a_finished_day_left_open_is_not_touched_at_midnight():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "ovriga_brev"}, 8, 5)
    day.run({"cmd": "tick"}, local(2026, 11, 24, 0, 0, 1))
    assert day.new_day is None


# -- item 3: late letters -----------------------------------------------------------------------

def test_a_late_dodsbo_letter_is_sorted_and_scanned_at_once_and_then_gets_its_label():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "dodsbo"}, 8, 5)
    assert run(day, {"cmd": "late", "pile": "dodsbo", "code": "73500011"}).code == "step_order"
    finish_scanning(day)
    run(day, {"cmd": "dodsbo_label", "personnummer": "19121212-1212"}, 9, 10)
    d = run(day, {"cmd": "late", "pile": "dodsbo", "code": "73500099"}, 11)
    assert d.ok and "etikett" in d.message
    s = day.summary()
    assert s["counts"]["dodsbo"] == 2 and s["scanned"]["dodsbo"] == 2
    assert s["late"] == [{"code": "73500099", "pile": "dodsbo", "at": s["late"][0]["at"]}]
    assert [w["kind"] for w in s["warnings"]] == ["labels_missing"]
    assert run(day, {"cmd": "dodsbo_label", "personnummer": "19121212-1212"}, 11, 1).ok  # no confirm needed
    assert day.summary()["warnings"] == []
    dup = run(day, {"cmd": "late", "pile": "dodsbo", "code": "73500099"}, 11, 2)
    assert dup.code == "duplicate" and day.summary()["counts"]["dodsbo"] == 2
    # undoing the late scan takes its sort back too
    assert run(day, {"cmd": "undo", "what": "scan", "code": "73500099"}, 11, 3).ok
    assert day.summary()["counts"]["dodsbo"] == 1 and day.summary()["late"] == []


def test_a_late_sekretess_letter_gets_a_new_cover_slip_of_its_own():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "sekretess"}, 8, 5)
    run(day, {"cmd": "sort", "pile": "sekretess"}, 8, 5)
    finish_scanning(day)
    assert run(day, {"cmd": "cover_slip"}).data["count"] == 2
    run(day, {"cmd": "late", "pile": "sekretess", "code": "73500077"}, 12)
    assert [w["kind"] for w in day.summary()["warnings"]] == ["cover_slip_missing"]
    d = run(day, {"cmd": "cover_slip"}, 12, 1)
    assert d.data == {"count": 1, "reprint": False, "job": "cover_slip-2"} and day.summary()["warnings"] == []
    again = run(day, {"cmd": "cover_slip"}, 12, 2)
    assert again.data["reprint"] is True and again.data["count"] == 3


def test_a_late_letter_for_a_pile_without_barcode_is_a_late_sort():
    day = signed_in()
    d = run(day, {"cmd": "late", "pile": "inkomna_brev"})
    assert d.ok and day.summary()["counts"]["inkomna_brev"] == 1


# -- item 4: warnings a TL reads ----------------------------------------------------------------

def test_more_scanned_than_sorted_is_a_warning():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "faktura"}, 8, 5)
    run(day, {"cmd": "scan_phase"})
    for _ in range(2):
        run(day, {"cmd": "next_pile"})
    for code in ("73500001", "73500002", "73500003"):
        run(day, {"cmd": "scan", "code": code})
    [w] = day.summary()["warnings"]
    assert (w["kind"], w["pile"], w["sorted"], w["scanned"]) == ("extra_scans", "faktura", 1, 3)


def test_closing_with_dodsbo_and_sekretess_scanned_but_no_label_or_slip_is_named():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "dodsbo"}, 8, 5)
    run(day, {"cmd": "sort", "pile": "sekretess"}, 8, 5)
    finish_scanning(day)
    ask = run(day, {"cmd": "close_day"}, 16)
    assert [w["kind"] for w in ask.data["unfinished"]] == ["labels_missing", "cover_slip_missing"]
    closed = run(day, {"cmd": "close_day", "confirm": True}, 16)
    text = "\n".join(closed.effects.prints[0].layout.text_lines())
    assert "utan personnummer-etikett" in text and "utan försättsblad" in text


# -- item 5: dödsbo labels carry the century CAB shows ------------------------------------------

def dodsbo_scanned(invoices=1) -> PureDay:
    day = signed_in()
    for _ in range(invoices):
        run(day, {"cmd": "sort", "pile": "dodsbo"}, 8, 5)
    finish_scanning(day)
    return day


def test_ten_digits_with_a_dash_ask_for_the_century_and_the_choice_prints_as_chosen():
    day = dodsbo_scanned()
    d = run(day, {"cmd": "dodsbo_label", "personnummer": "250101-1239"})
    assert d.code == "century_needed" and not d.events and not d.effects.prints
    assert d.data == {"readings": [{"century": "19", "date": "1925-01-01"}, {"century": "20", "date": "2025-01-01"}]}
    assert "1239" not in d.message
    d = run(day, {"cmd": "dodsbo_label", "personnummer": "250101-1239", "century": "19"})
    assert d.ok and "19250101-1239" in d.effects.prints[0].layout.text_lines()
    assert "kvittopapper" in d.message and "Tejpa" in d.message  # how to attach it
    assert run(day, {"cmd": "dodsbo_label", "personnummer": "250101-1239", "century": "17"}).code == "bad_argument"


def test_twelve_digits_print_as_typed_and_plus_follows_the_rule():
    day = dodsbo_scanned(2)
    d = run(day, {"cmd": "dodsbo_label", "personnummer": "20250101-1239"})
    assert "20250101-1239" in d.effects.prints[0].layout.text_lines()
    d = run(day, {"cmd": "dodsbo_label", "personnummer": "250101+1239"})
    assert "19250101-1239" in d.effects.prints[0].layout.text_lines()


def test_more_labels_than_invoices_need_a_confirm_and_count_as_reprints():
    day = dodsbo_scanned(1)
    assert run(day, {"cmd": "dodsbo_label", "personnummer": "19121212-1212"}).ok
    ask = run(day, {"cmd": "dodsbo_label", "personnummer": "19121212-1212"})
    assert ask.code == "confirm_needed" and ask.data == {"labels": 1, "invoices": 1} and not ask.effects.prints
    d = run(day, {"cmd": "dodsbo_label", "personnummer": "19121212-1212", "confirm": True})
    assert d.ok and d.data["reprint"] is True
    s = day.summary()
    assert s["labels_printed"] == 1 and s["label_reprints"] == 1
    empty = dodsbo_scanned(0)
    assert run(empty, {"cmd": "dodsbo_label", "personnummer": "19121212-1212"}).code == "confirm_needed"


# -- item 6: input limits -----------------------------------------------------------------------

@pytest.mark.parametrize("about", ["x" * 201, "a\x00b", "ring\x07", "abc\u202edcba", "zero\u200bwidth"])
def test_free_text_over_the_limit_or_with_control_format_or_bidi_characters_is_refused(about):
    day = signed_in()
    for cmd in ({"cmd": "temporary", "about": about},
                {"cmd": "incoming", "kind": "ovrigt", "segment": "privat", "about": about}):
        d = run(day, cmd)
        assert d.code == "bad_argument" and "200" in d.message, cmd
    assert day.summary()["temporary"] == [] and day.summary()["alerts"] == []


def test_free_text_is_trimmed_and_accepts_swedish_and_other_latin_letters():
    day = signed_in()
    d = run(day, {"cmd": "temporary", "about": "  Brev om Åtgärd – café, naïve  " + "x" * 150})
    assert d.ok and day.summary()["temporary"][0]["about"].startswith("Brev om Åtgärd – café")
    assert run(day, {"cmd": "temporary", "about": "y" * 200}).ok


@pytest.mark.parametrize("cmd", [
    {"cmd": "leta_kund", "letter": "A", "apartments": 10 ** 15},
    {"cmd": "leta_kund", "letter": "A", "apartments": 3},
    {"cmd": "leta_kund", "letter": "A", "count": 2, "apartments": 3},
    {"cmd": "leta_kund", "letter": "A", "count": 0},
    {"cmd": "leta_kund", "letter": "B", "count": 10 ** 15},
    {"cmd": "leta_kund", "letter": "A", "apartments": -1},
])
def test_apartments_are_between_0_and_the_number_of_a_letters(cmd):
    day = signed_in()
    assert run(day, cmd).code == "bad_argument"
    assert day.summary()["leta_kund"]["A"] == 0


@pytest.mark.parametrize("date", ["20280301", "2028-W09-3", "9999-12-31", "2026-13-01", "2026-02-30", " 2026-12-01",
                                  "2026-12-01T00:00", "２０２６-12-01", "2025-11-21", "2028-11-25", 20261201])
def test_dates_are_strictly_yyyy_mm_dd_from_a_year_back_to_two_years_ahead(date):
    day = signed_in()
    d = run(day, {"cmd": "date_check", "kind": "ovriga_brev", "date": date})
    assert d.code == "bad_argument" and "ÅÅÅÅ-MM-DD" in d.message and "mellan" in d.message
    assert day.summary()["decisions"] == []


def test_the_date_window_edges_are_accepted():
    day = signed_in()
    for date in ("2025-11-22", "2028-11-24"):  # limits.DATE_PAST_DAYS back, DATE_FUTURE_DAYS ahead
        assert run(day, {"cmd": "date_check", "kind": "ovriga_brev", "date": date}).ok, date


# -- item 7: Leta Kund counted once -------------------------------------------------------------

def test_the_leta_kund_pile_count_is_the_sum_of_the_types_counted_at_sorting_or_in_step_5():
    day = signed_in()
    assert run(day, {"cmd": "sort", "pile": "leta_kund"}, 8).code == "letter_needed"
    run(day, {"cmd": "sort", "pile": "leta_kund", "letter": "A", "apartments": 1}, 8)
    run(day, {"cmd": "sort", "pile": "leta_kund", "letter": "H"}, 8)
    run(day, {"cmd": "leta_kund", "letter": "A", "count": 2, "apartments": 1}, 10)
    s = day.summary()
    assert s["counts"]["leta_kund"] == 4 == sum(s["leta_kund"][t] for t in "ABCDH")
    assert s["leta_kund"]["A"] == 3 and s["leta_kund"]["apartments"] == 2


# -- item 8: temporary mailings -----------------------------------------------------------------

def test_three_identical_temporary_mailings_send_one_alert_and_are_counted():
    day = signed_in()
    first = run(day, {"cmd": "temporary", "about": "Elpriskompensation"})
    assert first.effects.alerts and first.data["alerted"] is True
    for n in (2, 3):
        d = run(day, {"cmd": "temporary", "about": "elpriskompensation "})
        assert d.ok and not d.effects.alerts and d.data["count"] == n and f"{n} brev" in d.message
    run(day, {"cmd": "temporary", "about": "Brev om bristfällig anläggning"})
    s = day.summary()
    assert len(alerts(day, "tillfalliga")) == 2
    assert s["temporary_kinds"] == [{"about": "Elpriskompensation", "count": 3},
                                    {"about": "Brev om bristfällig anläggning", "count": 1}]


def test_a_new_day_asks_the_tl_again():
    day = signed_in()
    run(day, {"cmd": "temporary", "about": "Elpriskompensation"})
    d = day.run({"cmd": "temporary", "about": "Elpriskompensation"}, local(2026, 11, 24, 9))
    assert d.effects.alerts


# -- item 9: letters without a date -------------------------------------------------------------

def test_a_letter_without_a_date_is_re_sent_after_a_new_address_search():
    day = signed_in()
    d = run(day, {"cmd": "date_check", "kind": "ovriga_brev"})
    assert d.ok and d.data == {"kind": "ovriga_brev", "date": None, "decision": "skicka_om", "slot": "skicka_om"}
    assert "saknar datum" in d.message and "ny adress" in d.message
    assert d.effects.lights.pattern("skicka_om") == "steady"
    outage = run(day, {"cmd": "date_check", "kind": "planerat_stromavbrott"})
    assert outage.code == "bad_argument" and "alltid ett datum" in outage.message


# -- item 10: barcode defaults that reject garbage ----------------------------------------------

@pytest.mark.parametrize("code, ok", [
    ("qqqqqqqq", False), ("7350001A", False), ("7350-0010", False), ("1234567", False), ("1" * 31, False),
    ("١٢٣٤٥٦٧٨", False), ("12345678", True), ("1" * 30, True), ("7350001000011", True),
])
def test_the_embedded_default_accepts_only_digits_8_to_30(code, ok):
    rules = load(None).barcode_rules()
    problem = check(code, rules, "faktura")
    assert (problem is None) is ok
    if not ok:
        assert problem.reason == "invalid" and problem.message.endswith(".")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_the_default_accepts_a_code_iff_it_is_8_to_30_ascii_digits(code):
    ok = check(code, load(None).barcode_rules(), "dodsbo") is None
    assert ok == (code.isascii() and code.isdigit() and 8 <= len(code) <= 30)


def test_luhn_and_a_pile_pattern_as_the_organisation_would_set_them():
    from kiosk.core.barcode import luhn_ok

    rules = BarcodeRules(8, 30, "luhn", {"dodsbo": r"7350\d{9}"}, "digits")
    good = next(f"735000100001{d}" for d in "0123456789" if luhn_ok(f"735000100001{d}"))
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert check(good, rules, "dodsbo") is None  # Luhn-valid, matches the pile
    assert check(bad, rules, "dodsbo").reason == "invalid"
    assert check("12345674", rules, "dodsbo").reason == "wrong_pile"  # Luhn-valid, another pile's


# -- the deadline property over any command stream ----------------------------------------------

stream_commands = st.one_of(
    st.builds(lambda p: {"cmd": "sort", "pile": p}, st.sampled_from([p for p in PILES if p != "leta_kund"])),
    st.just({"cmd": "scan_phase"}),
    st.builds(lambda c: {"cmd": "next_pile", "confirm": c}, st.booleans()),
    st.builds(lambda c: {"cmd": "scan", "code": c}, st.sampled_from(["11110001", "11110002", "11110003"])),
    st.sampled_from([{"cmd": "undo"}, {"cmd": "undo", "what": "sort"}, {"cmd": "undo", "what": "next_pile"},
                     {"cmd": "undo", "what": "scan"}]),
    st.builds(lambda c: {"cmd": "close_day", "confirm": c}, st.booleans()),
    st.just({"cmd": "reopen_day"}),
    st.just({"cmd": "tick"}),
    st.just({"cmd": "date_check", "kind": "ovriga_brev"}),
)


def _pending(s: routine.DayState) -> bool:
    """A barcoded pile unfinished, no verdict yet (a deadline met stands through corrections)."""
    return s.phase != routine.CLOSED and bool(s.unfinished_piles()) and s.deadline_met is not True


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(stream_commands, st.integers(0, 1800)), max_size=40))
def test_deadline_missed_exists_iff_the_deadline_passed_with_a_barcoded_pile_unfinished(stream):
    day = signed_in(T15, hh=13)
    deadline = local(*MON, 15, 0)
    now = local(*MON, 13, 30)
    expected = False
    for cmd, gap in stream:
        now += dt.timedelta(seconds=gap)
        before = day.state
        day.run(cmd, now)
        if now >= deadline and (_pending(before) or _pending(day.state)):
            expected = True
        if day.state.phase == routine.CLOSED and before.phase != routine.CLOSED and _pending(before):
            expected = True  # closed with barcoded letters unscanned: alerted at the close
    assert bool(alerts(day)) is expected
    assert len(alerts(day)) <= 1
    met = day.summary()["deadline_met"]
    if expected:
        assert met is False


# -- item 11: the cover slip in its envelope ----------------------------------------------------

def test_the_cover_slip_comes_with_a_cut_address_label_and_says_how_to_place_both():
    day = signed_in()
    run(day, {"cmd": "sort", "pile": "sekretess"}, 8, 5)
    finish_scanning(day)
    d = run(day, {"cmd": "cover_slip"})
    assert [p.kind for p in d.effects.prints] == ["address_label", "cover_slip"]
    label = "\n".join(d.effects.prints[0].layout.text_lines())
    for row in ("Ellevio AB (publ)", "Fakturering", "Box 24207", "104 51 Stockholm"):
        assert row in label
    assert d.effects.prints[0].layout.cut and "utan fönster" in d.message and "Tejpa" in d.message
    assert "fönsterkuvert" in "\n".join(d.effects.prints[1].layout.text_lines())


def test_an_80_mm_strip_cannot_cover_a_standard_window_and_the_label_fits_the_c5_front():
    from kiosk.shelf import preview
    from kiosk.core import printouts

    for _, _, width, _ in (preview.C5_WINDOW, (20, 50, 90, 45)):  # C5 window envelope, DIN 680
        assert printouts.PAPER_MM < width  # any placement leaves part of the window uncovered
    cfg = load(None).envelope
    fit = printouts.envelope_fit(cfg.width_mm, cfg.height_mm, cfg.label_right_mm, cfg.label_bottom_mm)
    assert fit.fits and (cfg.width_mm, cfg.height_mm) == (229, 162)
    x, y, w, h = fit.label
    ax, ay, aw, ah = fit.address
    assert x <= ax and ax + aw <= x + w and y <= ay and ay + ah <= y + h  # the address is on the label
    assert x > cfg.width_mm / 2 and y > cfg.height_mm / 2  # in the recipient area, bottom right


def test_the_to_scale_rendering_shows_the_uncovered_window_only_on_the_window_envelope(tmp_path):
    from kiosk.shelf import preview
    from kiosk.core import printouts
    from PIL import Image

    fit = printouts.envelope_fit(229, 162, 15, 15)
    img = Image.open(preview.save_envelope_png(fit, tmp_path / "e.png")).convert("RGB")
    red = [(x, y) for x in range(0, img.width, 4) for y in range(0, img.height, 4) if img.getpixel((x, y)) == (220, 60, 60)]
    assert red and max(x for x, _ in red) < img.width // 2  # uncovered window: left panel only
