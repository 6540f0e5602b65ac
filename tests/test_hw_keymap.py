"""Key events -> text: US and Swedish layouts, shift, AltGr, dead keys, keypad, terminators, gap."""

import logging

import pytest
from evdev import InputEvent, ecodes as e
from hypothesis import given, settings, strategies as st

from kiosk_dev.fakeinput import key_events, typed
from kiosk.shelf.hw.keymap import Decoder, alphabet, encode

T0 = 1_700_000_000.0


def decode_all(events, decoder):
    return [c for c in (decoder.feed(ev) for ev in events) if c is not None]


def press(code, t):
    return [InputEvent(int(t), int((t % 1) * 1e6), e.EV_KEY, code, 1),
            InputEvent(int(t), int((t % 1) * 1e6), e.EV_KEY, code, 0)]


# -- round trips -------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["us", "se"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_roundtrip_encode_decode_per_layout(layout, data):
    text = data.draw(st.text(alphabet=alphabet(layout), min_size=1, max_size=40))
    shift_key = data.draw(st.sampled_from([e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT]))
    hold = data.draw(st.booleans())
    terminator = data.draw(st.sampled_from(["enter", "tab"]))
    events = key_events(encode(text, layout, terminator, shift_key=shift_key, hold_shift=hold), T0)
    assert decode_all(events, Decoder(layout, terminator, gap=0.5)) == [text]


