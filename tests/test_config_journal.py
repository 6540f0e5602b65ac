"""Configuration errors name the key; the journal keeps seq gapless and belongs to one kiosk."""

import datetime as dt
import json
import uuid
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.clock import TZ, FixedClock
from kiosk.core.config import ConfigError, load, parse
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal

ROOT = Path(__file__).resolve().parent.parent


def test_the_embedded_default_runs_out_of_the_box():
    cfg = load(None)
    assert cfg.kiosk.site and cfg.kiosk.id and cfg.operators
    assert set(cfg.data["slots"]) == {"dodsbo", "sekretess", "faktura", "ovriga_streckkod", "leta_kund",
                                      "ovriga_brev", "inkomna_brev", "tillfalliga", "oversta_facket",
                                      "sekretesslada", "skicka_om"}


@pytest.mark.parametrize("text, key, words", [
    ("[mqtt]\nport = 'x'", "mqtt.port", "integer"),
    ("[mqtt]\nport = 70000", "mqtt.port", "1..65535"),
    ("[mqtt]\nprot = 1", "mqtt.prot", "unknown key"),
    ("[nonsense]\na = 1", "nonsense", "unknown key"),
    ("[kiosk]\nid = 'a b'", "kiosk.id", "letters"),
    ("[kiosk]\ndeadline = '25:00'", "kiosk.deadline", "HH:MM"),
    ("[slots]\ndodsbo = 5\nfaktura = 5", "slots.faktura", "already used"),
    ("[slots]\nsoptunna = 7", "slots.soptunna", "not a slot"),
    ("[slots]\ndodsbo = 99", "slots.dodsbo", "2..27"),
    ("[gpio]\nbuzzer = 5", "gpio.buzzer", "already used"),
    ("[barcode]\ncheck_digit = 'crc'", "barcode.check_digit", "none, luhn"),
    ("[barcode.patterns]\ndodsbo = '('", "barcode.patterns.dodsbo", "regular expression"),
    ("[barcode]\nmin_length = 10\nmax_length = 5", "barcode.min_length", "min_length"),
    ("[[operators]]\nname = 'X'", "operators[0].signature", "required"),
    ("[[operators]]\nsignature = 'A'\n[[operators]]\nsignature = 'A'", "operators[1].signature", "twice"),
    ("[printer]\nbackend = 'network'", "printer.host", "required"),
    ("[mqtt]\ntls = true", "mqtt.ca_file", "required"),
    ("kiosk = 3", "kiosk", "table"),
    ("this is = not toml [", "<string>", "TOML"),
])
def test_a_bad_config_names_the_key_and_the_problem(text, key, words):
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.key == key and words in str(info.value)


def test_a_bad_config_file_stops_the_cli_with_the_message(tmp_path):
    bad = tmp_path / "kiosk.toml"
    bad.write_text("[printer]\nbackend = 'fax'\n")
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(bad), "report"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "config error: printer.backend: must be file, usb, serial, network or dummy" in done.stderr


def test_a_good_config_file_overrides_only_what_it_names(tmp_path):
    f = tmp_path / "kiosk.toml"
    f.write_text("[kiosk]\nsite = 'sthlm'\nid = 'hylla-2'\ndata_dir = 'state'\n[[operators]]\nsignature = 'CE'\nbadge = '0042'\n")
    cfg = load(f)
    assert (cfg.kiosk.site, cfg.kiosk.id, cfg.mqtt.port) == ("sthlm", "hylla-2", 1883)
    assert cfg.journal_path == tmp_path / "state" / "journal.db"
    assert [o.signature for o in cfg.operators] == ["CE"]


def test_journal_seq_stays_gapless_across_purges_and_restarts(tmp_path):
    path = tmp_path / "j.db"
    j = Journal(path, "s", "k")
    t0 = dt.datetime(2026, 1, 1, 9, tzinfo=TZ)
    for i in range(5):
        j.append([("sorted", {"pile": "faktura"}), ("sorted", {"pile": "dodsbo"})], t0 + dt.timedelta(days=i), (t0 + dt.timedelta(days=i)).date(), "A")
    assert j.last_seq == 10 and j.pending_count() == 10
    j.mark_sent(range(1, 11), t0)
    assert j.purge_synced(t0 + dt.timedelta(days=10)) == 0  # sent is not confirmed by central
    j.set_confirmed(10)
    assert j.purge_synced(t0 + dt.timedelta(days=10)) == 10
    assert list(j.events()) == []
    j.close()
    j = Journal(path, "s", "k")
    [e] = j.append([("sorted", {"pile": "faktura"})], t0 + dt.timedelta(days=11), (t0 + dt.timedelta(days=11)).date(), "A")
    assert e["seq"] == 11
    assert set(e) == {"v", "id", "journal", "kiosk", "site", "seq", "ts", "day", "operator", "type", "data"}
    assert e["journal"] == j.journal_id and str(uuid.UUID(e["journal"])) == e["journal"]
    assert json.loads(json.dumps(e)) == e


def test_only_events_central_confirmed_are_deleted(tmp_path):
    j = Journal(tmp_path / "j.db", "s", "k")
    t0 = dt.datetime(2026, 1, 1, 9, tzinfo=TZ)
    j.append([("sorted", {"pile": "faktura"})] * 3, t0, t0.date(), "A")
    j.mark_sent([1, 2, 3], t0)
    j.set_confirmed(2)
    assert j.purge_synced(t0 + dt.timedelta(days=100)) == 2
    assert [e["seq"] for e in j.events()] == [3] and j.pending_count() == 1


