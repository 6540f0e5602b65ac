"""The one event schema (kiosk/core/schema.py), enforced on both sides: whatever the controller commits
passes central's validation (kiosk/wire/validate.py), and garbage is refused by both with a reason.

Driven through the public surface: controller.handle on a real journal file, the events as the
journal stored them (the payload bytes the publisher sends), central's parse_json/check_event."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core import limits, routine, schema
from kiosk.core.clock import TZ, FixedClock
from kiosk.core.config import parse
from kiosk.shelf.controller import Controller
from kiosk.core.domain import INCOMING_KINDS, LETA_KUND_TYPES, PILES, REMARK_CODES, SEGMENTS
from kiosk.wire.journal import Journal
from kiosk.wire.validate import Invalid, check_event, parse_json

from .command_stream import handle_signed_in, stream

SITE, KIOSK = "demo", "kiosk-1"
T0 = dt.datetime(2026, 11, 23, 7, 30, tzinfo=TZ)


def controller(tmp_path) -> tuple[Controller, Journal]:
    cfg = parse(f'[kiosk]\nsite = "{SITE}"\nid = "{KIOSK}"\ndata_dir = "{tmp_path}"\n')
    journal = Journal(tmp_path / f"j-{uuid.uuid4().hex[:8]}.db", SITE, KIOSK)
    ctl = Controller(cfg, journal, FixedClock(T0))
    ctl.ctx = dataclasses.replace(ctl.ctx, operators=("ANNA", "BERT", "Åsa"))
    return ctl, journal


def stored(journal: Journal) -> list[bytes]:
    """The events exactly as the publisher sends them: the journal's payload column."""
    return [p.encode("utf-8") for (p,) in journal.db.execute("select payload from events order by seq")]


def central_accepts(payload: bytes) -> dict:
    return check_event(parse_json(payload), SITE, KIOSK)


# -- the schema covers the routine ---------------------------------------------------------------
def test_every_event_type_of_the_routine_has_a_schema():
    """Fails when the rules add an event type and the schema lacks its entry (one line in
    schema.EVENT_DATA)."""
    missing = routine.EVENT_TYPES - set(schema.EVENT_DATA)
    assert not missing, f"kiosk/core/schema.py EVENT_DATA lacks: {sorted(missing)}"


def test_an_event_type_the_routine_does_not_fold_is_refused():
    doc = event("day_reopened", {}) if "day_reopened" not in routine.EVENT_TYPES else event("no_such", {})
    with pytest.raises(Invalid, match="unknown event type"):
        check_event(doc, SITE, KIOSK)


any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())


@given(st.text(alphabet=any_char, max_size=40))
def test_schema_characters_are_the_limits_characters(text):
    """The schema's fast check (str.isprintable) refuses exactly what limits.unprintable does."""
    assert (schema.text_problem(text) is None) == (limits.unprintable(text) is None)


# -- whatever the controller commits, central accepts --------------------------------------------
def test_every_committed_event_of_a_long_command_stream_passes_central(tmp_path):
    ctl, journal = controller(tmp_path)
    for at, cmd in stream(seed=9, n=1500):
        result = ctl.handle(cmd, at)
        assert result.code != "invalid_event", (cmd, result.message)  # the schema is no stricter than the rules
    payloads = stored(journal)
    assert len(payloads) > 500
    kinds = set()
    for payload in payloads:
        doc = central_accepts(payload)
        assert doc["journal"] == journal.journal_id
        kinds.add(doc["type"])
    assert {"sorted", "scan_accepted", "scan_rejected", "pile_done", "incoming_registered",
            "alert_raised", "date_checked", "leta_kund_counted", "remark_logged", "day_closed"} <= kinds
    journal.close()


