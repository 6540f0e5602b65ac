"""The TL web app in a real browser (Debian's chromium + chromedriver via Selenium) and over HTTP.

Events reach central two ways here, each said per test: through the real collector (a real
mosquitto from tests/mqtt_broker.py, `Central`, and the kiosk's own `Publisher` sending its
journal), or through the store's `ingest` (the collector's own write path, without the broker).
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from kiosk.core.clock import TZ
from kiosk.central.db import open_database
from kiosk.central.web import state
from kiosk.central.web.app import create_app
from kiosk_dev.web_serve import Client, Served

from .mqtt_broker import broker, kiosk_config, load, needs_mosquitto, wait_until  # noqa: F401
from .web_helpers import (PASSWORDS, PERSONNUMMER, Central, KioskDay, MutableClock, add_users, browser_login, wait_page,
                          chrome, example_day, ingest, needs_chromium, quit_chrome)

DAY = dt.date(2026, 11, 23)


def at(hh, mm=0, ss=0, day=DAY):
    return dt.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=TZ)


@pytest.fixture
def central_db(request, tmp_path):
    """Central's database with the three users: a SQLite file, or (tests marked `both_engines`)
    also a fresh PostgreSQL database, as a URL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        db = tmp_path / "central.db"
        add_users(db, at(7))
        yield db
        return
    from kiosk_dev.pgtest import temp_database

    with temp_database() as url:
        add_users(url, at(7))
        yield url


both_engines = pytest.mark.parametrize("central_db", ["sqlite", "postgresql"], indirect=True)


def _db_query(central_db, sql):
    with open_database(central_db) as db:
        return db.query(sql)


@pytest.fixture
def clock():
    return MutableClock(at(9, 30))


@pytest.fixture
def served(central_db, clock):
    # these tests move the clock by hours with a page open (its polling is not use): no idle end
    # before the 10 hours (test_web_it tests the idle timeout)
    from kiosk.central.web.settings import Settings

    app = create_app(central_db, secret="s" * 64, clock=clock, settings=Settings(session_idle=dt.timedelta(hours=10)))
    with Served(app) as s:
        yield s


@pytest.fixture
def browser(tmp_path):
    pytest.importorskip("selenium")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chrome(downloads)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        quit_chrome(driver)


def _text(driver, css):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css).text


# -- without a browser: what is refused -----------------------------------------------------------
def test_pages_refused_without_a_session(served):
    c = Client(served.url)
    for path in ("/", "/larm", "/uppfoljning", "/uppfoljning?format=xlsx", "/returer?format=csv", "/historik",
                 "/kiosker"):
        status, headers, _ = c.request(path, follow=False)
        assert status == 303 and headers["location"].startswith("/login?next="), path
    assert c.get("/delar/idag")[0] == 401
    assert c.request("/larm/x/ack", {"csrf": "x"})[0] == 401
    status, _, body = c.get("/login")
    assert status == 200 and "Logga in" in body.decode()


@both_engines
def test_login_is_throttled(served, clock, central_db):
    c = Client(served.url)
    for _ in range(5):
        assert c.login("tl1", "fel lösenord") == 401
    status = c.login("tl1", PASSWORDS["tl1"])  # the right password, but too many failures
    assert status == 429
    _, _, body = c.request("/login", {"username": "tl1", "password": PASSWORDS["tl1"], "csrf": c.csrf()})
    assert "För många misslyckade inloggningar" in body.decode()
    assert c.request("/", follow=False)[0] == 303  # still not signed in
    other = Client(served.url)  # another user from the same address is not (the address locks at 20)
    assert other.login("tl2", PASSWORDS["tl2"]) == 303
    clock.value = clock.value + dt.timedelta(minutes=16)
    assert c.login("tl1", PASSWORDS["tl1"]) == 303
    actions = [a for (a,) in _db_query(central_db, "select action from web_audit order by n")]
    assert actions.count("login_failed") == 5 and "login_throttled" in actions and actions[-1] == "login"