def test_journal_id_made_at_creation_and_given_to_an_old_journal(tmp_path):
    j = Journal(tmp_path / "j.db", "s", "k")
    jid = j.journal_id
    assert str(uuid.UUID(jid, version=4)) == jid
    j.close()
    assert Journal(tmp_path / "j.db", "s", "k").journal_id == jid  # stable across opens
    # a journal from before journal ids: its events get the id on first open
    old = tmp_path / "old.db"
    j = Journal(old, "s", "k")
    t0 = dt.datetime(2026, 1, 1, 9, tzinfo=TZ)
    j.append([("sorted", {"pile": "faktura"})] * 2, t0, t0.date(), "A")
    j.db.execute("delete from meta where key in ('journal_id', 'journal_start')")
    j.db.execute("update events set payload = json_remove(payload, '$.journal')")
    j.close()
    j = Journal(old, "s", "k")
    assert j.journal_id != jid and [e["journal"] for e in j.events()] == [j.journal_id] * 2
    j.close()


def test_a_journal_belongs_to_one_kiosk(tmp_path):
    Journal(tmp_path / "j.db", "s", "k1").close()
    with pytest.raises(ValueError, match="belongs to s/k1"):
        Journal(tmp_path / "j.db", "s", "k2")
    assert Journal.open_existing(tmp_path / "j.db").kiosk == "k1"


def test_the_operator_stays_signed_in_across_a_restart_and_a_new_day(tmp_path):
    cfg = load(None)
    path = tmp_path / "j.db"
    t0 = dt.datetime(2026, 11, 23, 9, tzinfo=TZ)
    c = Controller(cfg, Journal(path, cfg.kiosk.site, cfg.kiosk.id), FixedClock(t0))
    c.handle({"cmd": "login", "operator": "BERT"}, t0)
    c.handle({"cmd": "sort", "pile": "faktura"}, t0)
    c.journal.close()
    c2 = Controller(cfg, Journal(path, cfg.kiosk.site, cfg.kiosk.id), FixedClock(t0))
    assert c2.operator == "BERT" and c2.summary()["counts"]["faktura"] == 1
    nxt = t0 + dt.timedelta(days=1)
    r = c2.handle({"cmd": "sort", "pile": "faktura"}, nxt)
    # the unscanned faktura letter settles the old day first, then the new day's sort
    assert r.ok and r.events[-1]["operator"] == "BERT" and r.events[-1]["day"] == "2026-11-24"
    assert [e["day"] for e in r.events[:-1]] == ["2026-11-23"] * (len(r.events) - 1)
    assert r.data["new_day"]["previous_day"] == "2026-11-23" and "ny dag" in r.message
    assert c2.summary()["counts"]["faktura"] == 1
    assert c2.summary("2026-11-23")["counts"]["faktura"] == 1


def test_sign_in_records_whether_the_clock_was_synchronised(tmp_path):
    cfg = load(None)
    t0 = dt.datetime(2026, 11, 23, 9, tzinfo=TZ)
    clock = FixedClock(t0, synced=False)
    c = Controller(cfg, Journal(tmp_path / "j.db", cfg.kiosk.site, cfg.kiosk.id), clock)
    r = c.handle({"cmd": "login", "operator": "ANNA"})
    assert r.events[0]["data"] == {"operator": "ANNA", "clock_synced": False}
    assert "klockan är inte synkroniserad" in r.message
    clock.synced = True
    r = c.handle({"cmd": "login", "operator": "ANNA"})
    assert r.events[0]["data"]["clock_synced"] is True and "klockan" not in r.message


def test_commands_from_several_threads_are_serialised_and_none_is_lost(tmp_path):
    import threading

    cfg = load(None)
    t0 = dt.datetime(2026, 11, 23, 9, tzinfo=TZ)
    c = Controller(cfg, Journal(tmp_path / "j.db", cfg.kiosk.site, cfg.kiosk.id), FixedClock(t0))
    c.handle({"cmd": "login", "operator": "ANNA"})
    c.handle({"cmd": "scan_phase"})

    def scanner(prefix):
        for i in range(100):
            assert c.handle({"cmd": "scan", "code": f"{prefix}{i:05d}"}).ok

    threads = [threading.Thread(target=scanner, args=(p,)) for p in ("111", "222", "333")]  # digits only
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c.summary()["scans"]["accepted"]) == 300
    seqs = [e["seq"] for e in c.journal.events()]
    assert seqs == list(range(1, len(seqs) + 1))


def test_many_processes_opening_a_new_database_at_once_all_get_wal(tmp_path):
    """Two central processes (or a kiosk and its publisher) starting together on a new file."""
    import time

    code = ("import sys, time; from kiosk.wire.journal import connect\n"
            "while time.time() < float(sys.argv[2]): pass\n"  # all start together
            "db = connect(sys.argv[1]); db.execute('create table if not exists t (x)')\n"
            "print(db.execute('pragma journal_mode').fetchone()[0])")
    for round_ in range(4):
        path = tmp_path / f"new-{round_}.db"
        start = str(time.time() + 1.0)
        procs = [subprocess.Popen([sys.executable, "-c", code, str(path), start], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        results = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
        assert {out.strip() for out, _ in results} == {"wal"}
