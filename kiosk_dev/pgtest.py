"""A throw-away PostgreSQL database for tests and benchmarks.

The development and CI machines run PostgreSQL on 127.0.0.1:5432 with trust auth
(`.ci/run` and `scripts/test` start it when it is down: scripts/postgres-up). `KIOSK_TEST_PG`
names another server (a URL to its maintenance database). Each `temp_database()` creates its own
database with a random name and drops it afterwards, also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import urllib.parse
from typing import Iterator

SERVER = os.environ.get("KIOSK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


class NoPostgres(RuntimeError):
    pass


def _admin():
    import psycopg

    try:
        return psycopg.connect(SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise NoPostgres(
            f"no PostgreSQL at {SERVER} ({exc}); start it with scripts/postgres-up, or set KIOSK_TEST_PG") from exc


def url_for(name: str) -> str:
    u = urllib.parse.urlsplit(SERVER)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, ""))


def create_database(prefix: str = "kiosk_test") -> str:
    name = f"{prefix}_{secrets.token_hex(6)}"
    with _admin() as conn:
        conn.execute(f'create database "{name}"')
    return url_for(name)


def drop_database(url: str) -> None:
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    with _admin() as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@contextlib.contextmanager
def temp_database(prefix: str = "kiosk_test") -> Iterator[str]:
    """A new, empty database's URL; dropped on leaving (connections still open are cut)."""
    url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(url)
