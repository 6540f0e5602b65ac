"""Alerts central raises from the clock, with injected time: the pure rules and
the same through a real central database and `run_once`."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.central import clock_alerts as ca
from kiosk.central.db import open_database
from kiosk.central.delivery import outbox, worker
from kiosk.central.delivery.config import read
from kiosk.core.clock import TZ
from kiosk.core.config import parse

from .delivery_servers import Kiosk, store_class


def at(y, m, d, hh, mm=0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


# Tuesday 2026-11-24 is an ordinary working day; 2026-11-28 a Saturday; 2026-05-14 Ascension Day
# (Kristi himmelsfärd), 2026-06-19 midsommarafton, 2026-01-06 Epiphany (trettondedag jul).
WORKDAY, SATURDAY, HOLIDAY = dt.date(2026, 11, 24), dt.date(2026, 11, 28), dt.date(2026, 5, 14)


def test_working_days_follow_the_swedish_calendar():
    cal = ca.Calendar()
    assert cal.is_working_day(WORKDAY)
    assert not cal.is_working_day(SATURDAY) and not cal.is_working_day(SATURDAY + dt.timedelta(days=1))
    for day in (HOLIDAY, dt.date(2026, 1, 6), dt.date(2026, 4, 3), dt.date(2026, 4, 6), dt.date(2026, 12, 25)):
        assert not cal.is_working_day(day), day
    assert not cal.is_working_day(dt.date(2026, 6, 19))  # midsommarafton: eves_off
    assert ca.Calendar(eves_off=False).is_working_day(dt.date(2026, 6, 19))
    extra = ca.Calendar(extra_holidays=frozenset({WORKDAY}), extra_working_days=frozenset({SATURDAY}))
    assert not extra.is_working_day(WORKDAY) and extra.is_working_day(SATURDAY)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2030, 12, 31)))
def test_a_weekend_or_public_holiday_is_never_a_working_day(day):
    import holidays

    cal = ca.Calendar()
    if day.weekday() >= 5 or day in holidays.country_holidays("SE", years=day.year):
        assert not cal.is_working_day(day)


def _kiosk(**kw) -> ca.KioskFacts:
    return ca.KioskFacts(site="sthlm", kiosk="kiosk-1", **kw)


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2027, 12, 31)),
       minute=st.integers(0, 24 * 60 - 1), online=st.sampled_from([None, True, False]),
       signed=st.booleans(), unscanned=st.lists(st.sampled_from(["dodsbo", "faktura"]), max_size=2))
def test_each_alert_is_raised_at_most_once_a_day_and_only_on_working_days(day, minute, online, signed, unscanned):
    now = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=TZ)
    k = _kiosk(online=online, status_at=now - dt.timedelta(hours=3), unscanned=tuple(unscanned))
    sites = [ca.SiteFacts("sthlm", signed, (k,))]
    raised: set = set()
    first = ca.evaluate(now, sites, raised)
    assert ca.evaluate(now, sites, raised) == []  # the same moment again: nothing twice
    later = ca.evaluate(now + dt.timedelta(minutes=5), sites, raised)  # may cross a threshold ...
    assert not {a.id for a in first} & {a.id for a in later}  # ... but never raises one again
    if not ca.Calendar().is_working_day(day):
        assert first == []
    assert len({a.id for a in first}) == len(first)
    for a in first:
        assert a.id == ca.alert_id(a.site, a.kiosk, a.kind, day) and a.day == day.isoformat()
        assert a.kind != "deadline_missed" or now.time() >= dt.time(14)


def test_no_activity_once_on_a_working_day_and_never_on_a_saturday_or_holiday():
    sites = [ca.SiteFacts("sthlm", signed_in_today=False, kiosks=(_kiosk(online=True),))]
    raised: set = set()
    assert ca.evaluate(at(2026, 11, 24, 9, 59), sites, raised) == []
    [a] = ca.evaluate(at(2026, 11, 24, 10, 0), sites, raised)
    assert (a.kind, a.site, a.kiosk) == ("no_activity", "sthlm", ca.SITE_WIDE)
    assert "Ingen har loggat in" in a.text
    assert ca.evaluate(at(2026, 11, 24, 12, 0), sites, raised) == []
    for day in (SATURDAY, HOLIDAY):
        assert ca.evaluate(dt.datetime.combine(day, dt.time(12), tzinfo=TZ), sites, set()) == []
    signed = [ca.SiteFacts("sthlm", signed_in_today=True, kiosks=(_kiosk(online=True),))]
    assert ca.evaluate(at(2026, 11, 24, 12, 0), signed, set()) == []


def test_unscanned_piles_from_the_day_state():
    counts = {"dodsbo": 0, "sekretess": 2, "faktura": 3, "ovriga_streckkod": 0, "leta_kund": 4}
    assert ca.unscanned_piles(counts, "sorting", 0) == ("sekretess", "faktura")
    assert ca.unscanned_piles(counts, "scanning", 2) == ("faktura",)
    assert ca.unscanned_piles(counts, "scanned", 4) == ()
    assert ca.unscanned_piles({"leta_kund": 9}, "sorting", 0) == ()  # no barcoded mail


# -- through central's database -----------------------------------------------------------------

@pytest.fixture
def central(central_db):
    """The store and the outbox on central's database, SQLite or PostgreSQL (`central_db`)."""
    store = store_class()(central_db)
    with open_database(central_db) as db:
        outbox.ensure_schema(db)
    cfg = read(parse('[[notify.targets]]\nurl = "json://127.0.0.1:9/none"\n'))
    yield store, cfg, central_db
    store.close()