# Commands with arguments from the whole of Unicode, wrong types, overlong values: the routine may
# refuse them, the schema may refuse them; whatever gets committed must pass central.
nasty_text = st.one_of(
    st.text(alphabet=any_char, max_size=12),
    st.text(min_size=limits.FREE_TEXT_MAX - 2, max_size=limits.FREE_TEXT_MAX + 3, alphabet="ab å"),
    st.sampled_from(["brev", "Fullmakt från Åsa", "x\x00y", "a\ud800", "\u202eevil", "ok\n", " ", "Z" * 70_000]),
)
anything = st.one_of(nasty_text, st.integers(-3, 3), st.booleans(), st.none(), st.lists(st.integers(), max_size=2))
signature = st.one_of(st.sampled_from(["ANNA", "BERT", "Åsa", "A" * 64, "A" * 65, "AN\ud800", " ANNA", "AN\x00"]),
                      st.text(alphabet=any_char, min_size=1, max_size=5))

command = st.one_of(
    st.builds(lambda o: {"cmd": "login", "operator": o}, signature),
    st.builds(lambda p: {"cmd": "sort", "pile": p}, st.one_of(st.sampled_from(PILES), anything)),
    st.just({"cmd": "undo"}),
    st.just({"cmd": "scan_phase"}),
    st.builds(lambda c: {"cmd": "scan", "code": c},
              st.one_of(st.integers(0, 400).map(lambda i: f"7350{i:09d}"), nasty_text)),
    st.just({"cmd": "next_pile"}),
    st.builds(lambda p: {"cmd": "dodsbo_label", "personnummer": p},
              st.one_of(st.just("19121212-1212"), st.just("191212121212"), nasty_text)),
    st.just({"cmd": "cover_slip"}),
    st.builds(lambda letter, n: {"cmd": "leta_kund", "letter": letter, "apartments": n},
              st.one_of(st.sampled_from(LETA_KUND_TYPES), anything), st.one_of(st.integers(-1, 3), anything)),
    st.builds(lambda d: {"cmd": "date_check", "kind": "ovriga_brev", "date": d},
              st.one_of(st.integers(-5, 10).map(lambda n: (T0.date() + dt.timedelta(days=n)).isoformat()), anything)),
    st.just({"cmd": "stromavbrott_atgard"}),
    st.builds(lambda k, s, a: {"cmd": "incoming", "kind": k, "segment": s, "about": a},
              st.sampled_from(sorted(INCOMING_KINDS)), st.sampled_from(sorted(SEGMENTS)), nasty_text),
    st.builds(lambda a: {"cmd": "temporary", "about": a}, nasty_text),
    st.builds(lambda c, b: {"cmd": "remark", "code": c, "barcode": b},
              st.sampled_from(sorted(REMARK_CODES)), st.one_of(st.none(), nasty_text)),
    st.just({"cmd": "close_day"}),
    st.just({"cmd": "logout"}),
)
# Commands announced for this round (they answer "unknown command" until the rules add them).
command = command | st.one_of(
    st.builds(lambda w: {"cmd": "undo", "what": w}, st.sampled_from(["sort", "scan", "next_pile", "leta_kund",
                                                                       "date_check", "remark", "temporary", "incoming"])),
    st.builds(lambda i, d: {"cmd": "checklist", "item": i, "done": d},
              st.sampled_from(["envelope_sent", "wms_ticked", "cab_case_created"]), st.booleans()),
    st.just({"cmd": "reopen_day"}), st.just({"cmd": "next_pile", "confirm": True}),
    st.just({"cmd": "close_day", "confirm": True}), st.just({"cmd": "logout", "reason": "idle"}),
    st.builds(lambda p, c: {"cmd": "late", "pile": p, "code": c}, st.sampled_from(PILES),
              st.integers(0, 400).map(lambda i: f"7351{i:09d}")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 3600), command), min_size=1, max_size=40))
def test_whatever_the_controller_commits_central_accepts(tmp_path, steps):
    ctl, journal = controller(tmp_path)
    try:
        at = T0
        before = 0
        for gap, cmd in [(0, {"cmd": "login", "operator": "ANNA"})] + steps:
            at += dt.timedelta(seconds=gap)
            result = ctl.handle(cmd, at)
            after = journal.last_seq
            assert after - before == len(result.events)  # a refusal commits nothing
            if result.code == "invalid_event":
                assert result.status == routine.ERROR and result.message.startswith("Kunde inte spara")
            before = after
        for payload in stored(journal):
            central_accepts(payload)
    finally:
        journal.close()