def test_session_expires(served, clock):
    c = Client(served.url)
    assert c.login("lasare", PASSWORDS["lasare"]) == 303
    assert c.request("/", follow=False)[0] == 200
    clock.value = clock.value + dt.timedelta(hours=11)
    assert c.request("/", follow=False)[0] == 303


# -- in the browser --------------------------------------------------------------------------------
@both_engines
@needs_chromium
@needs_mosquitto
def test_card_changes_when_the_kiosks_events_arrive_over_mqtt(broker, tmp_path, central_db, served, browser, clock):
    """Real path: kiosk controller -> journal -> Publisher -> mosquitto -> Central -> central.db -> page."""
    from kiosk.shelf.publisher import Publisher

    cfg = kiosk_config(tmp_path / "kiosk.toml", broker.port)
    config = load(cfg)
    collector = Central(config, central_db).start()
    kiosk = KioskDay(tmp_path / "kiosk", cfg)
    pub = Publisher(config, kiosk.db)
    try:
        assert collector.wait_subscribed(10)
        pub.start()
        kiosk.do(at(9, 0), cmd="login", operator="ANNA")
        kiosk.do(at(9, 1), cmd="sort", pile="faktura")
        wait_until(lambda: pub.status()["last_seq"] == kiosk.journal.last_seq, timeout=60, what="the first events at central")

        browser_login(browser, served.url, "lasare")
        wait_page(browser, lambda d: d.find_elements("css selector", "#kort-demo__kiosk-1"), what="the kiosk's card")
        card = "#kort-demo__kiosk-1"
        assert _text(browser, f"{card} .operator") == "ANNA"
        assert _text(browser, f'{card} tr[data-pile="dodsbo"] .sorted') == "0"
        assert "4 h 30 min kvar till 14:00" in _text(browser, f"{card} .deadline")
        browser.execute_script("window.__noReload = 'still here';")

        for minute in (2, 3):
            kiosk.do(at(9, minute), cmd="sort", pile="dodsbo")
        wait_page(browser, lambda d: _text(d, f'{card} tr[data-pile="dodsbo"] .sorted') == "2",
              what="the dödsbo count to change without a reload")
        assert browser.execute_script("return window.__noReload") == "still here"
        kiosk.do(at(9, 5), cmd="scan_phase")
        wait_page(browser, lambda d: "Skanning: Dödsbofakturor" in _text(d, f"{card} .phase"), what="the scan phase")
        clock.value = at(13, 40)
        wait_page(browser, lambda d: "amber" in d.find_element("css selector", f"{card} .deadline").get_attribute("class"),
              what="the countdown amber from 13:30")
    finally:
        pub.stop()
        collector.stop()


@both_engines
@needs_chromium
def test_acknowledge_a_bestridan_shown_to_another_tl(tmp_path, central_db, served, browser):
    """Events through the store's ingest (the collector's write path)."""
    kiosk = KioskDay(tmp_path / "kiosk", None)
    kiosk.do(at(9, 0), cmd="login", operator="ANNA")
    kiosk.do(at(9, 10), cmd="incoming", kind="bestridan", segment="privat")
    ingest(central_db, kiosk.messages())
    alert_id = kiosk.journal.db.execute("select id from events where type = 'alert_raised'").fetchone()[0]
    assert [a["acknowledged"] for a in state.alert_states(central_db, "demo", "kiosk-1", DAY.isoformat())] == [None]

    other = Client(served.url)  # the other TL, signed in already
    assert other.login("tl2", PASSWORDS["tl2"]) == 303
    browser_login(browser, served.url, "tl1")
    browser.get(served.url + "/larm")
    box = f"#larm-{alert_id}"
    assert "Bestridan av faktura" in _text(browser, box)
    browser.find_element("css selector", f"{box} form[action$='/ack'] button").click()
    wait_page(browser, lambda d: "Kvitterat av tl1" in _text(d, box), what="the acknowledgement on the page")
    assert "Larmet är kvitterat" in _text(browser, "#notice")

    states = state.alert_states(central_db, "demo", "kiosk-1", DAY.isoformat())
    assert len(states) == 1 and states[0]["alert"] == alert_id and states[0]["kind"] == "bestridan"
    assert states[0]["acknowledged"]["by"] == "tl1" and states[0]["acknowledged"]["at"].endswith("Z")
    _, _, body = other.get("/larm")
    html = body.decode()
    assert "Kvitterat av <b>tl1</b>" in html and f'/larm/{alert_id}/ack' not in html
    row = _db_query(central_db, "select alert_id, site, kiosk, action, who from web_alert_actions")
    assert row == [(alert_id, "demo", "kiosk-1", "ack", "tl1")]
    assert _db_query(central_db, "select count(*) from web_audit where action = 'alert_ack' and who = 'tl1'") == [(1,)]