def _alerts(db) -> list[tuple]:
    return _query(db, "select kind, site, kiosk, id from alerts order by kind, kiosk")


def _query(db, sql, params=()) -> list[tuple]:
    with open_database(db) as database:
        return database.query(sql, params)


def _pass(cfg, db, now):
    return worker.run_once(cfg, db, now=now.astimezone(dt.timezone.utc))


def test_faktura_unscanned_at_14_raises_deadline_missed_once_though_the_kiosk_is_silent(central):
    store, cfg, db = central
    k = Kiosk(store)
    k.status(True, at(2026, 11, 24, 8, 0))
    k.send(k.event(at(2026, 11, 24, 8, 1), "signed_in", {"operator": "ANNA"}),
           *[k.event(at(2026, 11, 24, 8, 5), "sorted", {"pile": "faktura"}) for _ in range(3)],
           k.event(at(2026, 11, 24, 12, 59), "sorted", {"pile": "leta_kund"}))
    # nothing from the kiosk after 13:00; central's clock goes on
    for hh, mm in ((13, 0), (13, 59)):
        _pass(cfg, db, at(2026, 11, 24, hh, mm))
    assert [a[0] for a in _alerts(db)] == []
    for hh, mm in ((14, 0), (14, 1), (15, 30)):
        _pass(cfg, db, at(2026, 11, 24, hh, mm))
    alerts = _alerts(db)
    assert [(a[0], a[2]) for a in alerts] == [("deadline_missed", "kiosk-1")]
    assert alerts[0][3] == ca.alert_id("sthlm", "kiosk-1", "deadline_missed", "2026-11-24")
    [(text,)] = _query(db, "select text from alerts")
    assert "Faktura" in text and "14:00" in text
    # the outbox made one notification for it
    assert _query(db, "select count(*) from delivery_outbox where alert_id = ?", (alerts[0][3],)) == [(1,)]


