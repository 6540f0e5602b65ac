"""The kiosk tells the truth about alerts and prints: the routine's print and delivery records,
and the pure sentences the screens, the summary and the status bar show (kiosk/core/truth.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.core import routine, schema, truth
from kiosk.core.clock import utc_iso

from .conftest import local
from .routine_harness import PureDay

MON = (2026, 11, 23)
FIVE = dt.timedelta(minutes=5)


def at(hh, mm=0, ss=0):
    return local(*MON, hh, mm, ss)


def day_with_scanned_dodsbo(n: int, sekretess: int = 0, printer: bool | None = True) -> PureDay:
    day = PureDay()
    day.printer_takes = printer
    day.run({"cmd": "login", "operator": "ANNA"}, at(8))
    for pile in ["dodsbo"] * n + ["sekretess"] * sekretess:
        day.run({"cmd": "sort", "pile": pile}, at(8, 1))
    day.run({"cmd": "scan_phase"}, at(8, 2))
    codes = (f"7350{i:06d}" for i in itertools.count(1))
    while day.state.current_pile:
        pile = day.state.current_pile
        for _ in range(day.state.counts[pile]):
            day.run({"cmd": "scan", "code": next(codes)}, at(8, 3))
        day.run({"cmd": "next_pile"}, at(8, 4))
    return day


def label(day, hh=9, **kw):
    return day.run({"cmd": "dodsbo_label", "personnummer": "19121212-1212", **kw}, at(hh))


def kinds(day):
    return [w["kind"] for w in day.summary()["warnings"]]


# -- prints count when the printer took them ----------------------------------------------------
def test_labels_that_failed_to_print_are_not_counted_and_are_warnings():
    day = day_with_scanned_dodsbo(3, printer=False)
    for _ in range(3):
        assert label(day).ok
    s = day.summary()
    assert s["labels_printed"] == 0 and [p["state"] for p in s["print_jobs"]] == ["failed"] * 3
    assert "print_failed" in kinds(day) and "labels_missing" in kinds(day)
    assert "3 dödsbo-etiketter skrevs inte ut." in [w["text"] for w in s["warnings"]]
    # a new label for a failed one is not an "extra" label: no confirm asked
    day.printer_takes = True
    d = label(day, 10)
    assert d.ok and d.data["reprint"] is False and day.summary()["labels_printed"] == 1


def test_a_queued_label_is_neither_printed_nor_free_to_print_again():
    day = day_with_scanned_dodsbo(1, printer=None)
    d = label(day)
    assert d.effects.prints[0].job == "dodsbo_label-1" and d.data["job"] == "dodsbo_label-1"
    assert day.summary()["labels_printed"] == 0 and "print_queued" in kinds(day)
    assert label(day).code == "confirm_needed"  # it is on its way: another would be an extra
    day.run({"cmd": "print_outcome", "job": "dodsbo_label-1", "ok": True}, at(9, 1))
    assert day.summary()["labels_printed"] == 1 and kinds(day) == []


def test_a_failed_then_retried_job_counts_once_and_outcomes_are_recorded_once():
    day = day_with_scanned_dodsbo(0, sekretess=2, printer=None)
    day.run({"cmd": "cover_slip"}, at(9))
    fail = {"cmd": "print_outcome", "job": "cover_slip-1", "ok": False, "reason": "offline"}
    assert [e[0] for e in day.run(fail, at(9, 1)).events] == ["print_failed"]
    assert day.run(fail, at(9, 2)).events == ()  # same state again: nothing new
    assert day.summary()["cover_slips_printed"] == 0 and "cover_slip_missing" in kinds(day)
    ok = {"cmd": "print_outcome", "job": "cover_slip-1", "ok": True}
    assert [e[0] for e in day.run(ok, at(9, 3)).events] == ["print_done"]
    assert day.run(ok, at(9, 4)).events == () and day.run(fail, at(9, 5)).events == ()  # printed is final
    s = day.summary()
    assert s["cover_slips_printed"] == 1 and s["warnings"] == []
    assert day.run({"cmd": "print_outcome", "job": "cover_slip-9", "ok": True}, at(9, 6)).events == ()


def test_close_day_lists_unprinted_prints_and_unconfirmed_alerts():
    day = day_with_scanned_dodsbo(1, printer=None)
    label(day)
    day.run({"cmd": "incoming", "kind": "bestridan", "segment": "privat"}, at(9, 30))
    ask = day.run({"cmd": "close_day"}, at(10))
    assert ask.code == "confirm_needed"
    assert {w["kind"] for w in ask.data["unfinished"]} >= {"print_queued", "labels_missing", "alert_unconfirmed"}
    assert "Ingen bekräftelse på att TL fått larmet om bestridan." in ask.message


def test_a_delivered_alert_is_recorded_once_and_is_no_warning():
    day = day_with_scanned_dodsbo(0)
    day.run({"cmd": "incoming", "kind": "bestridan", "segment": "privat"}, at(9))
    alert_id = day.state.alerts[0]["id"]
    assert kinds(day) == ["alert_unconfirmed"]
    d = day.run({"cmd": "alert_delivered", "alert": alert_id, "at": "2026-11-23T08:01:00Z"}, at(9, 2))
    assert [e[0] for e in d.events] == ["alert_delivered"]
    assert day.run({"cmd": "alert_delivered", "alert": alert_id, "at": "2026-11-23T08:01:00Z"}, at(9, 3)).events == ()
    assert day.run({"cmd": "alert_delivered", "alert": "nope", "at": "2026-11-23T08:01:00Z"}, at(9, 3)).events == ()
    assert day.run({"cmd": "alert_delivered", "alert": alert_id, "at": "kl 9"}, at(9, 3)).status == routine.ERROR
    s = day.summary()
    assert s["warnings"] == [] and s["alerts"][0]["delivered_at"] == "2026-11-23T08:01:00.000Z"


def test_reports_need_no_sign_in_and_reach_a_closed_day():
    day = day_with_scanned_dodsbo(1, printer=None)
    label(day)
    day.run({"cmd": "close_day", "confirm": True}, at(10))
    day.run({"cmd": "logout"}, at(10, 1))
    d = day.run({"cmd": "print_outcome", "job": "dodsbo_label-1", "ok": True}, at(10, 2))
    assert [e[0] for e in d.events] == ["print_done"] and day.summary()["labels_printed"] == 1


def test_the_new_events_pass_the_one_schema_and_carry_no_personnummer():
    day = day_with_scanned_dodsbo(1, sekretess=1, printer=False)
    label(day)
    day.run({"cmd": "cover_slip"}, at(9, 1))
    day.printer_takes = True
    label(day, 10)
    day.run({"cmd": "incoming", "kind": "bestridan", "segment": "privat"}, at(10, 5))
    day.run({"cmd": "alert_delivered", "alert": day.state.alerts[0]["id"], "at": utc_iso(at(10, 6))}, at(10, 6))
    types = [e["type"] for e in day.events]
    assert {"print_done", "print_failed", "alert_delivered"} <= set(types)
    for e in day.events:
        if e["type"] in ("print_done", "print_failed", "alert_delivered", "dodsbo_label_printed", "cover_slip_printed"):
            data = dict(e["data"])
            if e["type"] == "alert_delivered":
                data["alert"] = "0b0e3a52-5d8b-4c3e-8a0e-3f3a3a3a3a3a"  # the harness's ids are not uuids
            schema.check_data(e["type"], data)
            assert "1212" not in json.dumps(data)
    with pytest.raises(schema.Invalid):
        schema.check_data("print_failed", {"job": "dodsbo_label-1", "kind": "dodsbo_label", "reason": "19121212-1212"})
    with pytest.raises(schema.Invalid):
        schema.check_data("print_done", {"job": "191212121212", "kind": "dodsbo_label"})


def test_a_journal_from_before_print_outcomes_counts_its_prints_as_printed():
    old = [{"type": "dodsbo_label_printed", "data": {"samordningsnummer": False}, "ts": "2026-11-23T08:00:00.000Z",
            "day": "2026-11-23", "id": "e1"},
           {"type": "cover_slip_printed", "data": {"count": 2}, "ts": "2026-11-23T08:01:00.000Z",
            "day": "2026-11-23", "id": "e2"}]
    s = routine.summary(routine.replay(old))
    assert s["labels_printed"] == 1 and s["cover_slips_printed"] == 1 and s["warnings"] == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["label", "slip", "ok", "fail"]), st.integers(1, 4)), max_size=14))
def test_counts_are_what_printed_whatever_the_order_of_outcomes(steps):
    day = day_with_scanned_dodsbo(2, sekretess=2, printer=None)
    fates: dict[str, str] = {}
    minute = itertools.count(1)
    for what, n in steps:
        now = at(9, next(minute) % 60, 0) + dt.timedelta(hours=next(minute) // 60)
        if what in ("label", "slip"):
            cmd = {"cmd": "dodsbo_label", "personnummer": "19121212-1212", "confirm": True} if what == "label" \
                else {"cmd": "cover_slip"}
            d = day.run(cmd, now)
            if d.ok:
                fates[d.data["job"]] = "queued"
        else:
            kind = "dodsbo_label" if n % 2 else "cover_slip"
            job = f"{kind}-{n}"
            day.run({"cmd": "print_outcome", "job": job, "ok": what == "ok", "reason": "offline"}, now)
            if job in fates and fates[job] != "printed":
                fates[job] = "printed" if what == "ok" else "failed"
    s = day.summary()
    assert {p["job"]: p["state"] for p in s["print_jobs"]} == fates
    printed = [p for p in day.state.prints if p["state"] == "printed"]
    assert s["labels_printed"] + s["label_reprints"] == sum(p["kind"] == "dodsbo_label" for p in printed)
    assert s["cover_slips_printed"] == sum(p["kind"] == "cover_slip" for p in printed)
    unprinted = sum(w["jobs"] for w in s["warnings"] if w["kind"] in ("print_queued", "print_failed"))
    assert unprinted == sum(1 for f in fates.values() if f != "printed")
    assert routine.summary(routine.replay(day.events)) == s  # rebuilt after a restart: the same


# -- is central reachable ---------------------------------------------------------------------------
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


def iso(seconds_ago: float) -> str:
    return utc_iso(NOW - dt.timedelta(seconds=seconds_ago))


@pytest.mark.parametrize("sync, reachable, why", [
    (None, False, "synk är avstängd"),
    ({"enabled": False, "online": False, "pending": 3}, False, "synk är avstängd"),
    ({"online": False, "pending": 0}, False, "ingen kontakt med centralen"),
    ({"online": True, "pending": 0, "connected_at": iso(3600)}, True, ""),
    ({"online": True, "pending": 2, "connected_at": iso(5)}, True, ""),  # just connected: give central time
    ({"online": True, "pending": 2, "connected_at": iso(600), "last_confirmed_at": iso(10)}, True, ""),
    ({"online": True, "pending": 2, "connected_at": iso(600), "last_confirmed_at": iso(31)}, False, "centralen svarar inte"),
    ({"online": True, "pending": 2, "connected_at": iso(31)}, False, "centralen svarar inte"),
    ({"online": True, "pending": 2}, False, "centralen svarar inte"),
])
def test_central_is_reachable_only_with_a_session_and_acks_that_move(sync, reachable, why):
    link = truth.central_link(sync, NOW, 30)
    assert (link.reachable, link.why) == (reachable, why)


# -- what an alert says, every state -----------------------------------------------------------------
def alert(kind="bestridan", ago_s=60, cancelled=False, cancelled_ago=None, delivered=None):
    return {"kind": kind, "id": "a1", "at": iso(ago_s), "cancelled": cancelled,
            "cancelled_at": iso(cancelled_ago) if cancelled_ago is not None else None, "delivered_at": delivered}


def inbox(state=None, at_="2026-11-23T08:58:00Z", ack=None, withdrawn=None):
    entry = {"id": "a1", "kind": "bestridan", "notified": {"state": state, "at": at_} if state else None,
             "acknowledged": ack, "answer": None}
    if withdrawn:  # central's notices that the alert is withdrawn
        entry["withdrawn"] = {"state": withdrawn, "at": "2026-11-23T08:59:30Z"}
    return {"v": 1, "day": "2026-11-23", "alerts": [entry]}


UP, DOWN = truth.REACHABLE, truth.NO_BROKER


@pytest.mark.parametrize("a, doc, link, text, severity", [
    (alert(), None, UP, "Larmet skickas till TL …", "warning"),
    (alert(), inbox(), UP, "Larmet skickas till TL …", "warning"),
    (alert(), inbox("pending"), UP, "Larmet skickas till TL …", "warning"),
    (alert(), None, DOWN, "Larmet har inte nått TL (ingen kontakt med centralen) – säg till TL direkt", "error"),
    (alert(), inbox("pending"), truth.CENTRAL_SILENT, "Larmet har inte nått TL (centralen svarar inte) – säg till TL direkt", "error"),
    (alert(ago_s=300), inbox("pending"), UP, "Ingen bekräftelse på att TL fått larmet efter 5 min – säg till TL direkt", "error"),
    (alert(ago_s=299), inbox("pending"), UP, "Larmet skickas till TL …", "warning"),
    (alert(), inbox("failed"), UP, "Larmet kunde inte skickas till TL – säg till TL direkt", "error"),
    (alert(), inbox("delivered"), UP, "TL har fått larmet 09:58", "ok"),
    (alert(), inbox("delivered"), DOWN, "TL har fått larmet 09:58", "ok"),  # confirmed before the link went
    (alert(ago_s=3600, delivered="2026-11-23T08:10:00.000Z"), None, DOWN, "TL har fått larmet 09:10", "ok"),
    (alert(), inbox("failed", ack={"by": "TL-Eva", "at": "2026-11-23T08:59:00Z"}), UP,
     "TL har fått larmet och kvitterat (TL-Eva 09:59)", "ok"),
    (alert("tillfalliga"), None, UP, "Frågan skickas till TL …", "warning"),
    (alert("tillfalliga"), inbox("delivered"), UP, "TL har fått frågan 09:58", "ok"),
    (alert("tillfalliga"), None, DOWN, "Frågan har inte nått TL (ingen kontakt med centralen) – säg till TL direkt", "error"),
    (alert("deadline_missed", ago_s=600), None, UP, "Ingen bekräftelse på att TL fått larmet efter 5 min – säg till TL direkt", "error"),
    # withdrawn
    (alert(cancelled=True, cancelled_ago=10), None, UP, "Återkallandet av larmet skickas till TL …", "warning"),
    (alert(cancelled=True, cancelled_ago=10), None, DOWN,
     "Återkallandet har inte nått centralen (ingen kontakt med centralen) – säg till TL direkt att larmet är återkallat", "error"),
    (alert(cancelled=True, cancelled_ago=300), None, UP,
     "Ingen bekräftelse på återkallandet efter 5 min – säg till TL direkt att larmet är återkallat", "error"),
    # ... after a TL was told: central sends a notice that it is withdrawn
    (alert("tillfalliga", cancelled=True, delivered="2026-11-23T08:10:00.000Z"), None, UP,
     "Återkallandet av frågan skickas till TL …", "warning"),
    (alert(cancelled=True, cancelled_ago=10), inbox("delivered"), UP, "Återkallandet av larmet skickas till TL …", "warning"),
    (alert(cancelled=True, cancelled_ago=10), inbox("delivered", withdrawn="pending"), UP,
     "Återkallandet av larmet skickas till TL …", "warning"),
    (alert(cancelled=True, cancelled_ago=10), inbox("delivered", withdrawn="delivered"), UP,
     "Återkallelsen har nått TL 09:59: larmet är återkallat", "ok"),
    (alert(cancelled=True, cancelled_ago=10), inbox("delivered", withdrawn="delivered"), DOWN,
     "Återkallelsen har nått TL 09:59: larmet är återkallat", "ok"),  # confirmed before the link went
    (alert(cancelled=True, cancelled_ago=10), inbox("delivered", withdrawn="failed"), UP,
     "TL fick larmet 09:58 – säg till TL att larmet är återkallat", "error"),
    (alert(cancelled=True, cancelled_ago=10), inbox("delivered", withdrawn="pending"), DOWN,
     "TL fick larmet 09:58 – säg till TL att larmet är återkallat", "error"),
    (alert(cancelled=True, cancelled_ago=300), inbox("delivered", withdrawn="pending"), UP,
     "TL fick larmet 09:58 – säg till TL att larmet är återkallat", "error"),
    (alert(cancelled=True, cancelled_ago=300), inbox(withdrawn="pending"), UP,  # the first may have gone out
     "Ingen bekräftelse på återkallandet efter 5 min – säg till TL direkt att larmet är återkallat", "error"),
])
def test_every_alert_state_says_what_is_so(a, doc, link, text, severity):
    s = truth.alert_state(a, doc, NOW, link, FIVE)
    assert truth.alert_text(s) == (text, severity)
    assert "TL har larmats" not in text and truth.alert_short(s)[1] == severity
    assert truth.needs_telling(s) == (severity == "error")


def test_a_withdrawal_central_stored_is_no_longer_sent():
    s = truth.alert_state(alert(cancelled=True, cancelled_ago=600), None, NOW, DOWN, FIVE, withdrawal_stored=True)
    assert truth.alert_text(s) == ("Larmet är återkallat: centralen har tagit emot återkallandet", "ok")


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["bestridan", "tillfalliga", "deadline_missed"]),
       state=st.sampled_from([None, "pending", "delivered", "failed"]), acked=st.booleans(),
       ago=st.integers(0, 7200), link=st.sampled_from([truth.REACHABLE, truth.NO_BROKER, truth.SYNC_OFF, truth.CENTRAL_SILENT]),
       cancelled=st.booleans(), recorded=st.booleans(), stored=st.booleans(), minutes=st.integers(1, 120),
       withdrawn=st.sampled_from([None, "pending", "delivered", "failed"]))
def test_received_is_said_only_when_central_confirmed(kind, state, acked, ago, link, cancelled, recorded, stored, minutes,
                                                      withdrawn):
    """"TL har fått" only with a delivery or acknowledgement from central; "skickas" only while
    central is reachable and the confirm window is open; otherwise the operator is told to act.
    A withdrawal "har nått TL" only when central reports its notice delivered."""
    ack = {"by": "TL", "at": "2026-11-23T08:58:00Z"} if acked else None
    doc = inbox(state, ack=ack, withdrawn=withdrawn if cancelled else None)
    doc["alerts"][0]["kind"] = kind
    a = alert(kind, ago_s=ago, cancelled=cancelled, cancelled_ago=ago if cancelled else None,
              delivered="2026-11-23T08:50:00.000Z" if recorded else None)
    confirm = dt.timedelta(minutes=minutes)
    s = truth.alert_state(a, doc, NOW, link, confirm, withdrawal_stored=stored)
    text, severity = truth.alert_text(s)
    confirmed = state == "delivered" or acked or recorded
    open_window = link.reachable and ago < confirm.total_seconds()
    told = cancelled and withdrawn == "delivered"
    assert ("Återkallelsen har nått TL" in text) == told
    assert "TL har fått" not in text or (confirmed and not cancelled)
    assert "TL fick" not in text or (confirmed and cancelled)
    if text.endswith("skickas till TL …"):
        assert open_window and severity == "warning" and (cancelled or not confirmed)
    if cancelled and not told and (confirmed or withdrawn):  # a TL may know of it: tell the TL until central confirms
        assert (severity == "error") == (not open_window or withdrawn == "failed")
    elif not confirmed and not (cancelled and stored) and not told:
        assert ("säg till TL direkt" in text) == (not open_window or (state == "failed" and not cancelled))


def test_the_routine_sentences_about_the_alert_are_replaced_on_screen():
    msg = "Registrera ärendet i CAB. TL har larmats om bestridan. Lägg brevet i facket."
    assert truth.without_claims(msg) == "Registrera ärendet i CAB. Lägg brevet i facket."
    assert truth.without_claims("Registrerat. Larmet skickas till TL.") == "Registrerat."
    said = 'Registrerat: 2 brev "Elpris" i dag. TL har redan fått frågan om utskicket.'
    assert truth.without_claims(said) == 'Registrerat: 2 brev "Elpris" i dag.'
    for claim in truth.ROUTINE_CLAIMS:  # whatever the routine says about the alert, it is replaced
        assert truth.without_claims(f"Gjort. {claim}") == "Gjort."


# -- prints on screen ---------------------------------------------------------------------------------
@pytest.mark.parametrize("printer, text, severity", [
    ({"ok": True, "pending": 0}, "OK", "ok"),
    ({"ok": True, "pending": 2}, "2 i kö", "warning"),
    ({"ok": False, "pending": 0}, "fel", "error"),
    ({"ok": False, "pending": 3}, "fel (3 väntar)", "error"),
])
def test_the_printer_is_green_only_when_ready_with_nothing_waiting(printer, text, severity):
    assert truth.printer_status(printer) == (text, severity)


def test_unprinted_note_counts_each_state():
    jobs = [{"kind": "dodsbo_label", "state": s} for s in ("printed", "queued", "failed", "failed")]
    assert truth.unprinted_note(jobs, "dodsbo_label") == " (1 väntar på skrivaren · 2 skrevs inte ut)"
    assert truth.unprinted_note(jobs[:2], "dodsbo_label") == " (1 väntar på skrivaren)"
    assert truth.unprinted_note(jobs[:1], "dodsbo_label") == ""
    assert truth.print_counts(jobs, "cover_slip") == {"printed": 0, "queued": 0, "failed": 0}


# -- the printed day summary ------------------------------------------------------------------------
def test_the_printed_summary_says_what_printed_and_which_alerts_were_confirmed():
    from kiosk.core import printouts

    day = day_with_scanned_dodsbo(2, printer=False)
    label(day)
    day.printer_takes = None
    label(day, 10)
    day.run({"cmd": "incoming", "kind": "bestridan", "segment": "privat"}, at(10, 5))
    day.run({"cmd": "temporary", "about": "Elpriskompensation"}, at(10, 6))
    day.run({"cmd": "alert_delivered", "alert": day.state.alerts[0]["id"], "at": "2026-11-23T09:07:00Z"}, at(10, 7))
    lines = printouts.day_summary(day.summary(), "s", "k").text_lines()
    text = "\n".join(lines)
    assert "- Bestridan 10:05: TL har fått larmet 10:07" in lines
    assert "- Tillfälligt utskick 10:06: ingen bekräftelse att TL fått frågan" in lines
    assert "Etiketter som väntar på skrivaren" in text and "Etiketter som inte skrevs ut" in text
    assert "- 1 dödsbo-etikett skrevs inte ut." in lines and "Varningar: inga" not in text


# -- the kiosk's shell: outcomes from the printer, prints lost in a restart ----------------------------
@contextlib.contextmanager
def running_kiosk(cfg):
    """The kiosk's shell (runtime.Kiosk) with its simulated devices, stopped on leaving."""
    from kiosk.shelf.runtime import Kiosk

    k = Kiosk(cfg, simulator=True, sync=False)
    try:
        yield k
    finally:
        k.stop()


