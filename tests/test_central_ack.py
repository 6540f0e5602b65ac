"""The end-to-end ack under several central consumers (kiosk/central/ack.py): which retained
acks on the broker central replaces, at once or after they stayed below the store."""

from __future__ import annotations

from kiosk.central import ack

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