def test_a_day_with_no_barcoded_mail_raises_no_deadline_missed(central):
    store, cfg, db = central
    k = Kiosk(store)
    k.status(True, at(2026, 11, 24, 8, 0))
    k.send(k.event(at(2026, 11, 24, 8, 1), "signed_in", {"operator": "ANNA"}),
           k.event(at(2026, 11, 24, 8, 5), "sorted", {"pile": "leta_kund"}),
           k.event(at(2026, 11, 24, 8, 6), "sorted", {"pile": "inkomna_brev"}))
    for hh in (14, 15, 16):
        _pass(cfg, db, at(2026, 11, 24, hh, 0))
    assert _alerts(db) == []


def test_the_kiosks_own_deadline_alert_is_not_raised_again(central):
    store, cfg, db = central
    k = Kiosk(store)
    k.send(k.event(at(2026, 11, 24, 8, 1), "signed_in", {"operator": "ANNA"}),
           k.event(at(2026, 11, 24, 8, 5), "sorted", {"pile": "dodsbo"}),
           k.event(at(2026, 11, 24, 14, 0), "alert_raised",
                   {"kind": "deadline_missed", "text": "Skanningen av returpost var inte klar kl. 14:00."}))
    _pass(cfg, db, at(2026, 11, 24, 14, 2))
    assert [a[0] for a in _alerts(db)] == ["deadline_missed"]  # the kiosk's own, not a second


def test_nobody_signs_in_raises_no_activity_once_and_a_holiday_or_saturday_nothing(central):
    store, cfg, db = central
    k = Kiosk(store)
    for day in (HOLIDAY, SATURDAY):
        k.status(False, dt.datetime.combine(day, dt.time(7, 30), tzinfo=TZ))
        for hh in (9, 11, 14, 16):
            _pass(cfg, db, dt.datetime.combine(day, dt.time(hh), tzinfo=TZ))
    assert _alerts(db) == []
    k.status(True, at(2026, 11, 24, 7, 30))
    for hh, mm in ((9, 0), (10, 0), (10, 5), (13, 0)):
        _pass(cfg, db, at(2026, 11, 24, hh, mm))
    assert [(a[0], a[2]) for a in _alerts(db)] == [("no_activity", "*")]


def test_a_kiosk_offline_since_11_raises_kiosk_offline_once(central):
    store, cfg, db = central
    k = Kiosk(store)
    k.send(k.event(at(2026, 11, 24, 8, 1), "signed_in", {"operator": "ANNA"}))
    k.status(True, at(2026, 11, 24, 8, 0))
    k.status(False, at(2026, 11, 24, 11, 0))  # the broker's last will
    for hh, mm in ((11, 10), (11, 29)):
        _pass(cfg, db, at(2026, 11, 24, hh, mm))
    assert _alerts(db) == []
    for hh, mm in ((11, 30), (11, 45), (13, 0), (16, 59)):
        _pass(cfg, db, at(2026, 11, 24, hh, mm))
    alerts = _alerts(db)
    assert [(a[0], a[2]) for a in alerts] == [("kiosk_offline", "kiosk-1")]
    assert "sedan kl. 11:00" in _query(db, "select text from alerts")[0][0]


def test_printer_out_of_paper_in_the_status_raises_printer_once(central):
    store, cfg, db = central
    k = Kiosk(store)
    k.send(k.event(at(2026, 11, 24, 8, 1), "signed_in", {"operator": "ANNA"}))
    k.status(True, at(2026, 11, 24, 8, 30), printer={"state": "offline", "kept": 0})  # off, nothing waiting
    _pass(cfg, db, at(2026, 11, 24, 8, 31))
    assert _alerts(db) == []
    k.status(True, at(2026, 11, 24, 9, 0), printer={"state": "no_paper", "kept": 2})
    _pass(cfg, db, at(2026, 11, 24, 9, 1))
    k.status(True, at(2026, 11, 24, 9, 5), printer={"state": "offline", "kept": 3})
    _pass(cfg, db, at(2026, 11, 24, 9, 6))
    assert [a[0] for a in _alerts(db)] == ["printer"]
    assert "slut på papper" in _query(db, "select text from alerts")[0][0]
