"""Helpers for the web tests: a central database with users, kiosk days made by the real
controller and journal, ingest into central's store, a served app, a headless chromium."""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from kiosk.core.clock import TZ, FixedClock
from kiosk.core.config import load as load_config
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal

from kiosk.central.collector import Central  # noqa: F401  (re-exported for test_web)
from kiosk.central.store import CentralStore

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
def needs_chromium(test):
    """A browser test: Debian's chromium and chromedriver (scripts/setup test installs both). When
    either is missing the test fails, saying so: a browser test that cannot run is not passed over."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
        if missing:
            pytest.fail(f"{' and '.join(missing)} missing: scripts/setup test installs chromium and chromium-driver")
        return test(*args, **kwargs)

    return run

PASSWORDS = {"tl1": "tl1-lösenord", "tl2": "tl2-lösenord", "lasare": "läsare-lösenord"}
ROLES = {"tl1": "tl", "tl2": "tl", "lasare": "viewer"}
# the personnummer the example day prints on its dödsbo labels
PERSONNUMMER = ("19121212-1212", "191212121212", "121212-1212", "1212121212", "8112189876", "811218-9876",
                "198112189876")


class MutableClock:
    def __init__(self, now: dt.datetime):
        self.value = now

    def __call__(self) -> dt.datetime:
        return self.value


def add_users(db: Path | str, now: dt.datetime) -> None:
    """The three users in central's database (a SQLite path or a PostgreSQL URL)."""
    from kiosk.central.db import open_database
    from kiosk.central.web import auth, schema

    with open_database(db) as database:
        schema.ensure(database)
        with database.transaction() as conn:
            for name, pw in PASSWORDS.items():
                auth.add_user(conn, name, ROLES[name], pw, now)


class KioskDay:
    """A kiosk's journal and controller on a fixed clock (the real rules and the real journal)."""

    def __init__(self, folder: Path, config_path: Path | None, site: str = "demo", kiosk: str = "kiosk-1",
                 start: dt.datetime | None = None):
        folder.mkdir(parents=True, exist_ok=True)
        if config_path is None:
            config_path = folder / "kiosk.toml"
            config_path.write_text(f'[kiosk]\nsite = "{site}"\nid = "{kiosk}"\n', encoding="utf-8")
        self.config = load_config(config_path)
        self.db = folder / "journal.db"
        self.journal = Journal(self.db, site, kiosk)
        self.clock = FixedClock(start or dt.datetime(2026, 11, 23, 8, 0, tzinfo=TZ))
        self.controller = Controller(self.config, self.journal, self.clock)

    def do(self, at: dt.datetime, **cmd):
        self.clock.set(at)
        result = self.controller.handle(cmd, at)
        assert result.status != "error", (cmd, result.message)
        return result

    def messages(self, after_seq: int = 0) -> list[tuple[str, bytes]]:
        """The journal's events as the publisher sends them (topic, payload bytes)."""
        rows = self.journal.db.execute("select payload from events where seq > ? order by seq", [after_seq]).fetchall()
        out = []
        for (payload,) in rows:
            ev = json.loads(payload)
            out.append((f"returpost/v1/{ev['site']}/{ev['kiosk']}/events", payload.encode("utf-8")))
        return out


def ingest(central_db: Path, messages) -> None:
    store = CentralStore(central_db)
    try:
        counts = store.ingest(messages)
        assert counts.get("dead", 0) == 0, counts
    finally:
        store.close()


def example_day(k: KioskDay, day: dt.date) -> None:
    """The bundled example day's commands, moved to `day`."""
    from kiosk.core.clock import parse_iso

    lines = (Path(__file__).resolve().parent.parent / "kiosk" / "shelf" / "examples" / "example-day.jsonl").read_text(
        encoding="utf-8").splitlines()
    for raw in lines:
        if not raw.strip():
            continue
        cmd = json.loads(raw)
        at = parse_iso(cmd.pop("at")).astimezone(TZ)
        at = dt.datetime.combine(day, at.time(), tzinfo=TZ)
        k.do(at, **cmd)


def chrome(download_dir: Path | None = None, size: str = "1366,768"):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="web-chromium-"))
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console: CSP violations, script errors
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={profile}", f"--window-size={size}", "--lang=sv-SE"):
        opts.add_argument(flag)
    if download_dir is not None:
        opts.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                               "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver._profile_dir = profile  # removed in quit_chrome
    if download_dir is not None:
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)})
    return driver


def quit_chrome(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(getattr(driver, "_profile_dir", ""), ignore_errors=True)


def browser_login(driver, base: str, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORDS[username])
    driver.find_element(By.ID, "login-button").click()
    wait_page(driver, lambda d: "/login" not in d.current_url and d.find_elements(By.CSS_SELECTOR, "form.who"),
              what="the signed-in page")


def wait_page(driver, predicate, timeout=60.0, what="condition"):
    """Wait until `predicate(driver)` holds; an element gone or not there yet while the page is being
    replaced (a form posted, a redirect) is a "not yet", never an error."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def check(d):
        try:
            return predicate(d)
        except (NoSuchElementException, StaleElementReferenceException):  # the page is being replaced
            return False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(check)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}; page: {driver.current_url}\n{driver.page_source[:3000]}")
