"""The rules at their edges (docs/rules-edges.md): the deadline verdict and its corrections, a day
closed early, a letter for the pile being scanned, one letter one count, a code seen on an earlier
day, personnummer digits, no personnummer in free text. Scenarios through `kiosk simulate` (the
CLI in a subprocess); properties through the pure rules with time injected."""

import datetime as dt
import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import limits, printouts, routine, schema
from kiosk.shelf import simulate as sim
from kiosk.core.clock import FixedClock
from kiosk.core.config import load
from kiosk.shelf.controller import Controller
from kiosk.core.domain import PILES, SCAN_ORDER
from kiosk.wire.journal import Journal
from kiosk.core.routine import Context

from .conftest import local
from .routine_harness import PureDay
from .test_simulate import at, kiosk, write_script

MON, TUE = (2026, 11, 23), (2026, 11, 24)
LOGIN = {"at": at("08:00"), "cmd": "login", "operator": "ANNA"}


def simulate(tmp_path, lines, cli=False) -> dict:
    """A script through `kiosk simulate`: in this process (simulate.run, what the CLI runs), or with
    `cli` as a subprocess of the CLI itself."""
    lines = [LOGIN, *lines] if lines[0].get("cmd") != "login" else lines
    if not cli:
        return sim.run([json.dumps(line, ensure_ascii=False) for line in lines], load(None), tmp_path / "j.db",
                       tmp_path / "out")
    script = write_script(tmp_path / "edge.jsonl", lines)
    done = kiosk("simulate", str(script), "--out", str(tmp_path / "out"), "--db", str(tmp_path / "j.db"))
    return json.loads(done.stdout)


def printed(layout, left: str) -> str:
    """The right-hand value of a printed `left ... value` line."""
    [line] = [line for line in layout.text_lines() if line.startswith(left + " ")]
    return line[len(left):].strip()


def one_day(doc) -> dict:
    [day] = doc["days"]
    return day


def kinds(day, kind="deadline_missed"):
    return [a for a in day["alerts"] if a["kind"] == kind and not a["cancelled"]]


def journal_types(tmp_path) -> list[str]:
    db = sqlite3.connect(tmp_path / "j.db")
    try:
        return [r[0] for r in db.execute("select type from events order by seq")]
    finally:
        db.close()


def scan_through(codes_by_pile: dict[str, list[str]], hhmm: str) -> list[dict]:
    """scan_phase, then each barcoded pile's codes and its next_pile (a confirm where codes are missing)."""
    lines = [{"at": at(hhmm), "cmd": "scan_phase"}]
    for pile in SCAN_ORDER:
        lines += [{"at": at(hhmm), "cmd": "scan", "code": c} for c in codes_by_pile.get(pile, [])]
        lines.append({"at": at(hhmm), "cmd": "next_pile", "confirm": True})
    return lines


# -- the deadline -------------------------------------------------------------------------------

@pytest.mark.parametrize("added_scan", [False, True])
def test_a_correction_after_the_deadline_keeps_a_deadline_met(tmp_path, added_scan):
    lines = [{"at": at("08:01"), "cmd": "sort", "pile": "faktura"},
             {"at": at("08:01"), "cmd": "sort", "pile": "ovriga_streckkod"},
             *scan_through({"faktura": ["7350003000015"], "ovriga_streckkod": ["7350004000013"]}, "13:50"),
             {"at": at("14:10"), "cmd": "undo", "what": "next_pile"}]
    if added_scan:
        lines.append({"at": at("14:11"), "cmd": "scan", "code": "7350004000020"})
    lines += [{"at": at("14:12"), "cmd": "next_pile", "confirm": True},
              {"at": at("16:00"), "cmd": "close_day", "confirm": True}]
    doc = simulate(tmp_path, lines)
    assert doc["errors"] == []
    day = one_day(doc)
    assert day["deadline_met"] is True and kinds(day) == []
    assert day["scan_done_at"] == "2026-11-23T12:50:00.000Z"  # 13:50 local: the finish that met the deadline
    assert ("extra_scans" in [w["kind"] for w in day["warnings"]]) is added_scan  # the added scan is still seen
    assert "alert_raised" not in journal_types(tmp_path)


