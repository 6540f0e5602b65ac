"""Load shedding in front of central's store: a sender that floods central with garbage is
counted, not processed.

Every message on central's subscriptions names its sender in the topic
(`returpost/v1/<site>/<kiosk>/<kind>`; the broker's ACL lets a kiosk write only its own subtree).
The store dead-letters what it cannot take, and keeps at most `central.dead_letters_per_kiosk_minute`
dead-letter rows a minute per sender. `FloodGuard` uses that same budget one step earlier: once a
sender has had that many dead letters in its current minute, central sheds every message from it
for the rest of that minute, by topic, before any JSON decoding or validation: the message is
counted and acknowledged to the broker, nothing else. Good events from other kiosks then never
wait behind a flood queued in the broker. After the minute the sender's messages reach the
store again (and are shed again if they are still garbage).

What a shed sender loses: nothing it can keep. Its valid events among the garbage are not
confirmed by central's end-to-end ack, so the kiosk sends them again on its own
(`mqtt.ack_timeout`); its status and alerts of that minute are dropped (the next status replaces
them).

The counts of shed messages go to the table `shed_senders` (room "shed", one row per sender:
messages, first and last time), written by `save` at most every SAVE_EVERY seconds, so a central
crash loses at most that much of the count (the messages themselves were garbage; the broker
does not redeliver them, they were acknowledged).

Pure bookkeeping here (`FloodGuard` takes the time as an argument); the collector
(kiosk/central/collector.py) calls it from its receive loop and writes the counts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..core.clock import utc_iso
from .db import Database, Step, migrate, open_database

WINDOW = 60.0  # seconds of a sender's dead-letter budget (central.dead_letters_per_kiosk_minute)
SAVE_EVERY = 1.0  # seconds between writes of the shed counts while a flood is shed
_SENDERS_CACHED = 10000  # topics remembered for their sender (cleared when full)

Sender = tuple[str, str]

MIGRATIONS = [
    Step(1, "shed senders",
         "create table if not exists shed_senders (site TEXT NOT NULL, kiosk TEXT NOT NULL, "
         "messages INTEGER NOT NULL DEFAULT 0, first_at TEXT NOT NULL, last_at TEXT NOT NULL, "
         "PRIMARY KEY (site, kiosk))"),
]


def sender_of(topic: bytes | str) -> Sender:
    """The (site, kiosk) a topic names, as text (undecodable bytes replaced). A topic of another
    shape (central's subscriptions never deliver one) is its own sender: ("", topic)."""
    name = topic.decode("utf-8", "replace") if isinstance(topic, (bytes, bytearray)) else str(topic)
    parts = name.split("/")
    if len(parts) == 5:
        return parts[2][:200], parts[3][:200]
    return "", name[:200]


class FloodGuard:
    """Per sender: dead letters in the current window; over `budget`, shed until the window ends.

        guard = FloodGuard(config.central.dead_letters_per_kiosk_minute)
        who = guard.sender(msg_topic_bytes)
        if guard.shedding(who, now): guard.shed(who)          # count it, ack it, nothing else
        ...after a batch is stored: guard.dead_letters({who: n, ...}, now)
    """

    def __init__(self, budget: int, window: float = WINDOW):
        self.budget = max(1, int(budget))
        self.window = float(window)
        self._dead: dict[Sender, list[float]] = {}  # sender -> [window start, dead letters]
        self._over: dict[Sender, float] = {}  # sender -> end of its shedding
        self._senders: dict[bytes | str, Sender] = {}
        self.unsaved: dict[Sender, int] = {}
        self.total = 0  # messages shed since start

    def sender(self, topic: bytes | str) -> Sender:
        who = self._senders.get(topic)
        if who is None:
            if len(self._senders) >= _SENDERS_CACHED:
                self._senders.clear()
            who = self._senders[topic] = sender_of(topic)
        return who

    def shedding(self, who: Sender, now: float) -> bool:
        """Is `who` over its dead-letter budget now (its messages shed)?"""
        until = self._over.get(who)
        if until is None:
            return False
        if now < until:
            return True
        del self._over[who]
        return False

    def shed(self, who: Sender, n: int = 1) -> None:
        self.unsaved[who] = self.unsaved.get(who, 0) + n
        self.total += n

    def dead_letters(self, counts: dict[Sender, int], now: float) -> list[Sender]:
        """The store dead-lettered `counts[who]` messages of each sender; returns the senders
        that went over their budget with these (shed from now to the end of their window)."""
        over = []
        for who, n in counts.items():
            if n <= 0:
                continue
            w = self._dead.get(who)
            if w is None or now - w[0] >= self.window:
                w = self._dead[who] = [now, 0]
            w[1] += n
            if w[1] >= self.budget and who not in self._over:
                self._over[who] = w[0] + self.window
                over.append(who)
        if len(self._dead) > _SENDERS_CACHED:
            self._dead = {k: w for k, w in self._dead.items() if now - w[0] < self.window}
        return over

    def take_unsaved(self) -> dict[Sender, int]:
        out, self.unsaved = self.unsaved, {}
        return out


def attribute(dead: int, before: dict[Sender, int], after: dict[Sender, int],
              batch: dict[Sender, int]) -> dict[Sender, int]:
    """Who the store's `dead` dead letters of a batch came from: the growth of each kiosk's
    dead-letter count (`after` minus `before`); what that does not explain (senders the store
    keeps no kiosk row for, e.g. an invalid id in the topic) is charged to the batch's senders
    without a row, in proportion to their messages in it."""
    out = {who: n - before.get(who, 0) for who, n in after.items() if n - before.get(who, 0) > 0}
    rest = dead - sum(out.values())
    unknown = {who: m for who, m in batch.items() if who not in after}
    if rest > 0 and unknown:
        total = sum(unknown.values())
        for who, m in unknown.items():
            share = max(1, round(rest * m / total))
            out[who] = out.get(who, 0) + share
    return out


class ShedCounts:
    """The `shed_senders` table of central's database (path or URL)."""

    def __init__(self, target: str | Path | Database):
        self.db = target if isinstance(target, Database) else open_database(target)
        self._own = not isinstance(target, Database)
        migrate(self.db, "shed", MIGRATIONS)

    def save(self, counts: dict[Sender, int], now: dt.datetime | None = None) -> None:
        if not counts:
            return
        at = utc_iso(now or dt.datetime.now(dt.timezone.utc))
        with self.db.transaction() as conn:
            conn.executemany(
                "insert into shed_senders(site, kiosk, messages, first_at, last_at) values (?, ?, ?, ?, ?) "
                "on conflict (site, kiosk) do update set messages = shed_senders.messages + excluded.messages, "
                "last_at = excluded.last_at",
                [(who[0], who[1], n, at, at) for who, n in sorted(counts.items())])

    def senders(self) -> list[dict]:
        return self.db.dicts("select site, kiosk, messages, first_at, last_at from shed_senders "
                             "order by site, kiosk")

    def total(self) -> int:
        row = self.db.query_one("select coalesce(sum(messages), 0) from shed_senders")
        return int(row[0]) if row else 0

    def close(self) -> None:
        if self._own:
            self.db.close()


def shed_senders(target: str | Path) -> list[dict]:
    """The `shed_senders` rows of central's database (path or URL), for reports; [] when central
    never shed anything there (reads only: no migration)."""
    db = open_database(target)
    try:
        if "shed_senders" not in db.table_names():
            return []
        return db.dicts("select site, kiosk, messages, first_at, last_at from shed_senders order by site, kiosk")
    finally:
        db.close()