# Only well-formed commands (the new ones of this round too): the schema must never be what refuses
# them (a refusal here means the rules emit a field or value the schema does not know yet).
codes = st.integers(0, 60).map(lambda i: f"7350{i:09d}")
fine_text = st.text(alphabet="abcåäö ÅÄÖ-.,0123456789", min_size=1, max_size=limits.FREE_TEXT_MAX).filter(str.strip)
valid_command = st.one_of(
    st.builds(lambda o: {"cmd": "login", "operator": o}, st.sampled_from(["ANNA", "BERT", "Åsa"])),
    st.builds(lambda p: {"cmd": "sort", "pile": p}, st.sampled_from(PILES)),
    st.builds(lambda p, letter: {"cmd": "sort", "pile": p, "letter": letter}, st.just("leta_kund"),
              st.sampled_from(LETA_KUND_TYPES)),
    st.just({"cmd": "undo"}),
    st.builds(lambda w: {"cmd": "undo", "what": w}, st.sampled_from(["sort", "scan", "next_pile", "leta_kund",
                                                                       "date_check", "remark", "temporary", "incoming"])),
    st.builds(lambda c: {"cmd": "undo", "what": "scan", "code": c}, codes),
    st.just({"cmd": "scan_phase"}),
    st.builds(lambda c: {"cmd": "scan", "code": c}, codes),
    st.just({"cmd": "next_pile"}), st.just({"cmd": "next_pile", "confirm": True}),
    st.builds(lambda p, c: {"cmd": "dodsbo_label", "personnummer": p, "century": c},
              st.sampled_from(["19121212-1212", "121212-1212", "191212121212"]), st.sampled_from(["19", "20"])),
    st.just({"cmd": "dodsbo_label", "personnummer": "19121212-1212", "confirm": True}),
    st.just({"cmd": "cover_slip"}),
    st.builds(lambda letter, n, m: {"cmd": "leta_kund", "letter": letter, "count": n, "apartments": min(m, n)},
              st.sampled_from(LETA_KUND_TYPES), st.integers(1, 3), st.integers(0, 3)),
    st.builds(lambda n: {"cmd": "date_check", "kind": "ovriga_brev",
                         "date": (T0.date() + dt.timedelta(days=n)).isoformat()}, st.integers(-5, 10)),
    st.just({"cmd": "date_check", "kind": "ovriga_brev"}), st.just({"cmd": "stromavbrott_atgard"}),
    st.builds(lambda k, s, a: {"cmd": "incoming", "kind": k, "segment": s, "about": a},
              st.sampled_from(sorted(INCOMING_KINDS)), st.sampled_from(sorted(SEGMENTS)), fine_text),
    st.builds(lambda a: {"cmd": "temporary", "about": a}, fine_text),
    st.builds(lambda c, b: {"cmd": "remark", "code": c, "barcode": b}, st.sampled_from(sorted(REMARK_CODES)),
              st.one_of(st.none(), codes)),
    st.builds(lambda i, d: {"cmd": "checklist", "item": i, "done": d},
              st.sampled_from(["envelope_sent", "wms_ticked", "cab_case_created"]), st.booleans()),
    st.builds(lambda p, c: {"cmd": "late", "pile": p, "code": c}, st.sampled_from(PILES), codes),
    st.just({"cmd": "close_day"}), st.just({"cmd": "close_day", "confirm": True}), st.just({"cmd": "reopen_day"}),
    st.just({"cmd": "logout"}), st.just({"cmd": "logout", "reason": "idle"}),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 7200), valid_command), min_size=1, max_size=60))
def test_the_schema_refuses_nothing_the_rules_accept(tmp_path, steps):
    ctl, journal = controller(tmp_path)
    try:
        handle_signed_in(ctl, T0, steps)
        for payload in stored(journal):
            central_accepts(payload)
    finally:
        journal.close()