def test_an_undo_before_the_deadline_reopens_the_verdict_and_a_late_finish_misses(tmp_path):
    lines = [{"at": at("08:01"), "cmd": "sort", "pile": "dodsbo"},
             *scan_through({"dodsbo": ["7350001000011"]}, "13:00"),
             *[{"at": at("13:55"), "cmd": "undo", "what": "next_pile"} for _ in range(4)],  # dödsbo current again
             *[{"at": at("14:20"), "cmd": "next_pile"} for _ in range(4)]]
    doc = simulate(tmp_path, lines)
    assert doc["errors"] == []
    day = one_day(doc)
    assert day["deadline_met"] is False and len(kinds(day)) == 1
    assert day["scan_done_at"] == "2026-11-23T13:20:00.000Z"


def test_an_undo_of_an_empty_pile_before_the_deadline_leaves_every_pile_with_letters_finished(tmp_path):
    lines = [{"at": at("08:01"), "cmd": "sort", "pile": "dodsbo"},
             *scan_through({"dodsbo": ["7350001000011"]}, "13:00"),
             {"at": at("13:55"), "cmd": "undo", "what": "next_pile"},  # övriga streckkod: no letters
             {"at": at("14:20"), "cmd": "next_pile"}]
    day = one_day(simulate(tmp_path, lines))
    assert day["deadline_met"] is True and kinds(day) == []


def test_a_day_closed_early_with_unscanned_barcoded_letters_is_missed_and_alerted_once(tmp_path):
    lines = [*[{"at": at("08:01"), "cmd": "sort", "pile": "faktura"} for _ in range(3)],
             {"at": at("10:00"), "cmd": "close_day"},  # the question: nothing recorded
             {"at": at("10:00"), "cmd": "close_day", "confirm": True},
             {"at": at("14:30"), "cmd": "login", "operator": "BERT"},  # the deadline passes on a closed day
             {"at": at("14:31"), "cmd": "reopen_day"},
             {"at": at("14:32"), "cmd": "close_day", "confirm": True}]
    doc = simulate(tmp_path, lines)
    assert doc["errors"] == []
    day = one_day(doc)
    [alert] = kinds(day)
    assert "kl. 10:00" in alert["text"] and "före 14:00" in alert["text"]
    assert day["deadline_met"] is False
    # no central confirmed the alert in a simulation: the day says so beside the unscanned letters
    assert [w["kind"] for w in day["warnings"]] == ["unscanned", "alert_unconfirmed"]


def test_a_day_without_barcoded_mail_is_neither_met_nor_missed(tmp_path):
    lines = [{"at": at("08:01"), "cmd": "sort", "pile": "ovriga_brev"},
             {"at": at("08:02"), "cmd": "sort", "pile": "leta_kund", "letter": "B"},
             *scan_through({}, "09:00"),
             {"at": at("16:00"), "cmd": "close_day"}]
    doc = simulate(tmp_path, lines)
    assert doc["errors"] == []
    day = one_day(doc)
    assert day["deadline_met"] is None and day["barcoded_mail"] is False and kinds(day) == []
    layout = printouts.day_summary(day, "site", "kiosk")
    assert printed(layout, "Före 14:00") == "–" and printed(layout, "Klar") == "09:00"  # the empty piles' pass
    assert [p["kind"] for p in day["prints"]] == ["day_summary"]


def test_a_day_closed_without_scanning_and_without_barcoded_mail_says_dash_not_pending():
    day = PureDay()
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 8))
    d = day.run({"cmd": "close_day"}, local(*MON, 9))
    layout = d.effects.prints[0].layout
    assert printed(layout, "Före 14:00") == "–" and printed(layout, "Klar") == "–"
    assert day.summary()["deadline_met"] is None


# -- sorting into the pile being scanned --------------------------------------------------------

