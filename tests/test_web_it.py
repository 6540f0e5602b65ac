"""Central as an IT department runs it: sessions stored at central, hardened pages, proxies and
throttling, health and metrics, requests that do not wait on each other. Over real HTTP against
the app served by uvicorn (kiosk_dev.web_serve), and in chromium where a browser is the point."""

from __future__ import annotations

import datetime as dt
import http.cookiejar

import pytest

from kiosk.central.db import open_database
from kiosk.central.web import auth, settings
from kiosk.central.web.app import COOKIE, create_app
from kiosk_dev.web_serve import Client, Served

from .test_web import at, both_engines, central_db, clock  # noqa: F401  (fixtures)
from .web_helpers import PASSWORDS

SECRET = "s" * 64


@pytest.fixture
def served(central_db, clock):  # noqa: F811
    app = create_app(central_db, secret=SECRET, clock=clock,
                     settings=settings.Settings(session_idle=dt.timedelta(minutes=30)))
    with Served(app) as s:
        yield s


def _cookie(c: Client) -> str:
    return next(k.value for k in c.jar if k.name == COOKIE)


def _with_cookie(base: str, value: str) -> Client:
    """Another browser given a copy of a session cookie."""
    other = Client(base)
    host = base.split("//", 1)[1].split(":", 1)[0]
    other.jar.set_cookie(http.cookiejar.Cookie(0, COOKIE, value, None, False, host, False, False, "/", True,
                                               False, None, False, None, None, {}))
    return other


# -- sessions ---------------------------------------------------------------------------------------
@both_engines
def test_a_cookie_copied_before_logout_is_refused_after_it(served, central_db):
    c = Client(served.url)
    assert c.login("tl1", PASSWORDS["tl1"]) == 303
    value = _cookie(c)
    assert "tl1" not in value and len(value) >= 40  # an opaque random id, nothing readable in it
    copy = _with_cookie(served.url, value)
    assert copy.request("/larm", follow=False)[0] == 200  # the copy works while the session lives
    token = c.csrf("/larm")
    assert c.request("/logout", {"csrf": token}, follow=False)[0] == 303
    assert copy.request("/larm", follow=False)[0] == 303  # the same cookie, refused after "Logga ut"
    assert c.request("/larm", follow=False)[0] == 303
    with open_database(central_db) as db:
        assert db.query("select count(*) from web_sessions") == [(0,)]


def test_the_database_holds_no_cookie(served, central_db):
    c = Client(served.url)
    assert c.login("lasare", PASSWORDS["lasare"]) == 303
    with open_database(central_db) as db:
        stored = db.query("select id, username from web_sessions")
    assert len(stored) == 1 and stored[0][1] == "lasare" and stored[0][0] != _cookie(c)


def test_role_change_password_change_and_removal_end_sessions(served, central_db, clock):  # noqa: F811
    def signed_in(name):
        c = Client(served.url)
        assert c.login(name, PASSWORDS[name]) == 303 and c.request("/larm", follow=False)[0] == 200
        return c

    tl, other, viewer = signed_in("tl1"), signed_in("tl2"), signed_in("lasare")
    with open_database(central_db) as db, db.transaction() as conn:
        auth.add_user(conn, "tl1", "viewer", PASSWORDS["tl1"], clock())  # a role change
        auth.add_user(conn, "lasare", "viewer", "ett nytt lösenord", clock())  # a password change
    assert tl.request("/larm", follow=False)[0] == 303
    assert viewer.request("/larm", follow=False)[0] == 303
    assert other.request("/larm", follow=False)[0] == 200  # nobody else's session ended
    again = signed_in("tl1")
    assert "tl1 (läsare)" in again.get("/larm")[2].decode()  # the new role, from a new sign-in
    with open_database(central_db) as db, db.transaction() as conn:
        auth.remove_user(conn, "tl2", clock())
    assert other.request("/larm", follow=False)[0] == 303


def test_idle_and_absolute_timeouts(served, clock):  # noqa: F811
    c = Client(served.url)
    start = clock.value
    assert c.login("lasare", PASSWORDS["lasare"]) == 303
    for minutes in range(25, 9 * 60, 25):  # in use every 25 minutes: idle never reaches 30
        clock.value = start + dt.timedelta(minutes=minutes)
        assert c.request("/", follow=False)[0] == 200, minutes
    # the page's own polling is not use: 31 minutes of it end the session
    last = clock.value
    clock.value = last + dt.timedelta(minutes=20)
    poll = c.opener.open(_hx(served.url + "/delar/larm"), timeout=30)
    assert poll.status == 200
    clock.value = last + dt.timedelta(minutes=31)
    assert c.request("/", follow=False)[0] == 303

    c = Client(served.url)
    clock.value = start
    assert c.login("lasare", PASSWORDS["lasare"]) == 303
    for minutes in range(20, 10 * 60, 20):
        clock.value = start + dt.timedelta(minutes=minutes)
        assert c.request("/", follow=False)[0] == 200, minutes
    clock.value = start + dt.timedelta(hours=10, minutes=1)  # used all along, but 10 hours old
    assert c.request("/", follow=False)[0] == 303


def _hx(url: str):
    import urllib.request

    return urllib.request.Request(url, headers={"HX-Request": "true"})
