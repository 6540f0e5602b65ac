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

from .test_web import at, both_engines, browser, central_db, clock  # noqa: F401  (fixtures)
from .mqtt_broker import broker, needs_mosquitto  # noqa: F401  (fixture)
from .web_helpers import PASSWORDS, needs_chromium

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


# -- hardened pages ----------------------------------------------------------------------------------
def _routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, path parameters filled in."""
    import re

    from starlette.routing import Route

    out = []
    for r in app.routes:
        if isinstance(r, Route):
            path = re.sub(r"\{[^}]+\}", "x", r.path)
            out += [(m, path) for m in sorted(r.methods or ()) if m in ("GET", "POST")]
    return out


def _check_headers(headers: dict, what: str, *, no_store: bool = True) -> None:
    h = {k.lower(): v for k, v in headers.items()}
    csp = h.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, what
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert h.get("x-frame-options") == "DENY" and h.get("x-content-type-options") == "nosniff", what
    assert h.get("referrer-policy") == "same-origin", what
    if no_store:
        assert h.get("cache-control") == "no-store", what
    assert "strict-transport-security" not in h, what  # plain HTTP: no HSTS


@both_engines
def test_every_route_carries_the_security_headers(tmp_path, central_db, served):
    from .web_helpers import KioskDay, example_day, ingest

    kiosk = KioskDay(tmp_path / "kiosk", None)
    example_day(kiosk, at(9).date())
    ingest(central_db, kiosk.messages())
    app = create_app(central_db, secret=SECRET)
    routes = _routes(app)  # the app is only read for its routes: its database is closed at once
    app.state.db.close()
    anonymous, tl = Client(served.url), Client(served.url)
    assert tl.login("tl1", PASSWORDS["tl1"]) == 303
    assert len(routes) >= 12
    extra = [("GET", "/uppfoljning?format=csv"), ("GET", "/uppfoljning?format=xlsx"), ("GET", "/returer?format=csv"),
             ("GET", "/finns-inte")]
    for method, path in routes + extra:
        for who, c in (("anonymous", anonymous), ("tl1", tl)):
            if path == "/logout":
                continue  # below: it would end the session of the other checks
            data = {"csrf": c.csrf("/larm" if who == "tl1" else "/login")} if method == "POST" else None
            status, headers, _ = c.request(path, data, follow=False)
            assert status < 500 or (path, status) == ("/readyz", 503), (method, path, who, status)  # no heartbeats here
            _check_headers(headers, f"{method} {path} as {who}: {status}")
    status, headers, _ = tl.request("/logout", {"csrf": tl.csrf("/larm")}, follow=False)
    assert status == 303
    _check_headers(headers, "POST /logout")
    status, headers, _ = anonymous.request("/static/htmx.min.js", follow=False)
    assert status == 200
    _check_headers(headers, "static", no_store=False)


@needs_chromium
def test_no_csp_violation_on_any_page_and_the_pages_still_work(tmp_path, central_db, served, browser, clock):  # noqa: F811
    """Every page in chromium with the policy on: nothing refused in the console; htmx still
    refreshes the live cards, the acknowledge form still posts, the error page's link still works."""
    from .test_web import _text
    from .web_helpers import wait_page as _wait
    from .web_helpers import KioskDay, browser_login, example_day, ingest

    kiosk = KioskDay(tmp_path / "kiosk", None)
    example_day(kiosk, at(9).date())
    kiosk.do(at(9, 40), cmd="login", operator="ANNA")
    kiosk.do(at(9, 41), cmd="incoming", kind="bestridan", segment="privat")
    ingest(central_db, kiosk.messages())
    browser_login(browser, served.url, "tl1")
    for path in ("/", "/larm", "/uppfoljning", "/returer?day=" + at(9).date().isoformat(), "/historik",
                 "/kiosker", "/uppfoljning?from=fel"):
        browser.get(served.url + path)
        _wait(browser, lambda d: d.execute_script("return document.readyState") == "complete", what=path)
    browser.get(served.url + "/")
    before = _text(browser, "#cards p.muted")
    clock.value = clock.value + dt.timedelta(minutes=1)
    _wait(browser, lambda d: _text(d, "#cards p.muted") != before, what="htmx to refresh the cards")
    browser.get(served.url + "/larm")
    browser.find_element("css selector", "form[action$='/ack'] button").click()
    _wait(browser, lambda d: "Larmet är kvitterat" in _text(d, "body"), what="the acknowledgement")
    browser.get(served.url + "/larm")
    browser.get(served.url + "/uppfoljning?from=fel")
    browser.find_element("css selector", "a[data-back]").click()
    _wait(browser, lambda d: d.current_url.endswith("/larm"), what="Tillbaka to go back")
    browser.get(served.url + "/logout-finns-inte")
    console = browser.get_log("browser")
    refused = [e["message"] for e in console if "Content Security Policy" in e["message"]
               or "Refused" in e["message"]]
    assert refused == [], refused
    errors = [e["message"] for e in console if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
    assert errors == [], errors


# -- proxies and guessing ----------------------------------------------------------------------------
def _from(base: str, address: str, **headers) -> Client:
    """A browser behind the proxy at `address` (as the proxy says in X-Forwarded-For)."""
    return Client(base, {"X-Forwarded-For": address, **headers})


def test_x_forwarded_for_is_ignored_from_a_peer_not_trusted(served):
    """No trusted proxy configured: a made-up X-Forwarded-For does not get round a lock, and
    X-Forwarded-Proto does not turn HSTS on."""
    for _ in range(5):
        assert _from(served.url, "203.0.113.9").login("tl1", "fel lösenord") == 401
    assert _from(served.url, "198.51.100.7").login("tl1", PASSWORDS["tl1"]) == 429  # still 127.0.0.1
    status, headers, _ = _from(served.url, "198.51.100.7", **{"X-Forwarded-Proto": "https"}).request("/login")
    assert status == 200 and "strict-transport-security" not in {k.lower() for k in headers}


@both_engines
def test_one_address_guessing_locks_neither_the_user_elsewhere_nor_others(central_db, clock):  # noqa: F811
    app = create_app(central_db, secret=SECRET, clock=clock, settings=settings.Settings(trusted_proxies=("127.0.0.1",)))
    attacker, office = "203.0.113.9", "10.1.2.3"
    with Served(app) as served:
        for _ in range(5):
            assert _from(served.url, attacker).login("tl1", "fel lösenord") == 401
        assert _from(served.url, attacker).login("tl1", PASSWORDS["tl1"]) == 429  # (tl1, attacker) locked
        assert _from(served.url, office).login("tl1", PASSWORDS["tl1"]) == 303  # the TL at the office is not
        assert _from(served.url, attacker).login("tl2", PASSWORDS["tl2"]) == 303  # nor another user there
        for i in range(15):  # guessing many names from one address: the address locks at 20 failures
            assert _from(served.url, attacker).login(f"gissning{i}", "fel lösenord") == 401
        assert _from(served.url, attacker).login("tl2", PASSWORDS["tl2"]) == 429
        assert _from(served.url, office).login("tl2", PASSWORDS["tl2"]) == 303
        status, headers, _ = _from(served.url, office, **{"X-Forwarded-Proto": "https"}).request("/login")
        assert status == 200 and headers.get("strict-transport-security", "").startswith("max-age=")
        with open_database(central_db) as db:
            ips = {ip for (ip,) in db.query("select distinct ip from web_login_failures")}
        assert ips == {attacker}


def test_a_tl_sees_and_lifts_a_lock(served, central_db):
    for _ in range(5):
        assert Client(served.url).login("tl2", "fel lösenord") == 401
    assert Client(served.url).login("tl2", PASSWORDS["tl2"]) == 429
    viewer, tl = Client(served.url), Client(served.url)
    assert viewer.login("lasare", PASSWORDS["lasare"]) == 303 and tl.login("tl1", PASSWORDS["tl1"]) == 303
    assert viewer.request("/sparrar", follow=False)[0] == 403
    assert 'href="/sparrar"' not in viewer.get("/")[2].decode()
    html = tl.get("/sparrar")[2].decode()
    assert 'href="/sparrar"' in html and "<td>tl2</td><td>127.0.0.1</td>" in html and "Häv spärren" in html
    assert "<td>09:45</td>" in html  # failures at 09:30 (the clock): locked 15 minutes, as sign-in is (test_web)
    assert viewer.request("/sparrar", {"csrf": viewer.csrf("/"), "username": "tl2", "ip": "127.0.0.1"},
                          follow=False)[0] == 403
    assert Client(served.url).login("tl2", PASSWORDS["tl2"]) == 429  # a viewer lifted nothing
    status, headers, _ = tl.request("/sparrar", {"csrf": tl.csrf("/sparrar"), "username": "tl2", "ip": "127.0.0.1"},
                                    follow=False)
    assert status == 303
    html = tl.get(headers["location"])[2].decode()
    assert "Spärren är hävd" in html and "Inga spärrar just nu" in html
    assert Client(served.url).login("tl2", PASSWORDS["tl2"]) == 303
    with open_database(central_db) as db:
        assert db.query("select who, action from web_audit where action = 'lock_lifted'") == [("tl1", "lock_lifted")]


# -- health and metrics ------------------------------------------------------------------------------
TOKEN = "metrics-token-0123456789abcdef"


def _scrape(base: str, token: str | None = TOKEN):
    c = Client(base, {"Authorization": f"Bearer {token}"} if token else {})
    return c.request("/metrics", follow=False)


@both_engines
def test_metrics_scraped_and_parsed_and_readyz_follows_the_heartbeats(tmp_path, central_db, clock):  # noqa: F811
    from prometheus_client.parser import text_string_to_metric_families

    from kiosk.central import heartbeat
    from kiosk.central.delivery import config as delivery_config, worker
    from kiosk.core.config import parse

    from .web_helpers import KioskDay, example_day, ingest

    kiosk = KioskDay(tmp_path / "kiosk", None)
    example_day(kiosk, at(9).date())
    kiosk.do(at(9, 40), cmd="login", operator="ANNA")
    kiosk.do(at(9, 41), cmd="incoming", kind="bestridan", segment="privat")
    sent = kiosk.messages()
    from kiosk.central.delivery import outbox

    with open_database(central_db) as db:
        outbox.ensure_schema(db)  # as `kiosk central` does before ingest: its cursors start at the first event
    import time

    heard = time.time()
    ingest(central_db, sent)
    from .web_helpers import CentralStore

    store = CentralStore(central_db)
    store.ingest([("returpost/v1/demo/kiosk-1/events", b"{not json")])  # one dead letter
    store.close()
    heard = (heard, time.time())  # when central heard the kiosk last (its receive time, not the events' own)
    # a notification target that refuses: a delivery row failing at that target
    cfg = parse('[[notify.targets]]\nurl = "json://127.0.0.1:9/hook"\nkinds = ["bestridan"]\n')
    worker.run_once(delivery_config.read(cfg), central_db, now=clock())

    app = create_app(central_db, secret=SECRET, clock=clock, settings=settings.Settings(metrics_token=TOKEN))
    with Served(app) as served:
        assert Client(served.url).get("/healthz")[:1] == (200,)
        status, _, body = Client(served.url).get("/readyz")
        assert status == 503 and body.decode() == "not ready: collector: no heartbeat; delivery: no heartbeat\n"
        for name in (heartbeat.COLLECTOR, heartbeat.DELIVERY):
            with open_database(central_db) as db:
                heartbeat.ensure_schema(db)
                heartbeat.write(db, name, clock() - dt.timedelta(seconds=30))
        assert Client(served.url).get("/readyz")[:1] == (200,)
        clock.value += dt.timedelta(seconds=100)  # 130 s since the beats: stale (120 s)
        status, _, body = Client(served.url).get("/readyz")
        assert status == 503 and "collector: last heartbeat 130 s ago" in body.decode()

        assert _scrape(served.url, None)[0] == 401
        assert _scrape(served.url, "fel-token-0123456789")[0] == 401
        tl = Client(served.url)
        assert tl.login("tl1", PASSWORDS["tl1"]) == 303 and tl.get("/larm")[0] == 200
        status, headers, body = _scrape(served.url)
        assert status == 200 and headers["content-type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(body.decode()):
            assert family.name.startswith("returpost_"), family.name
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    kiosk_labels = (("kiosk", "kiosk-1"), ("site", "demo"))
    assert samples[("returpost_events_stored", kiosk_labels)] == len(sent)
    assert samples[("returpost_dead_letters_total", kiosk_labels)] == 1
    assert samples[("returpost_kiosk_unconfirmed_events", kiosk_labels)] == 0
    assert heard[0] - 1 <= samples[("returpost_kiosk_last_seen_timestamp_seconds", kiosk_labels)] <= heard[1] + 1
    from collections import Counter

    from kiosk.central.web import state

    with open_database(central_db) as db:
        want = Counter(a["kind"] for a in state.alerts(db) if a["open"])
    assert want["bestridan"] >= 1
    assert {k[1][0][1]: v for k, v in samples.items() if k[0] == "returpost_open_alerts"} == dict(want)
    rows = {k[1]: v for k, v in samples.items() if k[0] == "returpost_deliveries"}
    # one notification per bestridan, to the refusing target: the first tried failed, the rest wait
    # behind it in the target's lane (a failing target is backed off as a whole)
    assert {dict(labels)["target"] for labels in rows} == {"json://127.0.0.1:9/…"}, rows
    assert sum(rows.values()) == want["bestridan"], rows
    assert rows.get((("state", "failing"), ("target", "json://127.0.0.1:9/…")), 0) >= 1, rows
    assert samples[("returpost_heartbeat_timestamp_seconds", (("name", "collector"),))] > 0
    assert samples[("returpost_http_request_duration_seconds_count", (("method", "GET"), ("route", "/larm")))] >= 1


@pytest.mark.parametrize("central_db", ["postgresql"], indirect=True)
def test_readyz_goes_unready_when_the_database_is_gone(central_db, clock):  # noqa: F811
    from kiosk.central import heartbeat
    from kiosk_dev.pgtest import drop_database

    for name in (heartbeat.COLLECTOR, heartbeat.DELIVERY):
        with open_database(central_db) as db:
            heartbeat.ensure_schema(db)
            heartbeat.write(db, name, clock())
    app = create_app(central_db, secret=SECRET, clock=clock)
    with Served(app) as served:
        assert Client(served.url).get("/readyz")[:1] == (200,)
        drop_database(central_db)
        status, _, body = Client(served.url).get("/readyz")
        assert status == 503 and body.decode().startswith("not ready: database:")
        assert Client(served.url).get("/healthz")[:1] == (200,)  # alive all the same


@needs_mosquitto
def test_the_collector_and_the_delivery_worker_write_their_heartbeats(broker, tmp_path, central_db):  # noqa: F811
    """The real collector on a real mosquitto and the real worker loop: /readyz turns ready."""
    import threading
    import time

    from kiosk.central.cli import start_delivery
    from kiosk.core.config import load

    from .mqtt_broker import kiosk_config
    from .web_helpers import Central

    config = load(kiosk_config(tmp_path / "central.toml", broker.port))
    app = create_app(central_db, secret=SECRET)
    stop = threading.Event()
    collector = Central(config, central_db).start()
    worker = start_delivery(config, central_db, stop)
    try:
        with Served(app) as served:
            assert collector.wait_subscribed(10) and worker is not None
            deadline = time.monotonic() + 30
            while Client(served.url).get("/readyz")[0] != 200:
                assert time.monotonic() < deadline, Client(served.url).get("/readyz")[2]
                time.sleep(0.2)
    finally:
        stop.set()
        collector.stop()
        if worker is not None:
            worker.join(10)


def test_the_grafana_dashboard_uses_only_metrics_the_app_exports():
    """docs/central-it-grafana.json: valid JSON, and every returpost_ name in its queries is one
    /metrics exports (kiosk/central/web/metrics.py lists them)."""
    import json
    import re

    from kiosk.central.web import metrics

    from .conftest import ROOT

    doc = json.loads((ROOT / "docs" / "central-it-grafana.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    used = {re.sub(r"_(bucket|count|sum)$", "", n) for e in exprs for n in re.findall(r"returpost_[a-z_]+", e)}
    exported = set(re.findall(r"^  (returpost_[a-z_]+)", metrics.__doc__ or "", re.MULTILINE))
    assert len(exported) == 10 and used and used <= exported, used - exported


# -- no request waits on another ---------------------------------------------------------------------
def test_a_small_page_is_served_while_a_big_download_is_being_made(served, monkeypatch):
    """The year's CSV is held in the middle of its making (its rows built, the file not yet
    written); meanwhile other TLs' pages and fragments are answered. Ordering, not timing: the
    small requests finish while the download is known to be still in progress."""
    import threading

    from kiosk.core import followup

    entered, release = threading.Event(), threading.Event()
    real = followup.sheet_csv

    def held(rows, total):
        entered.set()
        assert release.wait(20), "the download was never released"
        return real(rows, total)

    monkeypatch.setattr(followup, "sheet_csv", held)
    big, small = Client(served.url), Client(served.url)
    assert big.login("tl1", PASSWORDS["tl1"]) == 303 and small.login("tl2", PASSWORDS["tl2"]) == 303
    result: dict = {}

    def download():
        result["download"] = big.request("/uppfoljning?from=2025-12-01&to=2026-11-30&format=csv", follow=False)

    t = threading.Thread(target=download)
    t.start()
    try:
        assert entered.wait(60), "the download did not start"
        for path in ("/kiosker", "/delar/larm", "/larm", "/login"):
            status, _, _ = small.request(path, follow=False)
            assert status == 200, path
            assert t.is_alive() and "download" not in result, "the download finished first"
    finally:
        release.set()
        t.join(60)
    status, headers, body = result["download"]
    assert status == 200 and headers["content-type"].startswith("text/csv") and body.startswith("\ufeff".encode())


def test_kiosk_web_takes_its_settings_from_the_config(tmp_path, central_db):  # noqa: F811
    """`kiosk web --config` as the unit runs it: the metrics token from its file, the trusted
    proxies, the session timeouts; a token file that cannot be read stops it, named."""
    import os
    import subprocess
    import sys
    import time

    from kiosk_dev.web_serve import free_port

    from .conftest import ROOT

    token_file = tmp_path / "metrics-token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    config = tmp_path / "central.toml"
    config.write_text(f'[central]\ndb = "{central_db}"\n[web]\nmetrics_token_file = "{token_file}"\n'
                      'trusted_proxies = ["127.0.0.1"]\n', encoding="utf-8")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--config", str(config), "web", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if Client(base).get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "kiosk web did not start"
            time.sleep(0.2)
        assert _scrape(base)[0] == 200 and _scrape(base, "fel-token-0123456789")[0] == 401
        status, headers, _ = _from(base, "10.0.0.7", **{"X-Forwarded-Proto": "https"}).request("/login")
        assert "strict-transport-security" in {k.lower() for k in headers}  # the proxy on 127.0.0.1 is believed
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert TOKEN not in out
    token_file.unlink()
    done = subprocess.run([sys.executable, "-m", "kiosk", "--config", str(config), "web", "--port", str(free_port())],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 2 and "cannot read a secret file of [web]" in done.stderr
