"""The end-to-end ack: central -> kiosk, per kiosk journal (DESIGN.md §5).

Topic `returpost/v1/<site>/<kiosk>/ack`, retained, QoS 1; only central may write it (ACL).
Payload (from `CentralStore.ack`):

    {"v": 1, "site": .., "kiosk": .., "ts": ..,
     "journals": {<journal id>: {"start": S, "upto": N, "id": <event id at N or null>}, ...}}

`upto` is the highest seq up to which central has *stored* every event of that journal from
`start` on (committed in SQLite before the ack is published). A broker's PUBACK only moves the
kiosk's in-flight window; this ack is what makes an event synced, and only then may the kiosk
purge it. Central publishes it after every commit that moved it, for every known kiosk when it
(re)connects (so a broker restored from an old persistence file gets today's acks), and again
whenever it sees an ack on the broker that claims more than its store holds (a central restored
from an old backup corrects the broker's retained acks, and the kiosks resend).

Several central consumers (a shared subscription, one database): each publishes the ack it
reads from the database after its own commit, so it names what the others stored too. The
broker keeps the last one it received, and two consumers' publishes can cross: the retained
ack may go down for a moment. That is safe (a kiosk never purges what is not stored; it
resends, and the store drops the duplicates) and heals by itself twice over:
- a batch with duplicates makes its consumer publish those kiosks' acks again (a resend means
  the kiosk has not seen the ack that covers it);
- every consumer watches the retained acks (`AckWatch`): one that stays below what the
  database held when it was seen, for `SETTLE` seconds, is published again from the database.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from ..wire import topics

log = logging.getLogger(__name__)


def ack_topic(site: str, kiosk: str) -> str:
    return topics.topic(site, kiosk, "ack")


def encode(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def claims_more(seen: object, own: dict) -> bool:
    """Does an ack found on the broker claim anything central's store does not hold? (A seq
    beyond ours, another event id at our seq, another start, a journal we do not name, or
    something unreadable. One that merely confirms less is `claims_less`.)"""
    if not isinstance(seen, dict) or not isinstance(seen.get("journals"), dict):
        return True
    mine = own.get("journals", {})
    for jid, entry in seen["journals"].items():
        if not isinstance(entry, dict):
            return True
        ours = mine.get(jid)
        upto = entry.get("upto")
        if ours is None:
            if isinstance(upto, int) and upto >= entry.get("start", 1):
                return True
            continue
        if not isinstance(upto, int) or isinstance(upto, bool) or entry.get("start") != ours["start"]:
            return True
        if upto > ours["upto"] or upto == ours["upto"] and entry.get("id") != ours["id"]:
            return True
    return False


def claims_less(seen: object, own: dict) -> bool:
    """Does an ack found on the broker confirm less than central's store holds? (Only journals
    our own ack names count; `claims_more` handles the ones we do not know.)"""
    if not isinstance(seen, dict) or not isinstance(seen.get("journals"), dict):
        return bool(own.get("journals"))
    theirs = seen["journals"]
    for jid, ours in own.get("journals", {}).items():
        entry = theirs.get(jid)
        if not isinstance(entry, dict):
            if ours["upto"] >= ours["start"]:
                return True
            continue
        upto = entry.get("upto")
        if entry.get("start") != ours["start"] or not isinstance(upto, int) or upto < ours["upto"]:
            return True
    return False


SETTLE = 1.0  # seconds a retained ack below the database may stay so before it is replaced


@dataclass
class AckWatch:
    """The retained acks as the broker holds them, and those below the database (functional:
    the caller passes the time, reads the store and publishes).

    `seen(key, doc)` records the broker's latest ack of a kiosk; `lagging(key, own, now)` says
    it was below `own` (the store's ack then); `due(now)` returns the kiosks whose latest
    retained ack is still below what the store held `SETTLE` seconds ago: publish theirs."""

    settle: float = SETTLE
    latest: dict = field(default_factory=dict)
    waiting: dict = field(default_factory=dict)  # key -> [(due time, the store's ack then), ...]

    def seen(self, key: tuple[str, str], doc: object) -> None:
        self.latest[key] = doc

    def lagging(self, key: tuple[str, str], own: dict, now: float) -> None:
        marks = self.waiting.setdefault(key, [])
        if len(marks) < 2:
            marks.append((now + self.settle, own))
        else:  # the first one and the newest one are enough: the store only grows
            marks[1] = (now + self.settle, own)

    def due(self, now: float) -> list[tuple[str, str]]:
        out = []
        for key, marks in list(self.waiting.items()):
            while marks and marks[0][0] <= now:
                _, own = marks.pop(0)
                if claims_less(self.latest.get(key), own):
                    out.append(key)
                    marks.clear()  # what is published now is the store's latest
            if not marks:
                del self.waiting[key]
        return sorted(out)


def publish(client, store, kiosks) -> int:
    """Publish the ack of each (site, kiosk), retained at QoS 1. Returns how many were queued."""
    n = 0
    for site, kiosk in kiosks:
        info = client.publish(ack_topic(site, kiosk), encode(store.ack(site, kiosk)), qos=1, retain=True)
        if info.rc == 0:
            n += 1
        else:
            log.warning("central: cannot publish the ack for %s/%s (rc %s)", site, kiosk, info.rc)
    return n