def test_a_letter_for_the_pile_being_scanned_is_sorted_into_it_without_any_warning(tmp_path):
    lines = [{"at": at("08:01"), "cmd": "sort", "pile": "dodsbo"},
             {"at": at("09:00"), "cmd": "scan_phase"},
             {"at": at("09:01"), "cmd": "scan", "code": "7350001000011"},
             {"at": at("09:02"), "cmd": "sort", "pile": "dodsbo"},  # found on the desk while dödsbo is current
             {"at": at("09:03"), "cmd": "scan", "code": "7350001000028"},
             {"at": at("09:04"), "cmd": "next_pile"},  # no confirm: nothing missing
             *[{"at": at("09:05"), "cmd": "next_pile"} for _ in range(3)],
             {"at": at("09:10"), "cmd": "dodsbo_label", "personnummer": "19121212-1212"},
             {"at": at("09:11"), "cmd": "dodsbo_label", "personnummer": "19121212-1212"},
             {"at": at("16:00"), "cmd": "close_day"}]  # no confirm: nothing unfinished
    doc = simulate(tmp_path, lines)
    assert doc["errors"] == []
    day = one_day(doc)
    assert day["counts"]["dodsbo"] == 2 and day["scanned"]["dodsbo"] == 2
    assert day["warnings"] == [] and day["late"] == [] and day["deadline_met"] is True


def test_sorting_into_the_current_pile_says_its_scan_follows_and_a_finished_pile_still_needs_late():
    day = PureDay()
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 8))
    day.run({"cmd": "scan_phase"}, local(*MON, 9))
    d = day.run({"cmd": "sort", "pile": "dodsbo"}, local(*MON, 9, 1))
    assert d.ok and "skanna brevet nu" in d.message and "0 av 1" in d.message
    assert day.run({"cmd": "late", "pile": "dodsbo", "code": "7350001000011"}, local(*MON, 9, 2)).code == "step_order"
    day.run({"cmd": "scan", "code": "7350001000011"}, local(*MON, 9, 2))
    day.run({"cmd": "next_pile"}, local(*MON, 9, 3))
    assert day.run({"cmd": "sort", "pile": "dodsbo"}, local(*MON, 9, 4)).code == "step_order"
    assert day.run({"cmd": "late", "pile": "dodsbo", "code": "7350001000028"}, local(*MON, 9, 5)).ok


# -- one letter, one count ----------------------------------------------------------------------

def test_registered_letters_count_once_in_their_piles(tmp_path):
    incoming = {"cmd": "incoming", "kind": "ovrigt", "segment": "privat", "about": "Flyttanmälan"}
    lines = [*[{"at": at("08:10"), **incoming} for _ in range(5)],  # five letters never sorted
             {"at": at("08:20"), "cmd": "sort", "pile": "tillfalliga"},  # refused: which mailing?
             {"at": at("08:21"), "cmd": "sort", "pile": "tillfalliga", "about": "Priskompensation"},
             {"at": at("08:22"), "cmd": "temporary", "about": "Bristfällig anläggning"},
             {"at": at("08:23"), "cmd": "temporary", "about": "priskompensation"}]
    doc = simulate(tmp_path, lines)
    assert [e["code"] for e in doc["errors"]] == ["about_needed"]
    assert "Priskompensation" in doc["errors"][0]["message"] and "TL" in doc["errors"][0]["message"]
    day = one_day(doc)
    assert day["counts"]["inkomna_brev"] == 5 and len(day["cab"]) == 5
    assert day["counts"]["tillfalliga"] == 3 and len(day["temporary"]) == 3
    # every temporary letter reaches its TL question: one per kind of mailing
    assert sorted(a["text"] for a in kinds(day, "tillfalliga")) == [
        "Tillfälligt utskick i retur: Bristfällig anläggning. Hur ska det hanteras?",
        "Tillfälligt utskick i retur: Priskompensation. Hur ska det hanteras?"]
    assert {k["about"].casefold(): k["count"] for k in day["temporary_kinds"]} == {
        "priskompensation": 2, "bristfällig anläggning": 1}
    row = json.loads(kiosk("report", "--db", str(tmp_path / "j.db")).stdout)[0]
    assert row["count_inkomna_brev"] == 5 and row["count_tillfalliga"] == 3


