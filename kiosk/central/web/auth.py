"""Who may use the web app: users with argon2 password hashes, login throttling, the audit table.

Tables (room "web" of central's migrations, `kiosk.central.web.schema`):
  web_users(username, role 'tl'|'viewer', hash, created_at)
  web_login_failures(n, at, username, ip)     - failed sign-ins, for throttling (per user and address,
                                                and per address: `throttled`; a TL lifts a lock: `lift`)
  web_audit(n, at, who, action, detail, ip)   - every write (sign-in, acknowledge, answer, users)

Every function takes a `kiosk.central.db.Conn` (SQLite or PostgreSQL); the caller holds the
transaction. Several web processes may share one database: nothing here is kept in memory.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..db import POSTGRESQL, Conn
from . import sessions

ROLES = ("tl", "viewer")
USERNAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
PASSWORD_MIN = 8
THROTTLE_WINDOW = dt.timedelta(minutes=15)
THROTTLE_MAX = 5  # failures per (username, address) within the window
THROTTLE_ADDRESS_MAX = 20  # failures per address (any usernames) within the window

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not a password of anyone")


def ensure_schema(db) -> None:
    """The web room and central's rooms (`schema.ensure`), for a caller holding any handle."""
    from . import state

    state.ensure_schema(db)


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class UserError(ValueError):
    pass


def audit(conn: Conn, now: dt.datetime, who: str | None, action: str, detail=None,
          ip: str | None = None) -> None:
    text = detail if isinstance(detail, str) or detail is None else json.dumps(detail, ensure_ascii=False)
    conn.execute("insert into web_audit(at, who, action, detail, ip) values (?,?,?,?,?)",
                 [_iso(now), who, action, text, ip])


def add_user(conn: Conn, username: str, role: str, password: str, now: dt.datetime) -> None:
    if not USERNAME_RE.match(username or ""):
        raise UserError("username: 1-64 of A-Z a-z 0-9 . _ @ -")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < PASSWORD_MIN:
        raise UserError(f"password: at least {PASSWORD_MIN} characters")
    conn.execute("insert into web_users(username, role, hash, created_at) values (?,?,?,?) "
                 "on conflict(username) do update set role = excluded.role, hash = excluded.hash",
                 [username, role, _hasher.hash(password), _iso(now)])
    sessions.end_for_user(conn, username)  # a new role or password: signed in again
    audit(conn, now, None, "user_add", {"username": username, "role": role})


def remove_user(conn: Conn, username: str, now: dt.datetime) -> bool:
    gone = conn.execute("delete from web_users where username = ?", [username]).rowcount > 0
    sessions.end_for_user(conn, username)
    if gone:
        audit(conn, now, None, "user_remove", {"username": username})
    return gone


def users(conn: Conn) -> list[dict]:
    return [{"username": u, "role": r, "created_at": c}
            for u, r, c in conn.execute("select username, role, created_at from web_users order by username")]


def role_of(conn: Conn, username: str) -> str | None:
    row = conn.execute("select role from web_users where username = ?", [username]).fetchone()
    return row[0] if row else None


def _free_at(ats: list[str], limit: int) -> dt.datetime | None:
    """When a lock of `limit` failures (their times `ats`, newest first) ends; None if not locked."""
    if len(ats) < limit:
        return None
    return dt.datetime.fromisoformat(ats[limit - 1].replace("Z", "+00:00")) + THROTTLE_WINDOW


def throttled(conn: Conn, username: str, ip: str | None, now: dt.datetime) -> dt.datetime | None:
    """When sign-in is possible again for this username from this address, or None if it is now.
    Failures count per (username, address) and per address: guessing from one address locks that
    address, never the user at the others."""
    since = _iso(now - THROTTLE_WINDOW)
    pair = [a for (a,) in conn.execute("select at from web_login_failures where username = ? and coalesce(ip, '') = ? "
                                       "and at > ? order by at desc", [username, ip or "", since]).fetchall()]
    addr = [a for (a,) in conn.execute("select at from web_login_failures where coalesce(ip, '') = ? and at > ? "
                                       "order by at desc", [ip or "", since]).fetchall()]
    frees = [t for t in (_free_at(pair, THROTTLE_MAX), _free_at(addr, THROTTLE_ADDRESS_MAX)) if t is not None]
    return max(frees) if frees else None