# -- garbage is refused by both sides, with a reason -------------------------------------------------
def event(kind: str, data: dict, **envelope) -> dict:
    doc = {"v": 1, "id": str(uuid.uuid4()), "journal": str(uuid.uuid4()), "kiosk": KIOSK, "site": SITE,
           "seq": 1, "ts": "2026-11-23T07:05:00.000Z", "day": "2026-11-23", "operator": "ANNA",
           "type": kind, "data": data}
    doc.update(envelope)
    return doc


GOOD = [
    ("signed_in", {"operator": "ANNA", "clock_synced": True}), ("signed_out", {}), ("sorted", {"pile": "faktura"}),
    ("undone", {"what": "scan", "pile": "dodsbo", "code": "7350012345678"}), ("scan_phase_started", {}),
    ("scan_accepted", {"code": "7350012345678", "pile": "dodsbo"}),
    ("scan_rejected", {"code": "", "reason": "invalid", "pile": None}),
    ("pile_done", {"pile": "dodsbo", "sorted": 2, "scanned": 1}), ("scanning_done", {"deadline_met": True}),
    ("dodsbo_label_printed", {"samordningsnummer": False}), ("cover_slip_printed", {"count": 3}),
    ("leta_kund_counted", {"letter": "A", "apartments": 2}),
    ("date_checked", {"kind": "stromavbrott_atgard", "date": None, "decision": "skicka_om", "slot": "skicka_om"}),
    ("incoming_registered", {"kind": "ovrigt", "segment": "privat", "about": "Åsa",
                             "cab": routine.cab_case("ovrigt", "privat", "Åsa")}),
    ("temporary_counted", {"about": "x" * limits.FREE_TEXT_MAX}),
    ("alert_raised", {"kind": "bestridan", "text": "Bestridan av faktura har kommit in."}),
    ("remark_logged", {"code": "poste_restante", "note": "Kundlogg: x", "checklist": ["a", "b"]}),
    ("day_closed", {}),
]
GARBAGE_STRINGS = ["a\ud800", "a\x00", "\u202eabc", "a\x07", "a\n", "x\u2028", "\ufeffa"]


@pytest.mark.parametrize("kind,data", GOOD, ids=[k for k, _ in GOOD])
def test_each_event_type_passes_as_the_journal_writes_it(kind, data):
    payload = json.dumps(event(kind, data), ensure_ascii=False).encode()
    assert central_accepts(payload)["type"] == kind


# fixed ids: the parameters (and so the test ids) are the same in every pytest-xdist worker
_UUID4 = str(uuid.UUID(int=0x8EA955789DB142628A4B1C2D3E4F5A6B))
_UUID1 = str(uuid.UUID("116c21d8-f239-11f1-9f4b-0242ac120002"))


def _garbage_envelopes():
    out = [
        ("id", "trailing newline", _UUID4 + "\n"), ("id", "upper case", _UUID4.upper()),
        ("id", "uuid1", _UUID1), ("journal", "trailing newline", _UUID4 + "\n"),
        ("journal", "missing", None), ("seq", "bool", True), ("seq", "zero", 0), ("seq", "2**53", 2**53),
        ("seq", "float", 1.0), ("ts", "offset", "2026-11-23T07:05:00+00:00"),
        ("ts", "trailing newline", "2026-11-23T07:05:00Z\n"), ("ts", "not a time", "2026-11-23T25:05:00Z"),
        ("day", "not a date", "2026-02-30"), ("day", "arabic digits", "٢٠٢٦-11-23"),
        ("operator", "overlong", "A" * (limits.SIGNATURE_MAX + 1)), ("kiosk", "trailing newline", KIOSK + "\n"),
        ("site", "slash", "de/mo"), ("v", "two", 2), ("v", "true", True), ("type", "int", 3), ("data", "list", []),
    ]
    out += [("operator", repr(s), s) for s in GARBAGE_STRINGS]
    return out


@pytest.mark.parametrize("key,what,value", _garbage_envelopes(), ids=lambda v: str(v)[:20])
def test_garbage_envelope_is_refused_with_a_reason(key, what, value):
    doc = event("sorted", {"pile": "faktura"})
    if value is None:
        doc.pop(key)
    else:
        doc[key] = value
    with pytest.raises(Invalid) as exc:
        check_event(doc, SITE if key != "site" else "de/mo", KIOSK if key != "kiosk" else doc["kiosk"])
    assert str(exc.value) and exc.value.field == key, (str(exc.value), exc.value.field)


