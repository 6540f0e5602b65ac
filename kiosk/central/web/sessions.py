"""Sessions of the web app, stored at central: the browser's cookie holds only an opaque random id.

A session row (`web_sessions`) is keyed by the SHA-256 of that id (a copy of the table gives no
cookie), and holds who, the role at sign-in, how they signed in, the CSRF token of its forms, when
it began and when it was last used. It ends when:
  - the user signs out (the row is deleted: a cookie copied before "Logga ut" is refused after),
  - the user is removed, their role or password changes (`end_for_user`, from auth),
  - it was idle longer than `idle` or older than `absolute` (`Settings`),
  - a password user's role in `web_users` no longer matches the session's (checked each request).

Every function takes a `kiosk.central.db.Conn` of either engine; several web processes share the
table, so a session begun at one is known at every other and ended at all at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from ..db import Conn

# version 3 of room "web" (kiosk.central.web.schema)
# its table, web_sessions: web migration step 4 in web/schema.py (frozen there)
TOUCH_EVERY = dt.timedelta(seconds=60)  # last use written at most this often (idle is kept to the minute)


@dataclass(frozen=True)
class Session:
    key: str  # the stored key (hash of the cookie's id)
    username: str
    role: str
    via: str  # "password" or "oidc"
    csrf: str
    created_at: dt.datetime
    seen_at: dt.datetime
    id_token: str | None = None


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def key_of(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "replace")).hexdigest()


def begin(conn: Conn, username: str, role: str, via: str, now: dt.datetime, ip: str | None,
          id_token: str | None = None) -> str:
    """A new session; returns the cookie's value (shown once, stored only as its hash)."""
    cookie = secrets.token_urlsafe(32)
    conn.execute("insert into web_sessions(id, username, role, via, csrf, created_at, seen_at, ip, id_token) "
                 "values (?,?,?,?,?,?,?,?,?)",
                 [key_of(cookie), username, role, via, secrets.token_urlsafe(32), _iso(now), _iso(now), ip, id_token])
    return cookie


def find(conn: Conn, cookie: str | None, now: dt.datetime, *, idle: dt.timedelta, absolute: dt.timedelta,
         touch: bool = True) -> Session | None:
    """The live session of a cookie, or None (unknown, ended, idle too long, too old: an expired
    row is deleted). `touch`: this request counts as use (a page's own polling does not)."""
    if not cookie or len(cookie) > 200:
        return None
    key = key_of(cookie)
    row = conn.query_one("select username, role, via, csrf, created_at, seen_at, id_token from web_sessions "
                         "where id = ?", [key])
    if row is None:
        return None
    s = Session(key, row[0], row[1], row[2], row[3], _parse(row[4]), _parse(row[5]), row[6])
    if now - s.created_at > absolute or now - s.seen_at > idle or s.created_at > now + dt.timedelta(minutes=5):
        end(conn, key)
        return None
    if touch and now - s.seen_at >= TOUCH_EVERY:
        conn.execute("update web_sessions set seen_at = ? where id = ?", [_iso(now), key])
    return s


def end(conn: Conn, key: str) -> None:
    conn.execute("delete from web_sessions where id = ?", [key])


def end_for_user(conn: Conn, username: str) -> int:
    """Every session of `username` ended (removed, role or password changed); how many."""
    return conn.execute("delete from web_sessions where username = ?", [username]).rowcount


def purge(conn: Conn, now: dt.datetime, *, idle: dt.timedelta, absolute: dt.timedelta) -> int:
    """Delete the rows of sessions past either timeout (done now and then at sign-in)."""
    return conn.execute("delete from web_sessions where seen_at < ? or created_at < ?",
                        [_iso(now - idle), _iso(now - absolute)]).rowcount
