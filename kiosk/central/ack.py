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
"""

from __future__ import annotations

import json
import logging

from ..sync import topics

log = logging.getLogger(__name__)


def ack_topic(site: str, kiosk: str) -> str:
    return topics.topic(site, kiosk, "ack")


def encode(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def claims_more(seen: object, own: dict) -> bool:
    """Does an ack found on the broker claim anything central's store does not hold?"""
    if not isinstance(seen, dict) or not isinstance(seen.get("journals"), dict):
        return True
    mine = own.get("journals", {})
    for jid, entry in seen["journals"].items():
        if not isinstance(entry, dict):
            return True
        ours = mine.get(jid)
        if ours is None:
            if isinstance(entry.get("upto"), int) and entry["upto"] >= entry.get("start", 1):
                return True
            continue
        if entry.get("upto") != ours["upto"] or entry.get("id") != ours["id"] \
                or entry.get("start") != ours["start"]:
            return True
    return False


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