def _garbage_data():
    out = []
    for kind, data in GOOD:
        for field, value in data.items():
            if isinstance(value, str):
                out += [(kind, field, s) for s in GARBAGE_STRINGS]
                out.append((kind, field, "x" * 70_000))
            out.append((kind, field, {"a": 1}))  # a wrong type
            if not isinstance(value, bool) and value is not None:
                out.append((kind, field, not value if isinstance(value, bool) else True))
    out += [("sorted", "extra", "a\ud800"), ("sorted", "extra", "x" * (schema.EXTRA_STR_MAX + 1)),
            ("sorted", "bad key\n", 1), ("sorted", "extra", [[[[1]]]])]
    return out


@pytest.mark.parametrize("kind,field,value", _garbage_data(), ids=lambda v: str(v)[:16])
def test_garbage_data_is_refused_by_both_sides(kind, field, value):
    data = {**dict(GOOD)[kind], field: value}
    with pytest.raises(Invalid) as central:  # central, on the dict
        check_event(event(kind, data), SITE, KIOSK)
    assert str(central.value) and (central.value.field or "").startswith("data")
    with pytest.raises(Invalid) as kiosk:  # the controller's pre-commit check
        schema.check_decided([(kind, data)], ts="2026-11-23T07:05:00.000Z", day="2026-11-23",
                             operator="ANNA", site=SITE, kiosk=KIOSK)
    assert str(kiosk.value)
    assert schema.refusal_sv(kiosk.value).startswith("Kunde inte spara: ogiltiga uppgifter (")


@pytest.mark.parametrize("payload", [
    b'{"v":1,"operator":"\\ud800"}', b"NaN", b'{"seq":Infinity}', b'{"seq":1e999}', b"\xff\xfe", b"",
    b"[" * 100_000, b" " * (schema.MAX_PAYLOAD + 1), json.dumps(event("sorted", {"pile": "faktura"})).encode() + b"x",
])
def test_garbage_bytes_are_refused_at_central(payload):
    with pytest.raises(Invalid) as exc:
        check_event(parse_json(payload), SITE, KIOSK)
    assert str(exc.value)


def test_a_lone_surrogate_escape_in_the_operator_is_refused_before_the_store():
    """The poison message: valid JSON, but the store could never encode it."""
    good = json.dumps(event("sorted", {"pile": "faktura"}))
    bad = good.replace('"operator": "ANNA"', '"operator": "AN\\ud800NA"')
    assert bad != good
    with pytest.raises(Invalid):
        central_accepts(bad.encode())
    central_accepts(good.encode())


# -- the defects the fault campaign found, through the controller -------------------------------------------------
def test_an_operator_signature_central_would_refuse_is_never_committed(tmp_path):
    ctl, journal = controller(tmp_path)
    ctl.ctx = dataclasses.replace(ctl.ctx, operators=())  # no operator list: anyone may sign in
    for operator in ("A" * (limits.SIGNATURE_MAX + 1), "AN\ud800", "AN\x00NA", "\u202eANNA"):
        result = ctl.handle({"cmd": "login", "operator": operator}, T0)
        assert not result.ok and result.events == () and result.message
        assert journal.last_seq == 0
    assert ctl.handle({"cmd": "login", "operator": "A" * limits.SIGNATURE_MAX}, T0).ok
    [payload] = stored(journal)
    central_accepts(payload)
    journal.close()


def test_free_text_central_would_refuse_is_never_committed_and_the_screen_says_why(tmp_path):
    ctl, journal = controller(tmp_path)
    assert ctl.handle({"cmd": "login", "operator": "ANNA"}, T0).ok
    before = journal.last_seq
    for about in ("x" * 100_000, "x" * (limits.FREE_TEXT_MAX + 1), "brev\x00", "a\ud800"):
        for cmd in ({"cmd": "temporary", "about": about},
                    {"cmd": "incoming", "kind": "ovrigt", "segment": "privat", "about": about}):
            result = ctl.handle(cmd, T0)
            assert result.status == routine.ERROR and result.events == ()
            assert journal.last_seq == before
            assert "Expected" not in result.message and "character" not in result.message  # Swedish, not the log
            assert result.message
    ok = ctl.handle({"cmd": "temporary", "about": "å" * limits.FREE_TEXT_MAX}, T0)
    assert ok.ok and all(central_accepts(p) for p in stored(journal))
    journal.close()