def test_a_letter_sorted_first_and_registered_later_counts_once_and_undo_follows():
    day = PureDay()
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 8))
    for _ in range(2):
        day.run({"cmd": "sort", "pile": "inkomna_brev"}, local(*MON, 8, 1))
    for _ in range(3):
        day.run({"cmd": "incoming", "kind": "autogiro"}, local(*MON, 8, 2))
    assert day.summary()["counts"]["inkomna_brev"] == 3  # two sorted and registered, one registered only
    day.run({"cmd": "undo", "what": "incoming"}, local(*MON, 8, 3))
    assert day.summary()["counts"]["inkomna_brev"] == 2
    day.run({"cmd": "undo", "what": "incoming"}, local(*MON, 8, 3))
    assert day.summary()["counts"]["inkomna_brev"] == 2  # still sorted there
    # a tillfalliga sort is a registration: its undo takes back the letter and the TL question
    d = day.run({"cmd": "sort", "pile": "tillfalliga", "about": "Priskompensation"}, local(*MON, 8, 4))
    assert d.ok and d.severity == "alert" and "Frågan" in d.message and "skickas till TL" in d.message
    assert day.summary()["counts"]["tillfalliga"] == 1
    u = day.run({"cmd": "undo"}, local(*MON, 8, 5))
    assert u.ok and "Återkallelsen skickas till TL" in u.message
    assert day.summary()["counts"]["tillfalliga"] == 0 and kinds(day.summary(), "tillfalliga") == []


# -- a code accepted on an earlier day ----------------------------------------------------------

def test_a_code_accepted_on_an_earlier_day_is_accepted_again_and_flagged(tmp_path):
    tue = "2026-11-24"
    lines = [{"at": at("08:01"), "cmd": "sort", "pile": "faktura"},
             {"at": at("08:01"), "cmd": "sort", "pile": "faktura"},
             *scan_through({"faktura": ["7350003000015", "7350003000022"]}, "09:00"),
             {"at": at("09:30"), "cmd": "undo", "what": "scan", "code": "7350003000022"},  # undone: not seen
             {"at": at("08:00", tue), "cmd": "login", "operator": "ANNA"},
             {"at": at("08:01", tue), "cmd": "sort", "pile": "faktura"},
             {"at": at("08:01", tue), "cmd": "sort", "pile": "faktura"},
             {"at": at("08:02", tue), "cmd": "sort", "pile": "dodsbo"},
             {"at": at("09:00", tue), "cmd": "scan_phase"},
             {"at": at("09:00", tue), "cmd": "next_pile", "confirm": True},
             {"at": at("09:00", tue), "cmd": "next_pile", "confirm": True},
             {"at": at("09:01", tue), "cmd": "scan", "code": "7350003000015"},
             {"at": at("09:02", tue), "cmd": "scan", "code": "7350003000022"},
             {"at": at("09:03", tue), "cmd": "scan", "code": "7350003000015"}]  # today's duplicate
    doc = simulate(tmp_path, lines)
    assert doc["errors"] == []
    monday, tuesday = doc["days"]
    assert all("seen_before" not in a for a in monday["scans"]["accepted"])
    assert tuesday["scans"]["accepted"] == [
        {"code": "7350003000015", "pile": "faktura", "at": "2026-11-24T08:01:00.000Z", "seen_before": "2026-11-23"},
        {"code": "7350003000022", "pile": "faktura", "at": "2026-11-24T08:02:00.000Z"}]
    assert [r["reason"] for r in tuesday["scans"]["rejected"]] == ["duplicate"]


