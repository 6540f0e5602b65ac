"""kiosk/shelf/ui/present.py (Kivy-free): severity and banner words, the shelf's standing picture, the
undo label, the idle clock; and the ui.idle_logout_minutes config key."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.core import routine
from kiosk.core.clock import TZ
from kiosk.core.config import ConfigError, load, parse
from kiosk.shelf.controller import Controller
from kiosk.wire.journal import Journal
from kiosk.shelf.ui import present


class R:
    def __init__(self, status, message="", severity=None, alerts=(), notes=()):
        from kiosk.core.effects import Effects

        self.status, self.message, self.effects = status, message, Effects(alerts=alerts, notes=notes)
        if severity is not None:
            self.severity = severity


def test_severity_follows_the_result_and_falls_back_to_the_status():
    assert present.severity(R("ok", "x", severity="warning")) == "warning"
    assert present.severity(R("ok", "Dödsbo: 2")) == "ok"
    assert present.severity(R("rejected", "Redan skannad")) == "warning"
    assert present.severity(R("error", "Nej")) == "error"
    assert present.severity(R("ok", "Varning: 1 av 2 inte skannade")) == "warning"


@given(st.sampled_from(["ok", "warning", "error", "alert"]), st.text(max_size=80))
def test_every_banner_has_an_icon_and_words(sev, message):
    text = present.banner_text(R("ok", message or "x", severity=sev))
    icon, word = present.STYLE[sev]
    assert text.startswith(icon)
    if word:
        assert word in text or "Varning" in text


def test_standing_lights_blink_the_current_pile_only_while_scanning():
    s = routine.DayState(phase=routine.SCANNING, scan_index=1)
    assert present.standing_lights(s).on == (("sekretess", "slow_blink"),)
    assert present.standing_lights(routine.DayState()).on == ()
    assert present.standing_lights(routine.DayState(phase=routine.SCANNED)).on == ()


def test_undo_label_names_what_a_plain_undo_removes(tmp_path):
    cfg = parse(f'[kiosk]\ndata_dir = "{tmp_path}"\n[mqtt]\nenabled = false\n')
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    from kiosk.core.clock import FixedClock

    c = Controller(cfg, Journal(tmp_path / "j.db", "s", "k"), FixedClock(now))
    for cmd in ({"cmd": "login", "operator": "ANNA"}, {"cmd": "sort", "pile": "dodsbo"},
                {"cmd": "sort", "pile": "sekretess"}):
        c.handle(cmd)
    assert present.undo_label(c.state) == "Ångra sortering: Sekretessfakturor"
    c.handle({"cmd": "scan_phase"})
    assert present.undo_label(c.state) == "Inget att ångra"
    c.handle({"cmd": "scan", "code": "7350010000011"})
    assert present.undo_label(c.state) == "Ångra skanning …10000011"
    # A duplicate was never counted: the button still names (and takes back) the last accepted
    # scan, explicitly; it is no explanation.
    c.handle({"cmd": "scan", "code": "7350010000011"})
    assert present.undo_action(c.state) == ("Ångra skanning …10000011",
                                            {"cmd": "undo", "what": "scan", "code": "7350010000011"})
    c.handle(present.undo_action(c.state)[1])
    assert c.state.scanned["dodsbo"] == 0
    assert present.undo_label(c.state) == "Inget att ångra"
    c.handle({"cmd": "next_pile", "confirm": True})
    assert present.undo_label(c.state) == 'Ångra "Klar" för Dödsbofakturor'


@given(st.integers(min_value=1, max_value=120), st.floats(min_value=0, max_value=10_000))
def test_idle_clock(minutes, idle):
    clock = present.IdleClock(minutes, warn_s=60)
    clock.touch(1000.0)
    what, left = clock.state(1000.0 + idle)
    limit = minutes * 60
    if idle >= limit:
        assert what == "logout"
    elif limit - idle <= 60:
        assert what == "warn" and 0 < left <= 60
    else:
        assert what == "active"
    assert present.IdleClock(0).state(1e9)[0] == "off"


def test_idle_logout_minutes_config():
    assert load(None).ui.idle_logout_minutes == 15
    assert parse("[ui]\nidle_logout_minutes = 0\n").ui.idle_logout_minutes == 0
    with pytest.raises(ConfigError, match="ui.idle_logout_minutes"):
        parse("[ui]\nidle_logout_minutes = -5\n")


def test_a_restart_opens_the_step_in_progress(tmp_path):
    """resume_screen: the screen of the latest record, the dödsbo labels and the cover slip while
    due after the scanning, Home with nothing recorded or nothing due, the summary once closed."""
    cfg = parse(f'[kiosk]\ndata_dir = "{tmp_path}"\n[mqtt]\nenabled = false\n')
    from kiosk.core.clock import FixedClock

    c = Controller(cfg, Journal(tmp_path / "j.db", "s", "k"), FixedClock(dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)))
    seen = [present.resume_screen(c.state)]
    steps = ({"cmd": "login", "operator": "ANNA"}, {"cmd": "sort", "pile": "dodsbo"},
             {"cmd": "sort", "pile": "sekretess"}, {"cmd": "leta_kund", "letter": "B"},
             {"cmd": "scan_phase"}, {"cmd": "scan", "code": "7350010000011"},
             {"cmd": "next_pile"}, {"cmd": "scan", "code": "7350020000011"},
             {"cmd": "next_pile"}, {"cmd": "next_pile"}, {"cmd": "next_pile"},
             {"cmd": "dodsbo_label", "personnummer": "191212121212"}, {"cmd": "cover_slip"},
             {"cmd": "date_check", "kind": "ovriga_brev"}, {"cmd": "incoming", "kind": "autogiro"},
             {"cmd": "remark", "code": "vagrad"}, {"cmd": "close_day", "confirm": True})
    for cmd in steps:
        assert c.handle(cmd).ok, cmd
        seen.append(present.resume_screen(c.state))
    assert seen == ["home", "home", "sort", "sort", "sort", "scan", "scan", "scan", "scan", "scan", "scan",
                    "dodsbo", "sekretess", "home", "datecheck", "incoming", "other", "summary"]


def test_home_tiles_turn_green_when_their_pile_is_handled():
    from kiosk.shelf.ui.screens.home import handled

    assert handled(0, 0, "brev bedömda") == ("0 brev bedömda", "todo")
    assert handled(1, 3, "brev bedömda") == ("1 av 3 brev bedömda", "active")
    assert handled(3, 3, "brev bedömda") == ("3 brev bedömda – klart", "done")
    assert handled(4, 3, "brev bedömda")[1] == "done"  # more than sorted: handled too


def test_tap_guard_and_bounce_windows_config():
    ui = load(None).ui
    assert (ui.tap_guard_ms, ui.bounce_ms) == (600, 100)
    assert parse("[ui]\nbounce_ms = 60\ntap_guard_ms = 800\n").ui.bounce_ms == 60
    for bad, key in (("bounce_ms = -1", "ui.bounce_ms"), ("bounce_ms = 1500", "ui.bounce_ms"),
                     ("tap_guard_ms = 6000", "ui.tap_guard_ms")):
        with pytest.raises(ConfigError, match=key):
            parse(f"[ui]\n{bad}\n")
