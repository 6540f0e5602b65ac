"""Sign-in with the organisation's account through a real OpenID Connect provider process
(`oidc-provider-mock`, tests/oidc_provider.py), over real HTTP: the app's redirect, the provider's
authorization form, the answer back to the app, the code exchanged at the provider's token endpoint."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

import pytest

from kiosk.central.db import open_database
from kiosk.central.web import settings
from kiosk.central.web.app import COOKIE, create_app
from kiosk.central.web.oidc import OidcSettings
from kiosk_dev.web_serve import Client, Served, _NoRedirect

from .oidc_provider import Proxy, provider, set_user
from .test_web import central_db  # noqa: F401  (fixture)
from .web_helpers import MutableClock

CLAIMS = {"anna": {"preferred_username": "anna@example.se", "roles": ["returpost.tl"]},
          "bo": {"preferred_username": "bo@example.se", "roles": ["returpost.viewer"]},
          "cecilia": {"preferred_username": "cecilia@example.se", "roles": ["annan.app"]}}


@pytest.fixture(scope="module")
def issuer():
    with provider(token_max_age=30) as upstream, Proxy(upstream) as proxy:
        for sub, claims in CLAIMS.items():
            set_user(proxy.url, sub, claims)
        proxy.upstream_url = upstream
        yield proxy


@pytest.fixture
def clock():
    return MutableClock(dt.datetime.now(dt.timezone.utc))


@pytest.fixture
def served(central_db, issuer, clock):  # noqa: F811
    issuer.mode = None
    cfg = settings.Settings(oidc=OidcSettings(name="Testkonto", issuer=issuer.url, client_id="returpost",
                                              client_secret="hemlig-klientnyckel-123", tl_values=("returpost.tl",),
                                              viewer_values=("returpost.viewer",)))
    with Served(create_app(central_db, secret="s" * 64, clock=clock, settings=cfg)) as s:
        yield s


def _authorize(c: Client, sub: str) -> str:
    """Start at the login page's button, answer the provider's form as `sub`: the URL the
    provider sends the browser back to (not yet followed)."""
    status, headers, _ = c.request("/login/oidc?next=%2Flarm", follow=False)
    assert status == 303, status
    url = headers["location"]
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert q["code_challenge_method"] == "S256" and q["state"] and q["nonce"] and q["redirect_uri"].endswith("/login/oidc/svar")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(c.jar), _NoRedirect())
    try:
        opener.open(urllib.request.Request(url, data=urllib.parse.urlencode({"sub": sub}).encode()), timeout=30)
    except urllib.error.HTTPError as exc:
        assert exc.code in (302, 303), exc.code
        return exc.headers["location"]
    raise AssertionError("the provider did not redirect")


def _answer(c: Client, back: str):
    u = urllib.parse.urlsplit(back)
    return c.request(f"{u.path}?{u.query}", follow=False)


def test_the_login_page_offers_the_provider(served):
    _, _, body = Client(served.url).get("/login")
    assert 'id="oidc-login"' in body.decode() and "Logga in med Testkonto" in body.decode()


def test_a_tl_and_a_viewer_sign_in_and_their_roles_hold(served, central_db):  # noqa: F811
    tl = Client(served.url)
    status, headers, _ = _answer(tl, _authorize(tl, "anna"))
    assert status == 303 and headers["location"] == "/larm"
    html = tl.get("/larm")[2].decode()
    assert "anna@example.se (TL)" in html and 'href="/sparrar"' in html
    viewer = Client(served.url)
    assert _answer(viewer, _authorize(viewer, "bo"))[0] == 303
    assert "bo@example.se (läsare)" in viewer.get("/larm")[2].decode()
    assert viewer.request("/sparrar", follow=False)[0] == 403
    with open_database(central_db) as db:
        rows = db.query("select username, role, via from web_sessions order by username")
        logins = db.query("select who from web_audit where action = 'login' order by n")
    assert rows == [("anna@example.se", "tl", "oidc"), ("bo@example.se", "viewer", "oidc")]
    assert logins == [("anna@example.se",), ("bo@example.se",)]


def test_a_user_with_no_role_is_refused_in_swedish(served):
    c = Client(served.url)
    status, headers, body = _answer(c, _authorize(c, "cecilia"))
    assert status == 403
    assert "Du är inloggad som cecilia@example.se hos Testkonto, men du har ingen roll i Returpost" in body.decode()
    assert COOKIE not in {k.name for k in c.jar} and c.request("/", follow=False)[0] == 303


def test_a_replayed_answer_is_refused(served):
    c = Client(served.url)
    back = _authorize(c, "anna")
    assert _answer(c, back)[0] == 303
    status, _, body = _answer(Client(served.url), back)  # another browser with the same answer
    assert status == 400 and "Inloggningen har gått ut eller redan använts" in body.decode()
    status, _, body = _answer(c, back)  # the same browser again
    assert status == 400 and "redan använts" in body.decode()
    other = Client(served.url)  # an answer meant for one browser, taken to another
    back = _authorize(other, "anna")
    assert _answer(Client(served.url), back)[0] == 400


def test_a_tampered_id_token_is_refused(served, issuer, caplog):
    issuer.mode, issuer.change = "claims", {"roles": ["returpost.tl"]}  # a viewer makes herself TL
    c = Client(served.url)
    status, _, body = _answer(c, _authorize(c, "bo"))
    assert status == 400 and "Inloggningen med Testkonto kunde inte bekräftas" in body.decode()
    assert c.request("/", follow=False)[0] == 303
    assert "BadSignatureError" in caplog.text


def test_an_id_token_from_another_issuer_is_refused(served, issuer, caplog):
    issuer.mode = "issuer"  # signed by the provider's key, but naming the provider's own address
    c = Client(served.url)
    status, _, body = _answer(c, _authorize(c, "anna"))
    assert status == 400 and "kunde inte bekräftas" in body.decode()
    assert "Invalid claim: 'iss'" in caplog.text


def test_an_expired_id_token_is_refused(served, clock, caplog):
    c = Client(served.url)
    back = _authorize(c, "anna")
    clock.value += dt.timedelta(minutes=3)  # the token lives 30 s (+60 s leeway); the answer 10 min
    status, _, body = _answer(c, back)
    assert status == 400 and "kunde inte bekräftas" in body.decode()
    assert "ExpiredTokenError" in caplog.text and "hemlig-klientnyckel" not in caplog.text


def test_wrong_issuer_configured_is_refused_before_leaving(central_db, issuer, clock):  # noqa: F811
    cfg = settings.Settings(oidc=OidcSettings(name="Testkonto", issuer=issuer.url + "/fel", client_id="returpost",
                                              client_secret="x" * 20))
    with Served(create_app(central_db, secret="s" * 64, clock=clock, settings=cfg)) as served:
        status, _, body = Client(served.url).request("/login/oidc", follow=False)
    assert status == 502 and "Kunde inte nå Testkonto" in body.decode()


def test_logout_ends_the_session_here_and_at_the_provider(served, issuer):
    c = Client(served.url)
    assert _answer(c, _authorize(c, "anna"))[0] == 303
    value = next(k.value for k in c.jar if k.name == COOKIE)
    copy = Client(served.url)
    copy.jar.set_cookie(http.cookiejar.Cookie(0, COOKIE, value, None, False, "127.0.0.1", False, False, "/", True,
                                              False, None, False, None, None, {}))
    assert copy.request("/larm", follow=False)[0] == 200
    status, headers, _ = c.request("/logout", {"csrf": c.csrf("/larm")}, follow=False)
    assert status == 303 and headers["location"].startswith(issuer.url + "/oauth2/end_session?")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["location"]).query))
    assert q["post_logout_redirect_uri"] == served.url + "/login" and q["id_token_hint"].count(".") == 2
    assert copy.request("/larm", follow=False)[0] == 303 and c.request("/larm", follow=False)[0] == 303


def test_oidc_config_secret_from_the_environment_and_checks(tmp_path, monkeypatch):
    from kiosk.core.config import ConfigError, parse

    text = ('[web.oidc]\nenabled = true\nissuer = "https://login.microsoftonline.com/t/v2.0"\nclient_id = "abc"\n'
            'client_secret_env = "RETURPOST_OIDC_SECRET"\nroles_claim = "groups"\ntl_values = ["g-tl"]\n')
    monkeypatch.setenv("RETURPOST_OIDC_SECRET", "hemlig-från-miljön-1234")
    got = settings.from_config(parse(text)).oidc
    assert got is not None and got.client_secret == "hemlig-från-miljön-1234" and got.roles_claim == "groups"
    assert "hemlig" not in repr(got)
    for bad, key in ((text.replace('client_secret_env = "RETURPOST_OIDC_SECRET"\n', ""), "client_secret_file"),
                     (text.replace('"https://login', '"http://login'), "issuer"),
                     (text.replace('client_id = "abc"', 'client_id = ""'), "client_id")):
        with pytest.raises(ConfigError) as err:
            parse(bad)
        assert err.value.key == f"web.oidc.{key}"


def test_a_signed_in_password_user_may_switch_to_the_organisations_account(served):
    from .web_helpers import PASSWORDS

    from kiosk.central.web.app import PRE_COOKIE

    c = Client(served.url)
    assert c.login("tl1", PASSWORDS["tl1"]) == 303
    for ck in [ck for ck in c.jar if ck.name == PRE_COOKIE]:  # signed in, no pre-session cookie left
        c.jar.clear(ck.domain, ck.path, ck.name)
    status, _, _ = _answer(c, _authorize(c, "bo"))
    assert status == 303 and "bo@example.se (läsare)" in c.get("/larm")[2].decode()