def test_the_operator_sees_skannad_tidigare_and_a_restart_still_knows(tmp_path):
    cfg = load(None)
    path = tmp_path / "j.db"
    mon, tue = local(*MON, 9), local(*TUE, 9)

    def controller(now):
        return Controller(cfg, Journal(path, cfg.kiosk.site, cfg.kiosk.id), FixedClock(now))

    c = controller(mon)
    for cmd in ({"cmd": "login", "operator": "ANNA"}, {"cmd": "sort", "pile": "faktura"}, {"cmd": "scan_phase"},
                {"cmd": "next_pile", "confirm": True}, {"cmd": "next_pile", "confirm": True},
                {"cmd": "scan", "code": "7350003000015"}):
        assert c.handle(cmd, mon).status != routine.ERROR
    first = c.handle({"cmd": "sort", "pile": "faktura"}, tue)  # the day changes in this controller
    assert first.ok
    c.handle({"cmd": "scan_phase"}, tue)
    c.handle({"cmd": "next_pile", "confirm": True}, tue)
    c.handle({"cmd": "next_pile", "confirm": True}, tue)
    r = c.handle({"cmd": "scan", "code": "7350003000015"}, tue)
    assert r.code == "accepted" and "Skannad tidigare 2026-11-23." in r.message and r.severity == "warning"
    assert r.events[-1]["data"]["seen_before"] == "2026-11-23"
    c.journal.close()
    c2 = controller(tue)  # after a restart the earlier days are read again from the journal
    c2.handle({"cmd": "undo", "what": "scan", "code": "7350003000015"}, tue)
    again = c2.handle({"cmd": "scan", "code": "7350003000015"}, tue)
    assert again.code == "accepted" and again.data["seen_before"] == "2026-11-23"
    c2.journal.close()


def test_earlier_codes_takes_the_first_day_a_code_stood_accepted():
    def ev(day, kind, code, what=None):
        return {"day": day, "type": kind, "data": {"code": code, **({"what": what} if what else {})}}

    events = [ev("2026-11-20", "scan_accepted", "A"), ev("2026-11-20", "undone", "A", "scan"),
              ev("2026-11-21", "scan_accepted", "A"), ev("2026-11-22", "scan_accepted", "A"),
              ev("2026-11-22", "scan_accepted", "B"), ev("2026-11-22", "undone", "B", "sort")]
    assert routine.earlier_codes(events) == {"A": "2026-11-21", "B": "2026-11-22"}


# -- personnummer: ASCII digits only ------------------------------------------------------------

@pytest.mark.parametrize("digits", ["١٩١٢١٢١٢-١٢١٢", "１９１２１２１２-１２１２", "19121212-١٢١٢", "۱۹۱۲۱۲۱۲-۱۲۱۲"])
def test_a_personnummer_in_other_digits_is_refused_saying_why(tmp_path, digits):
    lines = [{"at": at("08:01"), "cmd": "sort", "pile": "dodsbo"}, *scan_through({"dodsbo": ["7350001000011"]}, "09:00"),
             {"at": at("09:10"), "cmd": "dodsbo_label", "personnummer": digits}]
    doc = simulate(tmp_path, lines, cli=True)
    [error] = doc["errors"]
    assert error["code"] == "invalid_personnummer" and "vanliga siffror 0–9" in error["message"]
    assert "Kontrollsiffran" not in error["message"]
    assert "dodsbo_label_printed" not in journal_types(tmp_path)


# -- no personnummer in free text ---------------------------------------------------------------

WRITTEN = ["194512241003", "19451224 - 1003", "45-12-24-1003", "4512241003", "451224-1003", "19451224-1004",
           "45.12.24.1003", "1945/12/24/1003", "tel 070-123 45 67", "Brev om 451224 1003 dödsbo", "٤٥١٢٢٤١٠٠٣"]
ALLOWED = ["Elpriskompensation 2026", "Brev daterat 2026-12-07", "Från 2026-12-01 till 2026-12-31",
           "Kundnummer 12345678", "Avgift 1 250 kr", "+46 70 123 45 67", "Faktura 7350003000015"]


@pytest.mark.parametrize("text", WRITTEN)
def test_a_personnummer_in_about_is_refused_through_simulate_and_reaches_no_journal(tmp_path, text):
    lines = [{"at": at("08:01"), "cmd": "incoming", "kind": "ovrigt", "segment": "privat", "about": text},
             {"at": at("08:02"), "cmd": "temporary", "about": text}]
    doc = simulate(tmp_path, lines, cli=text == WRITTEN[1])
    assert [e["code"] for e in doc["errors"]] == ["personnummer_in_text"] * 2
    assert "personnummer" in doc["errors"][0]["message"] and "10 eller 12 siffror" in doc["errors"][0]["message"]
    db = sqlite3.connect(tmp_path / "j.db")
    payloads = [r[0] for r in db.execute("select payload from events")]
    db.close()
    assert [json.loads(p)["type"] for p in payloads] == ["signed_in"]