@needs_chromium
def test_answer_a_temporary_mailing(tmp_path, central_db, served, browser):
    """Events through the store's ingest; two kiosks of one site: the answer is for the site."""
    k1 = KioskDay(tmp_path / "k1", None)
    k2 = KioskDay(tmp_path / "k2", None, kiosk="kiosk-2")
    k1.do(at(9, 0), cmd="login", operator="ANNA")
    k1.do(at(9, 20), cmd="temporary", about="bristfällig anläggning")
    k2.do(at(9, 0), cmd="login", operator="BERT")
    ingest(central_db, k1.messages() + k2.messages())
    alert_id = k1.journal.db.execute("select id from events where type = 'alert_raised'").fetchone()[0]

    browser_login(browser, served.url, "tl1")
    browser.get(served.url + "/larm")
    box = f"#larm-{alert_id}"
    browser.find_element("css selector", f"{box} textarea[name=text]").send_keys("Lägg dem i sekretesslådan.")
    browser.find_element("css selector", f"{box} form.answer-form button").click()
    wait_page(browser, lambda d: "Lägg dem i sekretesslådan." in _text(d, f"{box} .answer-text"), what="the answer")

    for kiosk in ("kiosk-1", "kiosk-2"):
        states = state.alert_states(central_db, "demo", kiosk, DAY.isoformat())
        assert [s["answer"]["text"] for s in states] == ["Lägg dem i sekretesslådan."], kiosk
        assert states[0]["answer"]["by"] == "tl1" and states[0]["kiosk"] == "kiosk-1"
    browser.find_element("css selector", f"{box} form[action$='/clear'] button").click()
    wait_page(browser, lambda d: "borttaget" in _text(d, box), what="the answer cleared")
    assert state.alert_states(central_db, "demo", "kiosk-2", DAY.isoformat()) == []
    own = state.alert_states(central_db, "demo", "kiosk-1", DAY.isoformat())
    assert own[0]["cleared"]["by"] == "tl1"
    assert [a for (a,) in _db_query(central_db, "select action from web_alert_actions order by n")] == ["answer", "clear"]


