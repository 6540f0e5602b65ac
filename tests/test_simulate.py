"""`kiosk simulate` and `kiosk report`: the public contract, through the CLI in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.domain import PILES

ROOT = Path(__file__).resolve().parent.parent
PNR = "19121212-1212"


def kiosk(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=120)


def write_script(path: Path, lines: list) -> Path:
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l, ensure_ascii=False) for l in lines) + "\n",
                    encoding="utf-8")
    return path


def at(hhmm: str, day: str = "2026-11-23") -> str:
    return f"{day}T{hhmm}:00+01:00"


@pytest.fixture
def day_script(tmp_path):
    lines = [
        {"at": at("08:00"), "cmd": "login", "operator": "ANNA"},
        *[{"at": at("08:01"), "cmd": "sort", "pile": p} for p in ["dodsbo", "sekretess", "sekretess", "faktura"]],
        {"at": at("08:01"), "cmd": "sort", "pile": "leta_kund", "letter": "A", "apartments": 1},
        {"at": at("08:30"), "cmd": "scan_phase"},
        {"at": at("08:31"), "cmd": "scan", "code": "7350001000011"},
        {"at": at("08:32"), "cmd": "next_pile"},
        {"at": at("08:33"), "cmd": "scan", "code": "7350002000017"},
        {"at": at("08:33"), "cmd": "scan", "code": "7350002000017"},
        {"at": at("08:34"), "cmd": "next_pile", "confirm": True},
        {"at": at("08:35"), "cmd": "scan", "code": "x"},
        {"at": at("08:36"), "cmd": "next_pile", "confirm": True},
        {"at": at("08:37"), "cmd": "next_pile"},
        {"at": at("09:00"), "cmd": "dodsbo_label", "personnummer": PNR},
        {"at": at("09:01"), "cmd": "cover_slip"},
        {"at": at("09:02"), "cmd": "leta_kund", "letter": "A", "count": 2, "apartments": 1},
        {"at": at("09:03"), "cmd": "date_check", "kind": "ovriga_brev", "date": "2026-11-25"},
        {"at": at("09:04"), "cmd": "stromavbrott_atgard"},
        {"at": at("09:05"), "cmd": "incoming", "kind": "bestridan", "segment": "privat", "about": "faktura"},
        {"at": at("09:06"), "cmd": "temporary", "about": "Elpriskompensation"},
        {"at": at("09:07"), "cmd": "remark", "code": "poste_restante"},
        {"at": at("16:00"), "cmd": "close_day", "confirm": True},
    ]
    return write_script(tmp_path / "day.jsonl", lines)


def test_a_whole_day_gives_the_documented_summary(tmp_path, day_script):
    out = tmp_path / "out"
    done = kiosk("simulate", str(day_script), "--out", str(out), "--db", str(tmp_path / "j.db"))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["errors"] == []
    [day] = doc["days"]
    assert day["day"] == "2026-11-23"
    assert set(day["counts"]) == set(PILES) and day["counts"]["sekretess"] == 2 and day["counts"]["tillfalliga"] == 1
    assert day["leta_kund"] == {"A": 3, "B": 0, "C": 0, "D": 0, "H": 0, "apartments": 2}
    assert day["counts"]["leta_kund"] == 3  # counted once: the sum of the types
    assert [(a["code"], a["pile"]) for a in day["scans"]["accepted"]] == [("7350001000011", "dodsbo"), ("7350002000017", "sekretess")]
    assert day["scans"]["accepted"][0]["at"] == "2026-11-23T07:31:00.000Z"
    assert [r["reason"] for r in day["scans"]["rejected"]] == ["duplicate", "invalid"]
    kinds = {(w["kind"], w.get("pile"), w.get("sorted"), w.get("scanned")) for w in day["warnings"]}
    # the alerts went nowhere (no central in a simulation): unconfirmed, so warnings
    assert kinds == {("missing_scans", "sekretess", 2, 1), ("missing_scans", "faktura", 1, 0),
                     ("alert_unconfirmed", None, None, None)}
    assert [w["alert_kind"] for w in day["warnings"] if w["kind"] == "alert_unconfirmed"] == ["bestridan", "tillfalliga"]
    assert day["scan_done_at"] == "2026-11-23T07:37:00.000Z" and day["deadline_met"] is True
    assert [(d["kind"], d["decision"], d["slot"]) for d in day["decisions"]] == [
        ("ovriga_brev", "kasta", "sekretesslada"), ("stromavbrott_atgard", "skicka_om", "skicka_om")]
    assert day["cab"][0]["subject"] == "Inscannat brev: Bestridan"
    assert [a["kind"] for a in day["alerts"]] == ["bestridan", "tillfalliga"]
    assert [p["kind"] for p in day["prints"]] == ["dodsbo_label", "address_label", "cover_slip", "day_summary"]
    for p in day["prints"]:
        assert Path(p["preview"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_personnummer_reaches_no_output_log_or_file_but_the_label_preview(tmp_path, day_script):
    out = tmp_path / "out"
    done = kiosk("-v", "simulate", str(day_script), "--out", str(out), "--db", str(tmp_path / "j.db"))
    needles = [PNR, PNR.replace("-", ""), "1212-1212", "121212"]
    for needle in needles:
        assert needle not in done.stdout and needle not in done.stderr
    for f in list(out.rglob("*")) + list(tmp_path.glob("j.db*")):
        if f.is_file() and "dodsbo_label" not in f.name:
            data = f.read_bytes()
            for needle in needles:
                assert needle.encode() not in data, f


def test_every_kind_of_bad_line_is_reported_and_processing_goes_on(tmp_path):
    script = write_script(tmp_path / "bad.jsonl", [
        {"at": at("08:00"), "cmd": "sort", "pile": "dodsbo"},                      # 1 before login
        "{not json",                                                                 # 2
        {"at": at("08:01"), "cmd": "login", "operator": "ANNA"},                   # 3 ok
        {"at": at("08:02"), "cmd": "fly"},                                          # 4 unknown command
        {"at": at("08:03"), "cmd": "sort", "pile": "kompost"},                     # 5 unknown pile
        {"at": at("08:04"), "cmd": "sort"},                                         # 6 lacks argument
        {"at": "yesterday", "cmd": "sort", "pile": "dodsbo"},                      # 7 bad time
        {"at": "2026-11-23T08:05:00", "cmd": "sort", "pile": "dodsbo"},           # 8 no offset
        {"at": at("08:06"), "cmd": "date_check", "kind": "ovriga_brev", "date": "2026-13-01"},  # 9 bad date
        {"at": at("08:07"), "cmd": "next_pile"},                                    # 10 step order
        {"at": at("08:08"), "cmd": "scan_phase"},                                   # 11 ok
        {"at": at("08:09"), "cmd": "next_pile"},                                    # 12 ok
        {"at": at("08:10"), "cmd": "dodsbo_label", "personnummer": "19121212-1213"},  # 13 invalid pnr
        {"at": at("08:11"), "cmd": "sort", "pile": "faktura"},                     # 14 ok
        [1, 2],                                                                      # 15 not an object
    ])
    done = kiosk("simulate", str(script), "--out", str(tmp_path / "o"))
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert [e["line"] for e in doc["errors"]] == [1, 2, 4, 5, 6, 7, 8, 9, 10, 13, 15]
    assert all(e["message"] for e in doc["errors"])
    assert "1213" not in done.stdout
    assert doc["days"][0]["counts"]["faktura"] == 1


def test_days_are_split_by_local_date_across_midnight_and_dst(tmp_path):
    script = write_script(tmp_path / "two.jsonl", [
        {"at": "2026-03-28T22:30:00Z", "cmd": "login", "operator": "ANNA"},   # 23:30 CET, the 28th
        {"at": "2026-03-28T22:31:00Z", "cmd": "sort", "pile": "dodsbo"},
        {"at": "2026-03-28T23:05:00Z", "cmd": "sort", "pile": "faktura"},     # 00:05 CET, the 29th
        {"at": "2026-03-29T11:59:00Z", "cmd": "sort", "pile": "faktura"},     # 13:59 CEST
        {"at": "2026-03-29T12:00:00Z", "cmd": "sort", "pile": "faktura"},     # 14:00 CEST: deadline passed
    ])
    doc = json.loads(kiosk("simulate", str(script), "--out", str(tmp_path / "o")).stdout)
    assert [d["day"] for d in doc["days"]] == ["2026-03-28", "2026-03-29"]
    assert doc["days"][1]["counts"]["faktura"] == 3
    assert [a["kind"] for a in doc["days"][1]["alerts"]] == ["deadline_missed"]


def test_report_prints_the_follow_up_row_as_json_and_csv(tmp_path, day_script):
    db = tmp_path / "j.db"
    kiosk("simulate", str(day_script), "--db", str(db), "--out", str(tmp_path / "o"))
    rows = json.loads(kiosk("report", "--db", str(db)).stdout)
    assert len(rows) == 1
    row = rows[0]
    assert row["day"] == "2026-11-23" and row["count_sekretess"] == 2 and row["scans_accepted"] == 2
    assert row["scans_rejected"] == 2 and row["deadline_met"] is True and row["leta_kund_apartments"] == 2
    assert row["alerts_bestridan"] == 1 and row["missing_scans"] == 2
    csv_text = kiosk("report", "--db", str(db), "--format", "csv").stdout
    header, line = csv_text.strip().splitlines()
    assert header.startswith("day,site,kiosk,count_dodsbo") and line.startswith("2026-11-23,demo,kiosk-1,1,2,1")
    assert kiosk("report", "--db", str(db), "--from", "2026-11-24").stdout.strip() == "[]"


def test_report_on_a_missing_journal_fails_clearly(tmp_path):
    done = kiosk("report", "--db", str(tmp_path / "nope.db"))
    assert done.returncode == 2 and "no journal" in done.stderr


def test_every_new_command_and_argument_through_the_simulator(tmp_path):
    """Undo kinds, confirm, reopen_day, late, century, count, no date,
    checklist and idle logout, as a script drives them."""
    lines = [
        {"at": at("08:00"), "cmd": "login", "operator": "ANNA"},
        {"at": at("08:01"), "cmd": "sort", "pile": "dodsbo"},
        {"at": at("08:01"), "cmd": "sort", "pile": "sekretess"},
        {"at": at("08:02"), "cmd": "sort", "pile": "leta_kund", "letter": "A", "apartments": 1},
        {"at": at("08:02"), "cmd": "sort", "pile": "ovriga_brev"},
        {"at": at("08:03"), "cmd": "undo", "what": "sort"},                                   # the ovriga_brev sort
        {"at": at("08:10"), "cmd": "scan_phase"},
        {"at": at("08:11"), "cmd": "scan", "code": "7350001000011"},
        {"at": at("08:12"), "cmd": "next_pile"},
        {"at": at("08:12"), "cmd": "next_pile"},                                              # double tap: confirm_needed
        {"at": at("08:13"), "cmd": "scan", "code": "7350002000017"},
        {"at": at("08:13"), "cmd": "scan", "code": "7350002000024"},                          # extra
        {"at": at("08:14"), "cmd": "undo", "what": "scan", "code": "7350002000024"},
        {"at": at("08:15"), "cmd": "next_pile"},
        {"at": at("08:15"), "cmd": "undo"},                                                   # next_pile back
        {"at": at("08:16"), "cmd": "next_pile"},
        {"at": at("08:16"), "cmd": "next_pile"},
        {"at": at("08:16"), "cmd": "next_pile"},
        {"at": at("08:20"), "cmd": "dodsbo_label", "personnummer": "250101-1239"},           # century_needed
        {"at": at("08:21"), "cmd": "dodsbo_label", "personnummer": "250101-1239", "century": "19"},
        {"at": at("08:22"), "cmd": "dodsbo_label", "personnummer": "250101-1239", "century": "19", "confirm": True},
        {"at": at("08:23"), "cmd": "cover_slip"},
        {"at": at("08:24"), "cmd": "checklist", "item": "envelope_sent"},
        {"at": at("08:25"), "cmd": "leta_kund", "letter": "A", "count": 3, "apartments": 2},
        {"at": at("08:25"), "cmd": "checklist", "item": "wms_ticked"},
        {"at": at("08:25"), "cmd": "checklist", "item": "wms_ticked", "done": False},
        {"at": at("08:26"), "cmd": "leta_kund", "letter": "C"},
        {"at": at("08:26"), "cmd": "undo", "what": "leta_kund"},
        {"at": at("08:27"), "cmd": "date_check", "kind": "ovriga_brev"},                      # no date
        {"at": at("08:27"), "cmd": "date_check", "kind": "ovriga_brev", "date": "2026-11-24"},
        {"at": at("08:28"), "cmd": "undo", "what": "date_check"},
        {"at": at("08:29"), "cmd": "incoming", "kind": "bestridan", "segment": "privat"},
        {"at": at("08:29"), "cmd": "undo", "what": "incoming"},                               # alert cancelled
        {"at": at("08:30"), "cmd": "temporary", "about": "Elpriskompensation"},
        {"at": at("08:30"), "cmd": "temporary", "about": "Elpriskompensation"},
        {"at": at("08:31"), "cmd": "undo", "what": "temporary"},
        {"at": at("08:32"), "cmd": "remark", "code": "vagrad"},
        {"at": at("08:32"), "cmd": "undo", "what": "remark"},
        {"at": at("08:33"), "cmd": "checklist", "item": "cab_case_created"},
        {"at": at("10:00"), "cmd": "late", "pile": "dodsbo", "code": "7350001000035"},
        {"at": at("10:01"), "cmd": "dodsbo_label", "personnummer": "19121212-1212"},
        {"at": at("10:30"), "cmd": "logout", "reason": "idle"},
        {"at": at("10:31"), "cmd": "login", "operator": "BERT"},
        {"at": at("11:00"), "cmd": "close_day"},                                              # confirm_needed:
        {"at": at("11:00"), "cmd": "close_day", "confirm": True},                             # the TL question
        {"at": at("11:05"), "cmd": "reopen_day"},                                             # is unconfirmed
        {"at": at("11:06"), "cmd": "close_day", "confirm": True},
    ]
    script = write_script(tmp_path / "new.jsonl", lines)
    done = kiosk("simulate", str(script), "--out", str(tmp_path / "o"), "--db", str(tmp_path / "j.db"))
    doc = json.loads(done.stdout)
    assert done.returncode == 0 and doc["errors"] == [], doc["errors"]
    [day] = doc["days"]
    # one letter, one count: the temporary mailing registered (not sorted) counts in its pile
    assert day["counts"] == {**{p: 0 for p in PILES}, "dodsbo": 2, "sekretess": 1, "leta_kund": 4, "tillfalliga": 1}
    assert day["leta_kund"] == {"A": 4, "B": 0, "C": 0, "D": 0, "H": 0, "apartments": 3}
    assert day["scanned"] == {"dodsbo": 2, "sekretess": 1, "faktura": 0, "ovriga_streckkod": 0}
    assert [a["pile"] for a in day["late"]] == ["dodsbo"]
    assert [w["alert_kind"] for w in day["warnings"]] == ["tillfalliga"]  # no central confirmed the question
    assert day["deadline_met"] is True and day["phase"] == "closed"
    assert day["labels_printed"] == 2 and day["label_reprints"] == 1 and day["cover_slips_printed"] == 1
    assert day["checklist"] == {"envelope_sent": 1, "wms_ticked": 0, "cab_case_created": 1, "poste_restante_checked": 0,
                                "poste_restante_removed": 0}
    assert [(d["kind"], d["date"], d["decision"]) for d in day["decisions"]] == [("ovriga_brev", None, "skicka_om")]
    assert day["cab"] == [] and day["remarks"] == [] and len(day["temporary"]) == 1
    assert [(a["kind"], a["cancelled"]) for a in day["alerts"]] == [("bestridan", True), ("tillfalliga", False)]
    assert day["reopened"] == 1 and day["closed_by"] == "operator"
    assert [p["kind"] for p in day["prints"]].count("day_summary") == 2
    rows = json.loads(kiosk("report", "--db", str(tmp_path / "j.db")).stdout)
    assert rows[0]["alerts"] == 1 and rows[0]["alerts_cancelled"] == 1 and rows[0]["late_letters"] == 1
    assert rows[0]["label_reprints"] == 1
    assert rows[0]["warnings"] == "Ingen bekräftelse på att TL fått frågan om tillfälligt utskick."


def test_a_day_crossing_midnight_in_the_simulator_gets_its_warning_and_alert(tmp_path):
    script = write_script(tmp_path / "night.jsonl", [
        {"at": at("21:00"), "cmd": "login", "operator": "ANNA"},
        {"at": at("21:01"), "cmd": "sort", "pile": "faktura"},
        {"at": at("21:01"), "cmd": "sort", "pile": "faktura"},
        {"at": at("23:50"), "cmd": "scan_phase"},
        {"at": at("23:51"), "cmd": "next_pile"},
        {"at": at("23:51"), "cmd": "next_pile"},
        {"at": at("23:55"), "cmd": "scan", "code": "7350003000013"},
        {"at": at("00:05", "2026-11-24"), "cmd": "scan", "code": "7350003000020"},
        {"at": at("00:06", "2026-11-24"), "cmd": "sort", "pile": "dodsbo"},
    ])
    doc = json.loads(kiosk("simulate", str(script), "--out", str(tmp_path / "o")).stdout)
    old, new = doc["days"]
    assert old["day"] == "2026-11-23" and old["phase"] == "closed" and old["closed_by"] == "midnight"
    assert [(w["kind"], w.get("pile"), w.get("sorted"), w.get("scanned")) for w in old["warnings"]] == [
        ("unscanned", "faktura", 2, 1), ("alert_unconfirmed", None, None, None)]
    assert [a["kind"] for a in old["alerts"]] == ["deadline_missed"] and old["deadline_met"] is False
    assert new["phase"] == "sorting" and new["counts"]["dodsbo"] == 1 and new["scans"]["accepted"] == []
    assert [r["reason"] for r in new["scans"]["rejected"]] == ["not_scan_phase"]
    assert new["deadline_met"] is None  # pending: before the deadline, a barcoded pile unfinished


def test_the_example_day_journals_the_event_count_the_sync_tests_expect(tmp_path):
    from kiosk.wire.journal import Journal

    from .mqtt_broker import EXAMPLE_EVENTS

    db = tmp_path / "j.db"
    done = kiosk("simulate", str(ROOT / "kiosk" / "shelf" / "examples" / "example-day.jsonl"), "--db", str(db), "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stdout[-2000:]
    j = Journal.open_existing(db)
    try:
        assert j.last_seq == EXAMPLE_EVENTS
    finally:
        j.close()


def test_a_printer_switched_off_in_the_script_fails_the_labels_until_it_is_back(tmp_path):
    codes = ("7350001000011", "7350001000028", "7350001000035")
    script = write_script(tmp_path / "printer.jsonl", [
        {"at": at("08:00"), "cmd": "login", "operator": "ANNA"},
        *[{"at": at("08:01"), "cmd": "sort", "pile": "dodsbo"} for _ in codes],
        {"at": at("08:10"), "cmd": "scan_phase"},
        *[{"at": at("08:11"), "cmd": "scan", "code": code} for code in codes],
        *[{"at": at("08:12"), "cmd": "next_pile"} for _ in range(4)],
        {"at": at("08:20"), "cmd": "printer", "state": "offline"},
        {"at": at("08:21"), "cmd": "dodsbo_label", "personnummer": "19121212-1212"},
        {"at": at("08:22"), "cmd": "dodsbo_label", "personnummer": "19121212-1212"},
        {"at": at("08:23"), "cmd": "printer", "state": "paper_jam"},
    ])
    doc = json.loads(kiosk("simulate", str(script), "--out", str(tmp_path / "o")).stdout)
    assert [e["line"] for e in doc["errors"]] == [16]  # the unknown printer state
    [day] = doc["days"]
    assert day["labels_printed"] == 0 and [p["state"] for p in day["print_jobs"]] == ["failed", "failed"]
    assert "2 dödsbo-etiketter skrevs inte ut." in [w["text"] for w in day["warnings"]]
    script.write_text(script.read_text().replace('"paper_jam"', '"ok"'), encoding="utf-8")
    doc = json.loads(kiosk("simulate", str(script), "--out", str(tmp_path / "o2")).stdout)
    [day] = doc["days"]
    assert doc["errors"] == [] and day["labels_printed"] == 2 and [w["kind"] for w in day["warnings"]] == ["labels_missing"]
