"""Heartbeats of central's long-running parts (the collector, the delivery worker) in central's
database, so that `kiosk web`'s /readyz (any process, any host) sees whether they are alive.

A room of its own ("health", one small table): `Heartbeat(name).beat(db)` is the one call a loop
makes each turn; it writes at most every `every` seconds (a monotonic check otherwise) and never
raises (a heartbeat that cannot be written is a stale heartbeat: that is what /readyz reports).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time

from .db import Conn, Database, Step, migrate, using

log = logging.getLogger(__name__)
COLLECTOR, DELIVERY = "collector", "delivery"
MIGRATIONS = [Step(1, "heartbeats of the collector and the delivery worker",
                   "create table if not exists heartbeats (name TEXT PRIMARY KEY, at TEXT NOT NULL, host TEXT)")]


def ensure_schema(db: Database | Conn) -> None:
    migrate(db, "health", MIGRATIONS)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def write(db: Database | Conn, name: str, now: dt.datetime) -> None:
    with using(db) as conn:
        conn.execute("insert into heartbeats(name, at, host) values (?,?,?) on conflict(name) do update set "
                     "at = excluded.at, host = excluded.host", [name, _iso(now), socket.gethostname()])


def read(db: Database | Conn) -> dict[str, dt.datetime]:
    """Each part's last heartbeat (none yet: absent)."""
    with using(db) as conn:
        if "heartbeats" not in conn.table_names():
            return {}
        return {n: dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
                for n, at in conn.query("select name, at from heartbeats")}


class Heartbeat:
    def __init__(self, name: str, every: float = 10.0):
        self.name, self.every = name, every
        self._next = 0.0
        self._ready = False

    def beat(self, db: Database | Conn) -> None:
        t = time.monotonic()
        if t < self._next:
            return
        self._next = t + self.every
        try:
            if not self._ready:
                ensure_schema(db)
                self._ready = True
            write(db, self.name, dt.datetime.now(dt.timezone.utc))
        except Exception as exc:  # noqa: BLE001 - never the caller's failure; /readyz shows it stale
            log.debug("heartbeat %s not written: %s", self.name, exc)