@pytest.mark.parametrize("text", ALLOWED)
def test_text_that_is_not_a_personnummer_is_kept(text):
    assert not limits.has_personnummer(text)
    day = PureDay()
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 8))
    assert day.run({"cmd": "temporary", "about": text}, local(*MON, 8, 1)).ok


SEPARATORS = [" ", "-", ".", "/", " - ", "+", "\u2013", "\u00a0"]


@st.composite
def written_personnummer(draw):
    """10 or 12 digits, any or no check digit, split into groups by any mix of separators."""
    n = draw(st.sampled_from([10, 12]))
    digits = draw(st.text(alphabet="0123456789", min_size=n, max_size=n))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=4)))
    parts = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, n])]
    out = parts[0]
    for part in parts[1:]:
        out += draw(st.sampled_from(SEPARATORS)) + part
    before = draw(st.sampled_from(["", "Brev om ", "Kund: ", "("]))
    after = draw(st.sampled_from(["", " dödsbo", ")", ", se CAB"]))
    return before + out + after


def _free_text_commands(text: str) -> list[dict]:
    return [{"cmd": "incoming", "kind": "ovrigt", "segment": "privat", "about": text},
            {"cmd": "incoming", "kind": "fullmakt_med_brev", "segment": "foretag", "about": text},
            {"cmd": "incoming", "kind": "bestridan", "segment": "privat", "about": text},  # optional there
            {"cmd": "temporary", "about": text},
            {"cmd": "sort", "pile": "tillfalliga", "about": text},
            {"cmd": "late", "pile": "tillfalliga", "about": text},
            {"cmd": "login", "operator": text[:limits.SIGNATURE_MAX]}]


@settings(max_examples=150, deadline=None)
@given(written_personnummer())
def test_every_free_text_field_refuses_a_personnummer_however_written(text):
    day = PureDay(Context())
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 8))
    for cmd in _free_text_commands(text):
        d = routine.decide(day.state, cmd, local(*MON, 8, 1), day.ctx)
        assert d.status == routine.ERROR and d.code == "personnummer_in_text" and not d.events, (cmd, d)


@settings(max_examples=150, deadline=None)
@given(written_personnummer())
def test_the_event_schema_refuses_a_personnummer_in_every_free_text_field(text):
    text = limits.clean_text(text)[:limits.FREE_TEXT_MAX]  # as the rules store it (NBSP folded)
    cab = {"type": "DOKIN", "subject": "Scannat brev", "status": "Upprättat", "group": "KS Privat", "action": "Skapa."}
    cases = [("incoming_registered", {"kind": "ovrigt", "cab": cab, "about": text}),
             ("temporary_counted", {"about": text}),
             ("alert_raised", {"kind": "tillfalliga", "text": text}),
             ("remark_logged", {"code": "vagrad", "note": text}),
             ("remark_logged", {"code": "vagrad", "checklist": ["ok", text]}),
             ("signed_in", {"operator": text[:limits.SIGNATURE_MAX].strip() or "x"})]
    cases += [("incoming_registered", {"kind": "ovrigt", "cab": {**cab, key: text}}) for key in
              ("subject", "status", "group", "action")]
    for kind, data in cases:
        if kind == "signed_in" and not limits.has_personnummer(data["operator"]):
            continue  # cut at the signature's length
        with pytest.raises(schema.Invalid) as exc:
            schema.check_data(kind, data)
        assert "personnummer" in str(exc.value), (kind, data)
    doc = {"v": 1, "id": "00000000-0000-4000-8000-000000000000", "journal": "00000000-0000-4000-8000-000000000000",
           "kiosk": "k", "site": "s", "seq": 1, "ts": "2026-11-23T08:00:00Z", "day": "2026-11-23",
           "operator": text[:limits.SIGNATURE_MAX].strip(), "type": "day_closed", "data": {}}
    if limits.has_personnummer(doc["operator"]):
        with pytest.raises(schema.Invalid):
            schema.check_event(doc)
    assert "personnummer" in schema.refusal_sv(schema.Invalid(f"data.about: {schema.PERSONNUMMER_REASON}", "data.about"))


