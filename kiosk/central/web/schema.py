"""The web app's own tables as versioned migrations, room "web" of `kiosk.central.db.migrate`,
on SQLite and PostgreSQL alike. Version 1 is `create table if not exists`, so a SQLite central.db
made before migrations (by `auth.ensure_schema`/`state.ensure_schema` of old) is taken as it is.

`ensure(db)` also makes sure central's own rooms exist first (the store's tables and the
materialised summaries the pages read): the web app may start before `kiosk central` ever ran.
"""

from __future__ import annotations

from .. import summaries
from ..db import Conn, Database, Step, migrate, using

# Each step's SQL is written out here and frozen: a step, once merged, is never edited (a database
# made new and one upgraded must end the same; tests/test_migrations.py checks). A change is a new step.

# users, sign-in failures, audit (auth.py) and the TLs' alert actions (state.py). `create table if
# not exists` accepts the tables of a SQLite central.db from before migrations (`n integer primary key`)
_V1 = """
create table if not exists web_users (username TEXT PRIMARY KEY, role TEXT NOT NULL,
    hash TEXT NOT NULL, created_at TEXT NOT NULL);
create table if not exists web_login_failures (n INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,
    username TEXT, ip TEXT);
create index if not exists web_login_failures_at on web_login_failures(at);
create table if not exists web_audit (n INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT,
    action TEXT NOT NULL, detail TEXT, ip TEXT);
create table if not exists web_alert_actions (n INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL,
    site TEXT NOT NULL, kiosk TEXT NOT NULL, day TEXT, action TEXT NOT NULL, who TEXT NOT NULL,
    at TEXT NOT NULL, text TEXT);
create index if not exists web_alert_actions_alert on web_alert_actions(alert_id);
create index if not exists web_alert_actions_where on web_alert_actions(site, day)
"""

# the pages' sums over a year (views.py) read this narrow index instead of every wide web_days row;
# PostgreSQL only (SQLite has the summaries' own covering index)
_V2_POSTGRESQL = """
create index if not exists web_days_totals on web_days(day) include (deadline_met, site, kiosk, "alerts",
    "alerts_bestridan", "alerts_deadline_missed", "alerts_tillfalliga", "count_dodsbo", "count_faktura",
    "count_inkomna_brev", "count_leta_kund", "count_ovriga_brev", "count_ovriga_streckkod", "count_sekretess",
    "count_tillfalliga", "cover_slips_printed", "extra_scans", "labels_printed", "late_letters", "leta_kund_A",
    "leta_kund_B", "leta_kund_C", "leta_kund_D", "leta_kund_H", "leta_kund_apartments", "missing_scans",
    "scans_accepted", "scans_rejected")
"""

# the sheet's per-warning columns are summed too: the index of step 2 replaced by one covering them
# (PostgreSQL allows 32 columns in an index: the day, deadline_met and 30 summed columns)
_V3_POSTGRESQL = """
drop index if exists web_days_totals;
create index if not exists web_days_sums on web_days(day) include (deadline_met, "alerts", "alerts_bestridan",
    "alerts_cancelled", "alerts_deadline_missed", "alerts_tillfalliga", "count_dodsbo", "count_faktura",
    "count_inkomna_brev", "count_leta_kund", "count_ovriga_brev", "count_ovriga_streckkod", "count_sekretess",
    "count_tillfalliga", "cover_slip_missing", "cover_slips_printed", "extra_scans", "label_reprints",
    "labels_missing", "labels_printed", "late_letters", "leta_kund_A", "leta_kund_B", "leta_kund_C", "leta_kund_D",
    "leta_kund_H", "leta_kund_apartments", "missing_scans", "scans_accepted", "scans_rejected", "unscanned")
"""

# sessions stored at central (sessions.py): the cookie holds only the session's opaque id
_V4 = """
create table if not exists web_sessions (id TEXT PRIMARY KEY, username TEXT NOT NULL, role TEXT NOT NULL,
    via TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL, seen_at TEXT NOT NULL, ip TEXT,
    id_token TEXT);
create index if not exists web_sessions_user on web_sessions(username)
"""

# pending OpenID Connect sign-ins (oidc.py): state, nonce and PKCE verifier, each used once
_V5 = """
create table if not exists web_oidc_logins (state TEXT PRIMARY KEY, nonce TEXT NOT NULL, verifier TEXT NOT NULL,
    next TEXT NOT NULL, browser TEXT NOT NULL, created_at TEXT NOT NULL)
"""

MIGRATIONS = [
    Step(1, "users, login failures, audit, alert actions", _V1),
    Step(2, "PostgreSQL: a covering index of the summed web_days columns (views)", postgresql=_V2_POSTGRESQL,
         sqlite=""),
    Step(3, "PostgreSQL: the covering index of web_days with the per-warning columns (views)",
         postgresql=_V3_POSTGRESQL, sqlite=""),
    Step(4, "sessions stored at central: the cookie holds only their opaque id", _V4),
    Step(5, "pending OpenID Connect sign-ins (state, nonce, PKCE verifier), single use", _V5),
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