@needs_chromium
def test_download_the_xlsx_and_check_its_cells(tmp_path, central_db, served, browser, clock):
    from openpyxl import load_workbook

    done, busy = KioskDay(tmp_path / "k1", None), KioskDay(tmp_path / "k2", None, kiosk="kiosk-2")
    example_day(done, DAY)
    busy.do(at(9, 0), cmd="login", operator="BERT")
    busy.do(at(9, 1), cmd="sort", pile="faktura")
    ingest(central_db, done.messages() + busy.messages())
    clock.value = at(11, 0)

    browser_login(browser, served.url, "lasare")
    browser.get(served.url + f"/uppfoljning?from={DAY}&to={DAY}")
    html = browser.page_source
    assert "pågår" in html
    cells = [td.text for td in browser.find_elements("css selector", "#sheet tbody tr:nth-child(2) td")]
    assert "Nej" not in cells and "pågår" in cells  # a day in progress before 14:00
    browser.find_element("id", "xlsx").click()
    path = wait_page(browser, lambda d: next(iter(sorted(browser.downloads.glob("*.xlsx"))), None), what="the download")
    time.sleep(0.2)
    wb = load_workbook(path)
    ws = wb["Uppföljning"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Datum", "Plats", "Kiosk", "Dödsbofakturor"]
    assert "Leta Kund A (Brev 4)" in header and "Före 14:00" in header and "Klart kl" in header
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["A"].width >= 10 and ws.column_dimensions["E"].width > 10
    first = {h: c.value for h, c in zip(header, ws[2])}
    assert isinstance(first["Datum"], dt.datetime) and first["Datum"].date() == DAY
    assert ws.cell(2, 1).number_format == "yyyy-mm-dd"
    own = done.controller.summary(DAY.isoformat())  # the kiosk's own numbers
    assert first["Före 14:00"] == "Ja" and first["Dödsbofakturor"] == own["counts"]["dodsbo"] > 0
    assert first["Skannade"] == len(own["scans"]["accepted"]) > 0
    assert isinstance(first["Klart kl"], dt.time) and first["Klart kl"].strftime("%H:%M") == "08:10"
    second = {h: c.value for h, c in zip(header, ws[3])}
    assert second["Före 14:00"] == "pågår" and second["Klart kl"] is None
    total = {h: c.value for h, c in zip(header, ws[4])}
    assert total["Datum"] == "Summa" and total["Faktura/påminnelse"] == first["Faktura/påminnelse"] + 1
    cases = wb["Ärenden och beslut"]
    kinds = {r[3] for r in cases.iter_rows(min_row=2, values_only=True)}
    assert {"CAB-ärende", "Beslut", "Anmärkning", "Tillfälligt utskick"} <= kinds
    assert cases.freeze_panes == "A2"


@needs_chromium
def test_viewer_refused_an_acknowledge(tmp_path, central_db, served, browser):
    kiosk = KioskDay(tmp_path / "kiosk", None)
    kiosk.do(at(9, 0), cmd="login", operator="ANNA")
    kiosk.do(at(9, 10), cmd="incoming", kind="bestridan", segment="foretag")
    ingest(central_db, kiosk.messages())
    alert_id = kiosk.journal.db.execute("select id from events where type = 'alert_raised'").fetchone()[0]
    browser_login(browser, served.url, "lasare")
    browser.get(served.url + "/larm")
    assert "bara en TL kan kvittera" in _text(browser, f"#larm-{alert_id}")
    assert not browser.find_elements("css selector", f"#larm-{alert_id} form")
    # the viewer forges the form with a valid token of their own session
    token = browser.execute_script("return document.querySelector('input[name=csrf]').value")
    browser.execute_script(
        "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
        "const i = document.createElement('input'); i.name = 'csrf'; i.value = arguments[1]; f.appendChild(i);"
        "document.body.appendChild(f); f.submit();", f"/larm/{alert_id}/ack", token)
    wait_page(browser, lambda d: "Bara en TL får kvittera" in d.page_source, what="the refusal")
    assert _db_query(central_db, "select count(*) from web_alert_actions") == [(0,)]


@both_engines
@needs_chromium
def test_forged_form_without_csrf_token_refused(tmp_path, central_db, served, browser):
    kiosk = KioskDay(tmp_path / "kiosk", None)
    kiosk.do(at(9, 0), cmd="login", operator="ANNA")
    kiosk.do(at(9, 10), cmd="temporary", about="fel huvudsäkring")
    ingest(central_db, kiosk.messages())
    alert_id = kiosk.journal.db.execute("select id from events where type = 'alert_raised'").fetchone()[0]
    browser_login(browser, served.url, "tl1")
    browser.get(served.url + "/larm")
    for token in (None, "forged-token"):
        browser.execute_script(
            "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
            "const t = document.createElement('input'); t.name = 'text'; t.value = 'Kasta dem.'; f.appendChild(t);"
            "if (arguments[1]) { const i = document.createElement('input'); i.name = 'csrf'; i.value = arguments[1];"
            " f.appendChild(i); }"
            "document.body.appendChild(f); f.submit();", f"/larm/{alert_id}/answer", token)
        wait_page(browser, lambda d: "säkerhetskod (CSRF)" in d.page_source, what="the CSRF refusal")
        browser.get(served.url + "/larm")
    assert _db_query(central_db, "select count(*) from web_alert_actions") == [(0,)]
    # a cookie-less forger holding a real token has no session: 401; the page's own form works
    token = browser.execute_script("return document.querySelector('input[name=csrf]').value")
    assert Client(served.url).request(f"/larm/{alert_id}/answer", {"csrf": token, "text": "x"})[0] == 401
    browser.find_element("css selector", f"#larm-{alert_id} textarea[name=text]").send_keys("Kasta dem.")
    browser.find_element("css selector", f"#larm-{alert_id} form.answer-form button").click()
    wait_page(browser, lambda d: "Svaret är sparat" in d.page_source, what="the real answer")
    assert _db_query(central_db, "select count(*) from web_alert_actions") == [(1,)]


@both_engines
def test_no_personnummer_on_any_page_of_a_day_with_dodsbo_labels(tmp_path, central_db, served, clock):
    kiosk = KioskDay(tmp_path / "kiosk", None)
    example_day(kiosk, DAY)  # prints two dödsbo labels from typed personnummer
    ingest(central_db, kiosk.messages())
    clock.value = at(16, 0)
    c = Client(served.url)
    assert c.login("tl1", PASSWORDS["tl1"]) == 303
    pages = ["/", "/delar/idag", "/larm", f"/uppfoljning?from={DAY}&to={DAY}",
             f"/uppfoljning?from={DAY}&to={DAY}&format=csv", f"/returer?day={DAY}", f"/returer?day={DAY}&format=csv",
             f"/historik?from={DAY}&to={DAY}", "/kiosker"]
    bodies = {}
    for p in pages:
        status, _, body = c.get(p)
        assert status == 200, p
        bodies[p] = body.decode("utf-8")
    status, _, xlsx = c.get(f"/uppfoljning?from={DAY}&to={DAY}&format=xlsx")
    assert status == 200
    from io import BytesIO

    from openpyxl import load_workbook

    wb = load_workbook(BytesIO(xlsx))
    bodies["xlsx"] = "\n".join(str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row)
    assert "Dödsboetiketter" in bodies["/"] and ">2<" in bodies["/"].replace(" ", "")  # the labels were printed
    pn = re.compile(r"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)")
    # ids are uuid4s: one whose first groups happen to be all digits ("97625776-4249-...", about one
    # id in 300) has a personnummer's shape without being one; the ids are taken out before the search
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    for where, text in bodies.items():
        for number in PERSONNUMMER:
            assert number not in text, (where, number)
        text = uuid.sub("<id>", text)
        assert not pn.search(text), (where, pn.search(text).group(0))


@both_engines
def test_follow_up_csv_and_returns_csv(tmp_path, central_db, served, clock):
    kiosk = KioskDay(tmp_path / "kiosk", None)
    example_day(kiosk, DAY)
    ingest(central_db, kiosk.messages())
    clock.value = at(16, 0)
    c = Client(served.url)
    assert c.login("lasare", PASSWORDS["lasare"]) == 303
    status, headers, body = c.get(f"/uppfoljning?from={DAY}&to={DAY}&format=csv")
    text = body.decode("utf-8")
    assert status == 200 and text.startswith("\ufeffDatum;Plats;Kiosk;Dödsbofakturor;")
    lines = text.strip().split("\r\n")
    n = kiosk.controller.summary(DAY.isoformat())["counts"]
    assert lines[1].startswith(f"{DAY};demo;kiosk-1;{n['dodsbo']};{n['sekretess']};{n['faktura']};"
                               f"{n['ovriga_streckkod']};") and ";08:10;Ja;" in lines[1]
    assert lines[2].startswith("Summa;")
    status, _, body = c.get(f"/returer?day={DAY}&format=csv")
    rows = body.decode("utf-8").lstrip("\ufeff").strip().split("\r\n")
    assert rows[0] == "Datum;Streckkod;Hög;Plats;Kiosk;Tid"
    assert rows[1] == f"{DAY};7350001000011;Dödsbofakturor;demo;kiosk-1;08:08"
    assert len(rows) - 1 == kiosk.controller.summary(DAY.isoformat())["scans"]["accepted"].__len__()


@needs_chromium
def test_an_open_page_goes_to_sign_in_when_the_session_ends(served, browser, clock):
    browser_login(browser, served.url, "lasare")
    assert browser.find_elements("css selector", "#cards")
    clock.value = clock.value + dt.timedelta(hours=11)  # past the session's 10 hours
    wait_page(browser, lambda d: "/login" in d.current_url and d.find_elements("id", "login-button"),
          what="the live page to go to the sign-in form")


# -- several web processes behind one address -------------------------------------------------------
def _serve(db, secret_file, cwd):
    """`kiosk web` as a real process on a free port; (process, base URL) once it answers."""
    import os
    import subprocess
    import sys
    import urllib.request

    from kiosk_dev.web_serve import free_port

    from .conftest import ROOT

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "web", "--db", str(db), "--port", str(port),
                             "--secret-file", str(secret_file)], cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"kiosk web did not start: {proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.2)


