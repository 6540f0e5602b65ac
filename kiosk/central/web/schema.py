"""The web app's own tables as versioned migrations, room "web" of `kiosk.central.db.migrate`,
on SQLite and PostgreSQL alike. Version 1 is `create table if not exists`, so a SQLite central.db
made before migrations (by `auth.ensure_schema`/`state.ensure_schema` of old) is taken as it is.

`ensure(db)` also makes sure central's own rooms exist first (the store's tables and the
materialised summaries the pages read): the web app may start before `kiosk central` ever ran.
"""

from __future__ import annotations

from .. import summaries
from ..db import Database, Step, migrate
from . import auth, state

MIGRATIONS = [
    Step(1, "users, login failures, audit, alert actions", auth.SCHEMA + ";" + state.SCHEMA),
]


def ensure_central(db: Database) -> None:
    """The store's and the summaries' tables (their rooms), made if `kiosk central` has not yet."""
    summaries.ensure_schema(db)


def ensure(db: Database) -> list[int]:
    """Central's rooms, then room "web"; returns the web versions applied now."""
    ensure_central(db)
    return migrate(db, "web", MIGRATIONS)