@settings(max_examples=200, deadline=None)
@given(st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)), st.sampled_from(["", "Brev ", "Utskick "]),
       st.integers(0, 999_999_999))
def test_dates_and_numbers_of_other_lengths_pass(date, before, number):
    text = f"{before}{date.isoformat()}"
    assert not limits.has_personnummer(text)
    assert schema.check_data("temporary_counted", {"about": text}) is None
    short = str(number)  # at most 9 digits
    assert not limits.has_personnummer(f"Ärende {short} och {date.isoformat()}")


# -- the rules' own sentences about the TL ------------------------------------------------------

def test_the_rules_never_say_the_tl_was_told():
    day = PureDay()
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 8))
    day.run({"cmd": "sort", "pile": "faktura"}, local(*MON, 8))
    said = [day.run({"cmd": "incoming", "kind": "bestridan", "segment": "privat"}, local(*MON, 9)).message,
            day.run({"cmd": "temporary", "about": "Priskompensation"}, local(*MON, 9)).message,
            day.run({"cmd": "temporary", "about": "Priskompensation"}, local(*MON, 9)).message,
            day.run({"cmd": "undo", "what": "incoming"}, local(*MON, 9)).message,
            day.run({"cmd": "sort", "pile": "ovriga_brev"}, local(*MON, 14, 5)).message]  # the deadline tick
    assert "Larmet skickas till TL." in said[0]
    assert "Frågan om hur utskicket ska hanteras skickas till TL." in said[1]
    assert "redan registrerad för TL" in said[2]
    assert "Återkallelsen skickas till TL." in said[3]
    assert "Larmet skickas till TL." in said[4]
    for text in said:
        assert "TL har larmats" not in text and "TL har fått" not in text


# -- properties: the verdict never moves once the deadline has passed ----------------------------

stream = st.one_of(
    st.builds(lambda p: {"cmd": "sort", "pile": p}, st.sampled_from([p for p in PILES if p not in ("leta_kund",)])),
    st.just({"cmd": "scan_phase"}),
    st.builds(lambda c: {"cmd": "next_pile", "confirm": c}, st.booleans()),
    st.builds(lambda c: {"cmd": "scan", "code": c}, st.sampled_from(["11110001", "11110002", "11110003"])),
    st.builds(lambda p, c: {"cmd": "late", "pile": p, "code": c}, st.sampled_from(SCAN_ORDER),
              st.sampled_from(["11110004", "11110005"])),
    st.sampled_from([{"cmd": "undo"}, {"cmd": "undo", "what": "sort"}, {"cmd": "undo", "what": "next_pile"},
                     {"cmd": "undo", "what": "scan"}]),
    st.builds(lambda c: {"cmd": "close_day", "confirm": c}, st.booleans()),
    st.just({"cmd": "reopen_day"}),
    st.just({"cmd": "tick"}),
)


@settings(max_examples=250, deadline=None)
@given(st.lists(st.tuples(stream, st.integers(0, 1200)), max_size=45))
def test_after_the_deadline_a_verdict_stands_and_no_barcoded_mail_means_null(steps):
    ctx = Context(operators=("ANNA",), deadline=dt.time(14, 0))
    day = PureDay(ctx)
    day.run({"cmd": "login", "operator": "ANNA"}, local(*MON, 13))
    deadline = local(*MON, 14)
    now = local(*MON, 13, 20)
    verdict = None
    for cmd, gap in steps:
        now += dt.timedelta(seconds=gap)
        cmd = {**cmd, "about": "Priskompensation"} if cmd.get("pile") == "tillfalliga" else cmd
        day.run(cmd, now)
        met = day.state.deadline_met
        if now >= deadline and verdict is not None:
            assert met is verdict, (cmd, met, verdict)
        if now >= deadline and met is not None:
            verdict = met
        if not day.state.has_barcoded_mail() and not routine.summary(day.state)["alerts"]:
            assert met is None
    assert len([a for a in routine.summary(day.state)["alerts"] if a["kind"] == "deadline_missed"]) <= 1