def test_the_refusal_message_is_swedish_and_names_the_field():
    with pytest.raises(Invalid) as exc:
        schema.check_decided([("temporary_counted", {"about": "x" * 201})], ts="2026-11-23T07:05:00.000Z",
                             day="2026-11-23", operator="ANNA", site=SITE, kiosk=KIOSK)
    assert exc.value.field == "data.about"
    assert schema.refusal_sv(exc.value) == "Kunde inte spara: ogiltiga uppgifter (text). Inget registrerades."


def test_a_rejected_scan_with_control_characters_is_kept_printable(tmp_path):
    ctl, journal = controller(tmp_path)
    ctl.handle({"cmd": "login", "operator": "ANNA"}, T0)
    ctl.handle({"cmd": "scan_phase"}, T0)
    result = ctl.handle({"cmd": "scan", "code": "bad\x07code\ud800"}, T0)
    assert result.status == routine.REJECTED
    [ev] = [e for e in result.events if e["type"] == "scan_rejected"]
    assert ev["data"]["code"] == "bad\ufffdcode\ufffd"
    for payload in stored(journal):
        central_accepts(payload)
    journal.close()


# -- the journal id --------------------------------------------------------------------------------
def test_journal_id_is_made_at_creation_kept_and_given_to_an_older_journal(tmp_path):
    path = tmp_path / "j.db"
    j = Journal(path, SITE, KIOSK)
    jid = j.journal_id
    assert schema.UUID4_RE.match(jid)
    [e] = j.append([("sorted", {"pile": "faktura"})], T0, T0.date(), "ANNA")
    assert e["journal"] == jid and list(e)[:3] == ["v", "id", "journal"]
    j.close()
    assert Journal(path, SITE, KIOSK).journal_id == jid
    conn = sqlite3.connect(path)
    conn.execute("delete from meta where key = 'journal_id'")
    conn.commit()
    conn.close()
    j = Journal(path, SITE, KIOSK)  # an older journal: gets one on first open
    assert schema.UUID4_RE.match(j.journal_id) and j.journal_id != jid
    assert Journal(path, SITE, KIOSK).journal_id == j.journal_id
    j.close()


def test_a_personnummer_read_by_the_scanner_is_not_stored_as_a_rejected_code(tmp_path):
    """E.g. the scanner aimed at CAB's screen at the dödsbo step."""
    ctl, journal = controller(tmp_path)
    ctl.handle({"cmd": "login", "operator": "ANNA"}, T0)
    forms = ("19121212-1212", "191212121212", "121212-1212", "1212121212", "121212+1212")
    for form in forms:
        result = ctl.handle({"cmd": "scan", "code": form}, T0)
        assert result.status == routine.REJECTED
    ctl.handle({"cmd": "scan", "code": "7350012345678"}, T0)  # an ordinary code stays as it was
    blob = b"".join(stored(journal))
    for needle in ("1212121212", "121212-1212", "121212+1212"):
        assert needle.encode() not in blob
    assert blob.count(schema.PERSONNUMMER_HIDDEN.encode()) == len(forms)
    assert b"7350012345678" in blob
    assert schema.journal_code("19121212-1213") == "19121212-1213"  # fails the check digit: a code
    journal.close()


def test_the_schema_benchmark_prints_its_figures():
    import io

    from kiosk_dev import schema_bench

    out = io.StringIO()
    figures = schema_bench.run(n=120, repeat=1, out=out)
    text = out.getvalue()
    assert "before: json + hand-written checks" in text and "after: parse_json + check_event" in text
    assert "pre-commit schema check" in text and all(v > 0 for v in figures.values())