@pytest.mark.parametrize("central_db", ["postgresql"], indirect=True)
def test_two_web_processes_on_one_postgresql_serve_as_one(tmp_path, central_db):
    """Two `kiosk web` processes on one PostgreSQL with one session secret (as behind the reverse
    proxy): signed in on one, the cookie works on the other; an acknowledgement on one shows on
    the other; failed sign-ins count across both. Signing out at a third ends the session at all."""
    kiosk = KioskDay(tmp_path / "kiosk", None, start=dt.datetime.now(TZ))
    now = dt.datetime.now(TZ).replace(microsecond=0)
    kiosk.do(now, cmd="login", operator="ANNA")
    kiosk.do(now, cmd="incoming", kind="bestridan", segment="privat")
    ingest(central_db, kiosk.messages())
    alert_id = kiosk.journal.db.execute("select id from events where type = 'alert_raised'").fetchone()[0]
    secret = tmp_path / "web-secret"
    procs = []
    try:
        for secret_file in (secret, secret, tmp_path / "other-secret"):
            procs.append(_serve(central_db, secret_file, tmp_path))
        (_, one), (_, two), (_, other) = procs
        c = Client(one)
        assert c.login("tl1", PASSWORDS["tl1"]) == 303
        c.base = two  # the same browser, the proxy sends it to the other process
        status, _, body = c.request("/larm", follow=False)
        assert status == 200 and "tl1 (TL)" in body.decode() and f"larm-{alert_id}" in body.decode()
        c.base = one
        token = c.csrf("/larm")
        assert c.request(f"/larm/{alert_id}/ack", {"csrf": token}, follow=False)[0] == 303
        c.base = two
        html = c.get("/larm")[2].decode()
        assert "Kvitterat av <b>tl1</b>" in html and f"/larm/{alert_id}/ack" not in html
        c.base = other  # sessions are stored at central: known at every process; signed out at one,
        assert c.request("/larm", follow=False)[0] == 200  # ... ended at all
        assert c.request("/logout", {"csrf": c.csrf("/larm")}, follow=False)[0] == 303
        c.base = one
        assert c.request("/larm", follow=False)[0] == 303
        # failed sign-ins are counted in the database, whichever process took them, one after the
        # other even when they arrive at once: 12 wrong passwords at both, exactly 5 count as
        # failures and the rest are refused as throttled
        import concurrent.futures

        clients = [Client((one, two)[i % 2]) for i in range(12)]
        tokens = [cl.csrf() for cl in clients]
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(lambda ct: ct[0].request("/login", {"username": "tl2", "password": "fel lösenord",
                                                                          "csrf": ct[1]}, follow=False)[0],
                                     zip(clients, tokens)))
        assert sorted(statuses) == [401] * 5 + [429] * 7, statuses
        assert Client(two).login("tl2", PASSWORDS["tl2"]) == 429 and Client(one).login("tl2", PASSWORDS["tl2"]) == 429
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            proc.wait(10)
    assert _db_query(central_db, "select who, action from web_audit where action in ('login', 'alert_ack') "
                                 "order by n") == [("tl1", "login"), ("tl1", "alert_ack")]
