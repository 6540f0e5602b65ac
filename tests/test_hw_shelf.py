"""Pile LEDs, status LED and buzzer on real gpiozero MockFactory pins: states over time, blink
timing within a tolerance, degraded mode. No test sleeps for a guessed duration: each waits until
the pin's own state history (gpiozero's MockPin.states) holds the changes it expects, and checks
their order with MockPin.assert_states and their timing from the recorded timestamps."""

import statistics
import time

import pytest
from gpiozero import LED
from gpiozero.pins.mock import MockFactory

from kiosk.core import config as kconfig
from kiosk.core.domain import SLOTS
from kiosk.core.effects import FAST_BLINK, OFF, SLOW_BLINK, STEADY, Lights
from kiosk.shelf.hw import build
from kiosk.shelf.hw.shelf import BEEPS, BLINK, Buzzer, Shelf, make_pin_factory

PINS = dict(kconfig.parse("").data["slots"])
TOL = 0.08  # seconds: a shared CI machine is not a real-time system


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


@pytest.fixture
def shelf(factory):
    s = Shelf(PINS, status_pin=4, factory=factory)
    yield s
    s.close()


def state(factory, pin):
    return factory.pin(pin).state


def wait_states(factory, pin, count, timeout=15.0):
    """Until the pin has been through `count` states (its history, initial state included): a
    condition on what gpiozero recorded, not a guess at how long the background thread needs."""
    mock = factory.pin(pin)
    deadline = time.monotonic() + timeout
    while len(mock.states) < count:
        assert time.monotonic() < deadline, f"pin {pin} after {timeout} s: {mock.states}"
        time.sleep(0.005)
    return mock


def alternating(first, n):
    return [bool((i % 2 == 0) == first) for i in range(n)]


def durations(factory, pin, value):
    """How long the pin stayed at `value` each time (from gpiozero's own state history, which
    stores for every change the time since the change before)."""
    states = factory.pin(pin).states
    out = []
    for prev, cur in zip(states, states[1:]):
        if prev.state == value:
            out.append(cur.timestamp)
    return out[1:]  # the first interval starts from an arbitrary moment


def test_steady_lights_only_the_named_slot(shelf, factory):
    shelf.show(Lights.of(faktura=STEADY))
    assert state(factory, PINS["faktura"]) == 1
    assert all(state(factory, PINS[s]) == 0 for s in SLOTS if s != "faktura")
    assert shelf.pattern("faktura") == STEADY and shelf.pattern("dodsbo") == OFF


def test_each_picture_is_the_whole_shelf(shelf, factory):
    shelf.show(Lights.of(dodsbo=STEADY, sekretess=STEADY))
    shelf.show(Lights.of(oversta_facket=STEADY))
    assert state(factory, PINS["dodsbo"]) == 0 and state(factory, PINS["sekretess"]) == 0
    assert state(factory, PINS["oversta_facket"]) == 1
    shelf.show(None)  # None: unchanged
    assert state(factory, PINS["oversta_facket"]) == 1
    shelf.show(Lights())  # idle: all off
    assert all(state(factory, p) == 0 for p in PINS.values())


def test_slow_blink_timing(shelf, factory):
    pin = PINS["dodsbo"]
    factory.pin(pin).clear_states()
    shelf.show(Lights.of(dodsbo=SLOW_BLINK))
    wait_states(factory, pin, 1 + 6).assert_states(alternating(False, 7))  # off, then three cycles
    shelf.show(Lights())
    on, off = durations(factory, pin, True), durations(factory, pin, False)
    assert len(on) >= 2 and len(off) >= 2
    assert statistics.median(on) == pytest.approx(BLINK[SLOW_BLINK][0], abs=TOL)
    assert statistics.median(off) == pytest.approx(BLINK[SLOW_BLINK][1], abs=TOL)
    assert state(factory, pin) == 0


def test_fast_blink_timing_is_clearly_faster(shelf, factory):
    pin = PINS["sekretess"]
    factory.pin(pin).clear_states()
    shelf.show(Lights.of(sekretess=FAST_BLINK))
    wait_states(factory, pin, 1 + 8).assert_states(alternating(False, 9))  # off, then four cycles
    shelf.show(Lights())
    on, off = durations(factory, pin, True), durations(factory, pin, False)
    assert len(on) >= 3
    assert statistics.median(on) == pytest.approx(BLINK[FAST_BLINK][0], abs=TOL)
    assert statistics.median(off) == pytest.approx(BLINK[FAST_BLINK][1], abs=TOL)
    assert BLINK[SLOW_BLINK][0] >= 3 * BLINK[FAST_BLINK][0]  # a person tells them apart


def test_same_pattern_again_does_not_restart_the_blink(shelf, factory):
    pin = PINS["faktura"]
    shelf.show(Lights.of(faktura=SLOW_BLINK))
    factory.pin(pin).clear_states()
    for _ in range(20):
        shelf.show(Lights.of(faktura=SLOW_BLINK))  # every accepted scan repeats the picture
    # a restart would have set the pin off and on again at once; the blink goes on at its own pace
    mock = wait_states(factory, pin, 3)
    changes = [s.timestamp for s in mock.states[1:3]]
    assert all(gap > BLINK[SLOW_BLINK][0] - TOL for gap in changes[1:]), mock.states


