"""The web app speaks Swedish everywhere (a kiosk's connection badge and its printer's state
included), and after an action the page shows the alert acted on with its confirmation in view,
on whatever page the alert now is (an acknowledged alert goes after the open ones).

In a real browser (Debian's chromium + chromedriver via Selenium) against the served app; events
through the store's ingest (the collector's write path)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from kiosk.central.web.app import create_app
from kiosk.core.clock import TZ
from kiosk_dev.web_serve import Client, Served

from .web_helpers import (PASSWORDS, wait_page, KioskDay, MutableClock, add_users, browser_login, chrome, ingest,
                          needs_chromium, quit_chrome)

DAY = dt.date(2026, 11, 23)


def at(hh: int, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hh, mm, ss), tzinfo=TZ)


@pytest.fixture
def served(tmp_path):
    db = tmp_path / "central.db"
    add_users(db, at(7))
    clock = MutableClock(at(12))
    with Served(create_app(db, secret="s" * 64, clock=clock)) as s:
        s.db = db
        yield s


@pytest.fixture
def browser(tmp_path):
    pytest.importorskip("selenium")
    driver = chrome(size="1280,720")
    try:
        yield driver
    finally:
        quit_chrome(driver)


def bestridan_alerts(tmp_path, n: int) -> tuple[KioskDay, list[str]]:
    """`n` bestridan alerts from one kiosk, a minute apart; their ids, oldest first."""
    k = KioskDay(tmp_path / "kiosk", None)
    k.do(at(8), cmd="login", operator="ANNA")
    for i in range(n):
        k.do(at(8) + dt.timedelta(minutes=1 + i), cmd="incoming", kind="bestridan", segment="privat")
    return k, [r[0] for r in k.journal.db.execute("select id from events where type = 'alert_raised' order by seq")]


def in_view(driver, css: str) -> bool:
    return driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0;", css)


def acknowledge(driver, base: str, alert_id: str) -> None:
    box = f"#larm-{alert_id}"
    button = driver.find_element("css selector", f"{box} form[action$='/ack'] button")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait_page(driver, lambda d: d.find_elements("css selector", f"{box} #notice"), 30, "the notice")


@needs_chromium
@pytest.mark.parametrize("alerts,which,page", [(8, 2, 1), (60, 30, 2)], ids=["one page", "moves to page 2"])
def test_after_kvittera_the_alert_and_its_confirmation_are_in_view(tmp_path, served, browser, alerts, which, page):
    kiosk, ids = bestridan_alerts(tmp_path, alerts)
    ingest(served.db, kiosk.messages())
    browser_login(browser, served.url, "tl1")
    browser.get(served.url + "/larm")
    target = ids[which]
    acknowledge(browser, served.url, target)
    box = f"#larm-{target}"
    notice = browser.find_element("css selector", f"{box} #notice")
    assert notice.text == "Larmet är kvitterat."
    assert "Kvitterat av tl1" in browser.find_element("css selector", box).text
    assert in_view(browser, f"{box} #notice") and in_view(browser, f"{box} header")
    assert len(browser.find_elements("css selector", "#notice")) == 1  # only in the alert
    assert (f"sida={page}" in browser.current_url) == (page > 1)
    assert browser.execute_script("return window.scrollY") > 0  # the page did scroll to it
    browser.save_screenshot(str(tmp_path / f"after-ack-{alerts}.png"))


@needs_chromium
def test_no_english_on_the_pages_badges_included(tmp_path, served, browser):
    from kiosk.central.store import CentralStore

    kiosk, _ = bestridan_alerts(tmp_path, 1)
    ingest(served.db, kiosk.messages())
    store = CentralStore(served.db)
    try:
        for name, online, printer in (("kiosk-1", False, {"state": "no_paper", "kept": 2}),
                                      ("kiosk-2", True, {"state": "offline", "kept": 0})):
            status = {"v": 1, "site": "demo", "kiosk": name, "online": online, "pending": 0, "last_seq": 0,
                      "printer": printer}
            assert store.ingest([(f"returpost/v1/demo/{name}/status", json.dumps(status).encode())])["status"] == 1
    finally:
        store.close()
    browser_login(browser, served.url, "tl1")
    english = re.compile(r"\b(online|offline|no_paper|error|unknown|pending|alert|ok)\b")
    texts = {}
    for path in ("/", "/kiosker", "/larm", f"/uppfoljning?from={DAY}&to={DAY}", f"/returer?day={DAY}",
                 f"/historik?from={DAY}&to={DAY}"):
        browser.get(served.url + path)
        texts[path] = browser.find_element("tag name", "main").text
        assert not english.search(texts[path]), (path, english.search(texts[path]).group(0))
    browser.get(served.url + "/")
    cards = browser.find_element("css selector", "#cards").text
    assert "inte ansluten" in cards and "ansluten" in cards.replace("inte ansluten", "")
    assert "slut på papper, 2 utskrifter väntar" in cards and "Skrivare\ninte ansluten" in cards
    browser.save_screenshot(str(tmp_path / "today.png"))
    c = Client(served.url)
    assert c.login("lasare", PASSWORDS["lasare"]) == 303
    status, _, body = c.get("/kiosker")
    assert status == 200 and ">inte ansluten<" in body.decode() and ">offline<" not in body.decode()


def test_no_such_page_and_a_wrong_method_answer_in_swedish(served):
    c = Client(served.url)
    assert c.login("lasare", PASSWORDS["lasare"]) == 303
    for path, code, title in (("/finns-inte", 404, "Sidan finns inte"), ("/static/finns-inte.css", 404, "Sidan finns inte"),
                              ("/logout", 405, "Det går inte att göra så här")):
        status, headers, body = c.get(path)
        html = body.decode("utf-8")
        assert status == code and f"<h1>{title}</h1>" in html, (path, status, html[:300])
        assert "Not Found" not in html and "Method Not Allowed" not in html