def locks(conn: Conn, now: dt.datetime) -> list[dict]:
    """The sign-in locks in force: per (username, address) and per address, with when each ends
    and how many failures made it (for the TL's page `/sparrar`)."""
    since = _iso(now - THROTTLE_WINDOW)
    pairs: dict[tuple[str, str], list[str]] = {}
    addresses: dict[str, list[str]] = {}
    for at, username, ip in conn.execute("select at, username, coalesce(ip, '') from web_login_failures "
                                         "where at > ? order by at desc", [since]).fetchall():
        pairs.setdefault((username or "", ip), []).append(at)
        addresses.setdefault(ip, []).append(at)
    out = []
    for ip, ats in sorted(addresses.items()):
        free = _free_at(ats, THROTTLE_ADDRESS_MAX)
        if free is not None:
            out.append({"username": None, "ip": ip, "until": free, "failures": len(ats)})
    for (username, ip), ats in sorted(pairs.items()):
        free = _free_at(ats, THROTTLE_MAX)
        if free is not None:
            out.append({"username": username, "ip": ip, "until": free, "failures": len(ats)})
    return out


def lift(conn: Conn, username: str | None, ip: str, now: dt.datetime, who: str, by_ip: str | None) -> int:
    """A TL lifts a lock: the failures of (username, address), or of the whole address."""
    if username is None:
        n = conn.execute("delete from web_login_failures where coalesce(ip, '') = ?", [ip]).rowcount
    else:
        n = conn.execute("delete from web_login_failures where username = ? and coalesce(ip, '') = ?",
                         [username, ip]).rowcount
    audit(conn, now, who, "lock_lifted", {"username": username, "ip": ip, "failures": n}, by_ip)
    return n


def _lock_attempts(conn: Conn, username: str, ip: str | None) -> None:
    if conn.engine != POSTGRESQL:
        return
    for value in sorted({f"u:{username[:64]}", f"a:{ip or ''}"}):  # one order: no deadlock
        conn.execute("select pg_advisory_xact_lock(cast(? as integer), cast(? as integer))", (0x7765, zlib.crc32(value.encode()) - 2**31))


def check_login(conn: Conn, username: str, password: str, ip: str | None,
                now: dt.datetime) -> tuple[str | None, str | None]:
    """(role, None) on success; (None, Swedish reason) otherwise. Throttled attempts are refused
    whatever the password, and every failure counts. Call inside a transaction: on PostgreSQL the
    username's and the address's locks make concurrent attempts from several web processes count
    one after the other (SQLite's write lock already does)."""
    _lock_attempts(conn, username, ip)
    free_at = throttled(conn, username, ip, now)
    if free_at is not None:
        minutes = max(1, int((free_at - now).total_seconds() // 60) + 1)
        audit(conn, now, username[:64], "login_throttled", None, ip)
        return None, f"För många misslyckade inloggningar. Försök igen om {minutes} minuter."
    row = conn.execute("select role, hash from web_users where username = ?", [username]).fetchone()
    ok = False
    try:
        if row is None:
            _hasher.verify(_DUMMY, password + "x")  # the same work as for a real user
        else:
            ok = _hasher.verify(row[1], password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        conn.execute("insert into web_login_failures(at, username, ip) values (?,?,?)",
                     [_iso(now), username[:64], ip])
        audit(conn, now, username[:64], "login_failed", None, ip)
        return None, "Fel användarnamn eller lösenord."
    conn.execute("delete from web_login_failures where username = ? and coalesce(ip, '') = ?", [username, ip or ""])
    audit(conn, now, username, "login", None, ip)
    return row[0], None