def scanning(k, cfg, pile: str):
    """Signed in, `pile` sorted once, scanning begun; the controller."""
    c = k.controller
    c.handle({"cmd": "login", "operator": cfg.operators[0].signature})
    c.handle({"cmd": "sort", "pile": pile})
    c.handle({"cmd": "scan_phase"})
    return c


def test_the_shell_records_the_printers_answers_and_labels_lost_in_a_restart(tmp_path):
    from kiosk_dev.screenshots import demo_config

    cfg = demo_config(tmp_path)
    with running_kiosk(cfg) as k:
        c = scanning(k, cfg, "dodsbo")
        c.handle({"cmd": "scan", "code": "7350001000011"})
        while c.state.current_pile:
            if c.handle({"cmd": "next_pile"}).code == "confirm_needed":
                c.handle({"cmd": "next_pile", "confirm": True})
        k.devices.printer.transport.online = False
        c.handle({"cmd": "dodsbo_label", "personnummer": "19121212-1212"})  # devices not started: printed here
        assert [p["state"] for p in c.state.prints] == ["failed"] and c.state.prints[0]["reason"] == "offline"
        k.devices.printer.transport.online = True
        k.devices.printer.retry()  # kept in memory: prints now
        assert [p["state"] for p in c.state.prints] == ["printed"] and c.state.labels_printed == 1
        c.listeners.remove(k.devices.apply)  # the next label is asked for, then the power goes
        c.handle({"cmd": "dodsbo_label", "personnummer": "19121212-1212", "confirm": True})
        assert c.state.prints[-1]["state"] == "queued"
    with running_kiosk(cfg) as again:
        again.lost_prints()  # what `start` does first: the label lived in memory, it is gone
        assert [(p["state"], p["reason"]) for p in again.controller.state.prints] == [("printed", None), ("failed", "lost")]
        types = [e["type"] for e in again.journal.events()]
        assert types.count("print_done") == 1 and types.count("print_failed") == 2
        assert "1212-1212" not in json.dumps(list(again.journal.events()))


def test_a_slip_the_printer_took_before_the_power_went_is_printed_after_the_restart(tmp_path):
    from kiosk_dev.screenshots import demo_config

    cfg = demo_config(tmp_path)
    with running_kiosk(cfg) as k:
        c = scanning(k, cfg, "sekretess")
        c.handle({"cmd": "next_pile", "confirm": True})  # dödsbo: none
        c.handle({"cmd": "scan", "code": "7350002000017"})
        c.handle({"cmd": "next_pile"})
        k.devices.printer.outcome_listeners.remove(k.record_print)  # the journal never hears of it
        assert c.handle({"cmd": "cover_slip"}).ok
        assert [p["state"] for p in c.state.prints] == ["queued"]
        assert k.devices.printer.printed_refs() == {"cover_slip-1"}
    with running_kiosk(cfg) as again:
        again.lost_prints()
        assert [p["state"] for p in again.controller.state.prints] == ["printed"]
        assert again.controller.state.cover_slips_printed == 1