@pytest.mark.parametrize("layout", ["us", "se"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_burst_of_codes_decodes_each_once_in_order(layout, data):
    codes = data.draw(st.lists(st.text(alphabet=alphabet(layout), min_size=1, max_size=20), min_size=1, max_size=8))
    keys = [k for code in codes for k in encode(code, layout)]
    events = key_events(keys, T0, step=0.0005)  # a burst: 0.5 ms apart
    assert decode_all(events, Decoder(layout)) == codes


def test_alphabets_cover_printable_ascii_and_swedish_letters():
    ascii_printable = {chr(c) for c in range(0x20, 0x7F)}
    assert ascii_printable <= set(alphabet("us"))
    assert ascii_printable <= set(alphabet("se"))
    assert set("åäöÅÄÖ§½¤£€´¨") <= set(alphabet("se"))
    assert "å" not in alphabet("us")


# -- the layouts differ where they should ---------------------------------------------------------
def test_same_keys_mean_different_text_on_us_and_se():
    # What a US-programmed scanner sends for "A-1/2;" decoded as if it were Swedish
    events = typed("A-1/2;", "us", start=T0)
    assert decode_all(events, Decoder("us")) == ["A-1/2;"]
    assert decode_all(events, Decoder("se")) == ["A+1-2ö"]


def test_swedish_altgr_and_dead_keys():
    t = T0
    ev = []
    ev += [InputEvent(int(t), 0, e.EV_KEY, e.KEY_RIGHTALT, 1)] + press(e.KEY_2, t) + [InputEvent(int(t), 0, e.EV_KEY, e.KEY_RIGHTALT, 0)]
    ev += press(e.KEY_EQUAL, t) + press(e.KEY_E, t)  # dead acute + e = é
    ev += [InputEvent(int(t), 0, e.EV_KEY, e.KEY_LEFTSHIFT, 1)] + press(e.KEY_RIGHTBRACE, t) + \
        [InputEvent(int(t), 0, e.EV_KEY, e.KEY_LEFTSHIFT, 0)] + press(e.KEY_SPACE, t)  # ^ then space = ^
    ev += press(e.KEY_LEFTBRACE, t) + press(e.KEY_APOSTROPHE, t) + press(e.KEY_SEMICOLON, t)
    ev += press(e.KEY_ENTER, t)
    assert decode_all(ev, Decoder("se")) == ["@é^åäö"]


def test_keypad_digits_and_operators():
    keys = [(e.KEY_KP7, 1), (e.KEY_KP7, 0), (e.KEY_KP3, 1), (e.KEY_KP3, 0), (e.KEY_KPMINUS, 1), (e.KEY_KPMINUS, 0),
            (e.KEY_KPDOT, 1), (e.KEY_KPDOT, 0), (e.KEY_KP0, 1), (e.KEY_KP0, 0), (e.KEY_KPENTER, 1), (e.KEY_KPENTER, 0)]
    assert decode_all(key_events(keys, T0), Decoder("us")) == ["73-.0"]
    assert decode_all(key_events(keys, T0), Decoder("se")) == ["73-,0"]  # Swedish keypad decimal is a comma


def test_interleaved_shift_left_released_after_right_pressed():
    # LSHIFT down, A, RSHIFT down, LSHIFT up, B (still shifted), RSHIFT up, c
    keys = [(e.KEY_LEFTSHIFT, 1), (e.KEY_A, 1), (e.KEY_A, 0), (e.KEY_RIGHTSHIFT, 1), (e.KEY_LEFTSHIFT, 0),
            (e.KEY_B, 1), (e.KEY_B, 0), (e.KEY_RIGHTSHIFT, 0), (e.KEY_C, 1), (e.KEY_C, 0), (e.KEY_ENTER, 1), (e.KEY_ENTER, 0)]
    assert decode_all(key_events(keys, T0), Decoder("us")) == ["ABc"]


def test_caps_lock_flips_letters_only():
    keys = [(e.KEY_CAPSLOCK, 1), (e.KEY_CAPSLOCK, 0), (e.KEY_A, 1), (e.KEY_A, 0), (e.KEY_1, 1), (e.KEY_1, 0),
            (e.KEY_LEFTSHIFT, 1), (e.KEY_B, 1), (e.KEY_B, 0), (e.KEY_LEFTSHIFT, 0),
            (e.KEY_SEMICOLON, 1), (e.KEY_SEMICOLON, 0), (e.KEY_ENTER, 1), (e.KEY_ENTER, 0)]
    assert decode_all(key_events(keys, T0), Decoder("se")) == ["A1bÖ"]


def test_autorepeat_ctrl_shortcuts_and_unknown_keys_type_nothing():
    keys = [(e.KEY_A, 1), (e.KEY_A, 2), (e.KEY_A, 2), (e.KEY_A, 0), (e.KEY_LEFTCTRL, 1), (e.KEY_C, 1), (e.KEY_C, 0),
            (e.KEY_LEFTCTRL, 0), (e.KEY_F5, 1), (e.KEY_F5, 0), (e.KEY_B, 1), (e.KEY_B, 0), (e.KEY_ENTER, 1), (e.KEY_ENTER, 0)]
    assert decode_all(key_events(keys, T0), Decoder("us")) == ["ab"]


# -- terminators --------------------------------------------------------------------------------------
def test_tab_terminator_ignores_enter_and_enter_terminator_ignores_tab():
    ev_tab = key_events(encode("123", "us", "tab"), T0)
    ev_enter = key_events(encode("123", "us", "enter"), T0)
    assert decode_all(ev_tab, Decoder("us", "tab")) == ["123"]
    assert decode_all(ev_enter, Decoder("us", "tab")) == []
    assert decode_all(ev_enter, Decoder("us", "enter")) == ["123"]
    assert decode_all(ev_tab, Decoder("us", "enter")) == []


def test_terminator_alone_gives_no_code():
    assert decode_all(key_events([(e.KEY_ENTER, 1), (e.KEY_ENTER, 0)], T0), Decoder()) == []


# -- the gap ------------------------------------------------------------------------------------------
def test_unterminated_code_is_dropped_after_the_gap_with_a_log_line(caplog):
    d = Decoder("us", gap=0.5, role="scanner")
    half = key_events(encode("12345", "us")[:-2], T0)  # no Enter
    assert decode_all(half, d) == []
    assert d.pending == "12345"
    assert not d.expire(T0 + 0.3)  # within the gap: kept
    with caplog.at_level(logging.WARNING, logger="kiosk.shelf.hw.keymap"):
        assert d.expire(T0 + 0.6)
    assert d.pending == "" and d.dropped == 1
    assert "scanner: dropped an unterminated code of 5 characters" in caplog.text
    assert "12345" not in caplog.text  # the content never reaches the log


def test_unterminated_code_is_never_glued_to_the_next_one():
    d = Decoder("us", gap=0.5)
    first = key_events(encode("AAA", "us")[:-2], T0)  # scanner hiccup: no Enter
    second = key_events(encode("7350012345678", "us"), T0 + 2.0)  # next scan, 2 s later
    assert decode_all(first + second, d) == ["7350012345678"]
    assert d.dropped == 1


def test_slow_but_steady_typing_within_the_gap_is_one_code():
    keys = encode("987654", "us")
    events = key_events(keys, T0, step=0.2)  # 0.2 s between key events (< gap 0.5)
    assert decode_all(events, Decoder("us", gap=0.5)) == ["987654"]


def test_non_key_events_are_ignored():
    events = [InputEvent(int(T0), 0, e.EV_MSC, e.MSC_SCAN, 458756), InputEvent(int(T0), 0, e.EV_SYN, 0, 0),
              InputEvent(int(T0), 0, e.EV_LED, e.LED_NUML, 1)] + key_events(encode("x1", "us"), T0)
    assert decode_all(events, Decoder("us")) == ["x1"]


def test_bad_layout_or_terminator_is_an_error():
    with pytest.raises(ValueError):
        Decoder("de")
    with pytest.raises(ValueError):
        Decoder("us", "space")
    with pytest.raises(ValueError):
        encode("ä", "us")


def test_clock_set_back_between_keys_never_glues_codes():
    d = Decoder("us", gap=0.5)
    assert decode_all(key_events(encode("OLD", "us")[:-2], T0), d) == []
    later = key_events(encode("NEW123", "us"), T0 - 3600)  # NTP stepped the clock back an hour
    assert decode_all(later, d) == ["NEW123"]
    assert d.dropped == 1
