"""The end-to-end ack under several central consumers (kiosk/central/ack.py): which retained
acks on the broker central replaces, at once or after they stayed below the store."""

from __future__ import annotations

import json
import subprocess

from kiosk.central import ack
from kiosk.central.collector import Central
from kiosk.wire.journal import Journal
from .mqtt_broker import broker, bulk_events, env, kiosk_cmd, kiosk_config, load, needs_mosquitto  # noqa: F401

J = "0b6f8a57-8b9e-4a49-9d5c-2f1c3c1f0a11"


def doc(upto: int, eid: str | None = "e", start: int = 1, jid: str = J) -> dict:
    return {"v": 1, "site": "demo", "kiosk": "k", "ts": "t", "journals": {jid: {"start": start, "upto": upto, "id": eid}}}


def test_claims_more_is_only_more_and_claims_less_only_less():
    own = doc(10, "e10")
    assert not ack.claims_more(doc(10, "e10"), own) and not ack.claims_less(doc(10, "e10"), own)
    assert ack.claims_more(doc(11, "e11"), own) and not ack.claims_less(doc(11, "e11"), own)
    assert ack.claims_more(doc(10, "other"), own)  # another event at our seq: restored
    assert ack.claims_more(doc(10, "e10", start=3), own)
    assert ack.claims_more(doc(2, "x", jid="7d1e0a3c-1111-4a49-9d5c-2f1c3c1f0a11"), own)
    assert ack.claims_more(None, own) and ack.claims_more({"journals": {J: "x"}}, own)
    # lower: two consumers' publishes crossed; not "more", but less
    assert not ack.claims_more(doc(7, "e7"), own) and ack.claims_less(doc(7, "e7"), own)
    assert ack.claims_less({"v": 1, "journals": {}}, own)
    assert not ack.claims_less({"v": 1, "journals": {}}, doc(0, None))  # nothing stored yet


def test_ack_watch_republishes_only_what_stays_below_the_store():
    w = ack.AckWatch(settle=1.0)
    key = ("demo", "k")
    w.seen(key, doc(5))
    w.lagging(key, doc(8), now=0.0)  # the store holds 8: its consumer's ack is on the way
    assert w.due(0.5) == []
    w.seen(key, doc(8))  # it came
    assert w.due(1.0) == [] and not w.waiting
    w.seen(key, doc(12))
    w.lagging(key, doc(14), now=2.0)
    w.lagging(key, doc(20), now=2.5)
    w.lagging(key, doc(21), now=2.6)  # the first mark and the newest are kept
    w.seen(key, doc(16))  # covers the first mark, not the newest: an older publish overtook
    assert w.due(3.0) == [] and len(w.waiting[key]) == 1
    assert w.due(3.6) == [key] and not w.waiting


@needs_mosquitto
def test_a_resend_of_what_another_consumer_stored_gets_its_ack(broker, tmp_path, central_db):
    """Another consumer stored a kiosk's events and died before publishing the ack (here: they
    reach the database by `kiosk central import`, behind the running consumer's back). The kiosk
    sends them; the running consumer finds only duplicates, and still publishes the ack that
    covers them, read from the database: the kiosk gets confirmed with no person."""
    journal_db = tmp_path / "kiosk-1.db"
    j = Journal(journal_db, "demo", "kiosk-1")
    bulk_events(j, 40)
    j.close()
    cfg = kiosk_config(tmp_path / "kiosk.toml", broker.port, mqtt="ack_timeout = 30.0\n")
    central = Central(load(cfg), central_db).start()
    try:
        assert central.wait_subscribed(10)
        done = subprocess.run(kiosk_cmd("central", "import", str(journal_db), "--db", central_db),
                              env=env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and json.loads(done.stdout)["stored"] == 40, done.stderr
        sync = subprocess.run(kiosk_cmd("--config", str(cfg), "sync", "--once", "--db", str(journal_db),
                                        "--timeout", "15"), env=env(), capture_output=True, text=True, timeout=60)
        stats = central.snapshot()
    finally:
        central.stop()
    assert sync.returncode == 0, sync.stdout[-800:] + sync.stderr[-800:]
    assert stats.get("duplicate") == 40 and not stats.get("stored")
    j = Journal.open_existing(journal_db)
    try:
        assert j.confirmed_seq == j.last_seq == 40
    finally:
        j.close()