def test_status_led_patterns(shelf, factory):
    shelf.set_status("online")
    assert state(factory, 4) == 1
    factory.pin(4).clear_states()
    shelf.set_status("error")
    wait_states(factory, 4, 5).assert_states([True, False, True, False, True])  # it blinked
    assert statistics.median(durations(factory, 4, True) or [BLINK[FAST_BLINK][0]]) < BLINK[SLOW_BLINK][0]
    shelf.set_status("online")
    assert state(factory, 4) == 1
    with pytest.raises(ValueError):
        shelf.set_status("party")


def test_degraded_slot_when_its_pin_is_taken(factory):
    squatter = LED(PINS["sekretess"], pin_factory=factory)  # something else holds the pin
    shelf = Shelf(PINS, 4, factory)
    try:
        assert shelf.failed_slots == {"sekretess"}
        assert "pin 6" in shelf.errors["sekretess"]
        shelf.show(Lights.of(sekretess=SLOW_BLINK, dodsbo=STEADY))
        assert shelf.pattern("sekretess") == SLOW_BLINK  # the screen still shows it
        assert state(factory, PINS["dodsbo"]) == 1  # the others work
    finally:
        shelf.close()
        squatter.close()


def test_degraded_slot_when_driving_fails_at_runtime(shelf, factory, monkeypatch):
    led = shelf.leds["faktura"]

    def broken(*a, **k):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(led, "on", broken)
    shelf.show(Lights.of(faktura=STEADY, dodsbo=STEADY))
    assert "faktura" in shelf.failed_slots
    assert shelf.pattern("faktura") == STEADY
    assert state(factory, PINS["dodsbo"]) == 1


def test_no_gpio_at_all_degrades_every_slot(tmp_path):
    # lgpio is not installed here and there is no GPIO chip: the factory cannot be made.
    with pytest.raises(Exception):  # noqa: B017 (gpiozero's error type differs by version)
        make_pin_factory("lgpio", simulator=False)
    cfg = kconfig.parse(f'[kiosk]\nhardware = "pi"\ndata_dir = "{tmp_path}"\n[gpio]\npin_factory = "lgpio"\n'
                        f'[printer]\nbackend = "dummy"\npreview_dir = "{tmp_path}/previews"\n')
    devices = build(cfg)
    try:
        assert devices.shelf.failed_slots == set(PINS)
        assert devices.status()["gpio"]["error"]
        devices.shelf.show(Lights.of(dodsbo=STEADY))  # no crash
        assert devices.shelf.pattern("dodsbo") == STEADY
        devices.buzzer.sound("reject")  # no crash
    finally:
        devices.close()


def test_unconfigured_slots_are_reported_unwired(factory):
    pins = {k: v for k, v in PINS.items() if k != "skicka_om"}
    shelf = Shelf(pins, 0, factory)
    try:
        assert shelf.unwired_slots == {"skicka_om"}
        assert shelf.failed_slots == set()
        shelf.show(Lights.of(skicka_om=STEADY))
        assert shelf.pattern("skicka_om") == STEADY
    finally:
        shelf.close()


# -- buzzer ---------------------------------------------------------------------------------------------
def beeps(factory, pin):
    return sum(1 for s in factory.pin(pin).states[1:] if s.state)


def test_buzzer_beeps_three_times_on_reject(factory):
    b = Buzzer(27, factory)
    try:
        b.sound("reject")
        on, off, n = BEEPS["reject"]
        mock = wait_states(factory, 27, 1 + 2 * n)
        mock.assert_states(alternating(False, 1 + 2 * n))
        assert beeps(factory, 27) == 3 and factory.pin(27).state == 0
        assert statistics.median(durations(factory, 27, True) + [mock.states[2].timestamp]) == \
            pytest.approx(on, abs=TOL)
    finally:
        b.close()


def test_buzzer_silent_on_accept_unless_configured(factory):
    quiet = Buzzer(27, factory)
    quiet.sound("accept")  # returns without starting anything: nothing can change the pin later
    assert beeps(factory, 27) == 0 and quiet.sounded == []
    quiet.close()
    factory.pin(27).clear_states()
    loud = Buzzer(27, factory, beep_on_accept=True)
    loud.sound("accept")
    wait_states(factory, 27, 3).assert_states([False, True, False])
    assert beeps(factory, 27) == 1 and loud.sounded == ["accept"]
    loud.close()


def test_buzzer_error_is_long(factory):
    b = Buzzer(27, factory)
    try:
        b.sound("error")
        on, off, n = BEEPS["error"]
        mock = wait_states(factory, 27, 1 + 2 * n)
        mock.assert_states(alternating(False, 1 + 2 * n))
        assert beeps(factory, 27) == 2
        assert mock.states[2].timestamp == pytest.approx(on, abs=TOL)  # a long beep: half a second
        assert on >= 3 * BEEPS["reject"][0]
    finally:
        b.close()


def test_listeners_get_the_picture_when_it_changes(shelf):
    seen = []
    shelf.listeners.append(seen.append)
    shelf.show(Lights.of(leta_kund=STEADY))
    shelf.show(Lights.of(leta_kund=STEADY))  # unchanged: no call
    shelf.show(Lights())
    assert [s["leta_kund"] for s in seen] == [STEADY, OFF]
    assert set(seen[0]) == set(SLOTS)
