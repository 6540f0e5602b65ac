"""Every room of central's database in one call: the store, the materialised summaries, the web
app's tables, the delivery outbox and the shed counts, each through its own migrations.

`store.ensure_schema` calls `ensure_all` when it creates the store (a new database), so whichever
command creates central's database (`kiosk central`, `kiosk central import`, `deliver`, the web
app, `migrate --to`) makes every room before it stores a row: the delivery outbox's triggers then
see everything stored, an import into a new central included. Only a room added to an older
central later (an upgrade) starts after the rows stored before it (see the delivery outbox).
"""

from __future__ import annotations

from typing import Callable

from . import db as dbm
from . import store


def makers() -> list[tuple[str, Callable[[dbm.Conn], object]]]:
    """(room, schema maker) in the order they are made: the store's tables come first (the others'
    triggers and copies read them)."""
    from . import shedding, summaries
    from .delivery import outbox
    from .web import schema as web_schema

    return [("store", store.ensure_schema), ("summaries", summaries.ensure_schema),
            ("web", web_schema.ensure), ("delivery", outbox.ensure_schema),
            ("shed", lambda conn: dbm.migrate(conn, "shed", shedding.MIGRATIONS))]


def ensure_all(db: "dbm.Database | dbm.Conn") -> None:
    """Every room of central on `db` (idempotent)."""
    for _room, make in makers():
        make(db)  # type: ignore[arg-type]


store.ON_NEW_DATABASE.append(ensure_all)
