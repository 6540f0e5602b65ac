"""The web app's own tables as versioned migrations, room "web" of `kiosk.central.db.migrate`,
on SQLite and PostgreSQL alike. Version 1 is `create table if not exists`, so a SQLite central.db
made before migrations (by `auth.ensure_schema`/`state.ensure_schema` of old) is taken as it is.

`ensure(db)` also makes sure central's own rooms exist first (the store's tables and the
materialised summaries the pages read): the web app may start before `kiosk central` ever ran.
"""

from __future__ import annotations

from .. import summaries
from ..db import Conn, Database, Step, migrate, using
from . import auth, oidc, sessions, state, views

MIGRATIONS = [
    Step(1, "users, login failures, audit, alert actions", auth.SCHEMA + ";" + state.SCHEMA),
    # the pages' sums over a year read this narrow index instead of every wide web_days row
    Step(2, "PostgreSQL: a covering index of the summed web_days columns (views)", postgresql=views.PG_INDEXES_V2,
         sqlite=""),
    # the sheet's per-warning columns are summed too: the index above replaced by one covering them
    Step(3, "PostgreSQL: the covering index of web_days with the per-warning columns (views)",
         postgresql=views.PG_INDEXES, sqlite=""),
    Step(4, "sessions stored at central: the cookie holds only their opaque id", sessions.SCHEMA),
    Step(5, "pending OpenID Connect sign-ins (state, nonce, PKCE verifier), single use", oidc.SCHEMA),
]


def ensure_central(db: Database | Conn) -> None:
    """The store's and the summaries' tables (their rooms), made if `kiosk central` has not yet."""
    summaries.ensure_schema(db)


def _current(conn: Conn) -> bool:
    """A read-only look (each inbox poll asks): is room "web" at its latest version?"""
    if "schema_migrations" not in conn.table_names():
        return False
    row = conn.query_one("select max(version) from schema_migrations where room = 'web'")
    return bool(row) and row[0] == MIGRATIONS[-1].version  # type: ignore[index]


def ensure(db: Database | Conn) -> list[int]:
    """Central's rooms, then room "web"; returns the web versions applied now."""
    ensure_central(db)
    with using(db) as conn:
        if _current(conn):
            return []
    return migrate(db, "web", MIGRATIONS)
