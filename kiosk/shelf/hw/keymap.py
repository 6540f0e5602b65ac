"""Key events to text, the way a USB HID barcode scanner or badge reader "types" (pure).

A scanner is a keyboard to Linux: it sends key codes, not characters, and the characters depend
on the keyboard layout the scanner was programmed for. We grab the device exclusively, so no
layout of the desktop applies: this module turns key codes into text itself.

    decoder = Decoder(layout="se", terminator="enter", gap=0.5, role="scanner")
    for ev in events:                      # evdev.InputEvent (or anything with type/code/value)
        code = decoder.feed(ev)            # -> "7350012345678" when the terminator arrives
    decoder.expire(now)                    # drops a code left unterminated longer than `gap`

Time is injected: `feed` uses the event's own timestamp (or `now=`), `expire` the time given, so
tests need no sleeps. `encode` is the inverse (text -> key strokes) for tests and the simulator.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

from evdev import ecodes as e

log = logging.getLogger(__name__)

LAYOUTS = ("us", "se")
TERMINATORS = {"enter": (e.KEY_ENTER, e.KEY_KPENTER), "tab": (e.KEY_TAB,)}

SHIFT_KEYS = (e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT)
CTRL_KEYS = (e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL)
ALTGR_KEYS = (e.KEY_RIGHTALT,)
ALT_KEYS = (e.KEY_LEFTALT,)

_LETTERS = {getattr(e, f"KEY_{c}"): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_DIGITS = {getattr(e, f"KEY_{c}"): c for c in "1234567890"}

# Dead keys: the accent waits for the next key. Accent + space = the accent itself; accent + a
# vowel = the composed letter (é, ü, ...). Value: (spacing char, combining char).
DEAD = {
    "dead_acute": ("´", "\u0301"),
    "dead_grave": ("`", "\u0300"),
    "dead_diaeresis": ("¨", "\u0308"),
    "dead_circumflex": ("^", "\u0302"),
    "dead_tilde": ("~", "\u0303"),
}


@dataclass(frozen=True)
class Key:
    plain: str | None
    shift: str | None = None
    altgr: str | None = None
    letter: bool = False  # caps lock flips it


def _letters() -> dict[int, Key]:
    return {code: Key(c, c.upper(), letter=True) for code, c in _LETTERS.items()}


def _keypad(decimal: str) -> dict[int, Key]:
    # NumLock on (what scanners assume): the keypad types digits and operators.
    pad = {getattr(e, f"KEY_KP{d}"): Key(d, d) for d in "0123456789"}
    pad.update({
        e.KEY_KPDOT: Key(decimal, decimal),
        e.KEY_KPSLASH: Key("/", "/"),
        e.KEY_KPASTERISK: Key("*", "*"),
        e.KEY_KPMINUS: Key("-", "-"),
        e.KEY_KPPLUS: Key("+", "+"),
        e.KEY_KPCOMMA: Key(",", ","),
        e.KEY_KPEQUAL: Key("=", "="),
    })
    return pad


def _us() -> dict[int, Key]:
    m = _letters()
    for code, (plain, shift) in zip(_DIGITS, ("1!", "2@", "3#", "4$", "5%", "6^", "7&", "8*", "9(", "0)")):
        m[code] = Key(plain, shift)
    m.update({
        e.KEY_MINUS: Key("-", "_"), e.KEY_EQUAL: Key("=", "+"),
        e.KEY_LEFTBRACE: Key("[", "{"), e.KEY_RIGHTBRACE: Key("]", "}"),
        e.KEY_SEMICOLON: Key(";", ":"), e.KEY_APOSTROPHE: Key("'", '"'),
        e.KEY_GRAVE: Key("`", "~"), e.KEY_BACKSLASH: Key("\\", "|"),
        e.KEY_COMMA: Key(",", "<"), e.KEY_DOT: Key(".", ">"), e.KEY_SLASH: Key("/", "?"),
        e.KEY_102ND: Key("\\", "|"),
        e.KEY_SPACE: Key(" ", " "),
    })
    m.update(_keypad("."))
    return m


def _se() -> dict[int, Key]:
    """Swedish (sv-SE, as Linux' `se` layout): åäö, AltGr for @ $ { [ ] } \\ | £ €, dead accents."""
    m = _letters()
    m[e.KEY_E] = Key("e", "E", "€", letter=True)
    rows = (("1", "!", None), ("2", '"', "@"), ("3", "#", "£"), ("4", "¤", "$"), ("5", "%", "€"),
            ("6", "&", None), ("7", "/", "{"), ("8", "(", "["), ("9", ")", "]"), ("0", "=", "}"))
    for code, (plain, shift, altgr) in zip(_DIGITS, rows):
        m[code] = Key(plain, shift, altgr)
    m.update({
        e.KEY_MINUS: Key("+", "?", "\\"),
        e.KEY_EQUAL: Key("dead_acute", "dead_grave"),
        e.KEY_LEFTBRACE: Key("å", "Å", letter=True),
        e.KEY_RIGHTBRACE: Key("dead_diaeresis", "dead_circumflex", "dead_tilde"),
        e.KEY_SEMICOLON: Key("ö", "Ö", letter=True),
        e.KEY_APOSTROPHE: Key("ä", "Ä", letter=True),
        e.KEY_GRAVE: Key("§", "½"),
        e.KEY_BACKSLASH: Key("'", "*"),
        e.KEY_102ND: Key("<", ">", "|"),
        e.KEY_COMMA: Key(",", ";"), e.KEY_DOT: Key(".", ":"), e.KEY_SLASH: Key("-", "_"),
        e.KEY_SPACE: Key(" ", " "),
    })
    m.update(_keypad(","))  # the Swedish keypad decimal key types a comma
    return m


KEYMAPS: dict[str, dict[int, Key]] = {"us": _us(), "se": _se()}


class Decoder:
    """One HID device's key events -> complete codes. Not thread-safe: one decoder per reader."""

    def __init__(self, layout: str = "us", terminator: str = "enter", gap: float = 0.5,
                 role: str = "scanner", max_length: int = 512):
        if layout not in KEYMAPS:
            raise ValueError(f"unknown keyboard layout {layout!r} (use {', '.join(LAYOUTS)})")
        if terminator not in TERMINATORS:
            raise ValueError(f"unknown terminator {terminator!r} (use enter or tab)")
        self.keymap = KEYMAPS[layout]
        self.layout = layout
        self.terminators = TERMINATORS[terminator]
        self.gap = float(gap)
        self.role = role
        self.max_length = max_length
        self.dropped = 0  # codes dropped for a missing terminator (for status screens)
        self.reset()

    # -- state ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget a half-typed code and the modifier state (after an unplug)."""
        self._buf: list[str] = []
        self._dead: str | None = None
        self._last: float | None = None
        self._held: set[int] = set()
        self._caps = False

    @property
    def pending(self) -> str:
        return "".join(self._buf)

    @property
    def deadline(self) -> float | None:
        """When the half-typed code will be dropped, or None when nothing is pending."""
        if not self._buf and self._dead is None:
            return None
        return (self._last or 0.0) + self.gap

    def _drop(self, why: str) -> None:
        if self._buf or self._dead:
            self.dropped += 1
            # The length only: the content may be a badge id, which does not belong in a log.
            log.warning("%s: dropped an unterminated code of %d characters (%s)",
                        self.role, len(self._buf), why)
        self._buf = []
        self._dead = None
        self._last = None

    def expire(self, now: float) -> bool:
        """Drop the half-typed code if no key came for longer than the gap. True if dropped."""
        deadline = self.deadline
        if deadline is None:
            return False
        if now > deadline:
            self._drop(f"no terminator within {self.gap * 1000:.0f} ms")
            return True
        if now < deadline - self.gap - 1.0:  # the clock was set back: never glue across it
            self._drop("the clock went backwards")
            return True
        return False

    # -- input ----------------------------------------------------------------------------------
    def feed(self, event, now: float | None = None) -> str | None:
        """Feed one input event; returns a complete code when its terminator arrives."""
        if event.type != e.EV_KEY:
            return None
        if now is None:
            now = event.timestamp() if hasattr(event, "timestamp") else event.sec + event.usec / 1e6
        return self.feed_key(event.code, event.value, now)

    def feed_key(self, code: int, value: int, now: float) -> str | None:
        if value == 0:
            self._held.discard(code)
            return None
        if value == 2:  # autorepeat: a scanner never means it
            return None
        self._held.add(code)
        if code in SHIFT_KEYS or code in CTRL_KEYS or code in ALTGR_KEYS or code in ALT_KEYS:
            return None
        if code == e.KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        self.expire(now)
        if code in self.terminators:
            if self._dead:
                self._buf.append(DEAD[self._dead][0])
                self._dead = None
            text = "".join(self._buf)
            self._buf, self._last = [], None
            return text or None
        if code in (e.KEY_ENTER, e.KEY_KPENTER, e.KEY_TAB):
            log.debug("%s: ignoring a key that is not the configured terminator", self.role)
            return None
        if self._held & set(CTRL_KEYS) or self._held & set(ALT_KEYS) and not self._held & set(ALTGR_KEYS):
            return None  # shortcuts, not text
        key = self.keymap.get(code)
        if key is None:
            return None
        shift = bool(self._held & set(SHIFT_KEYS))
        if self._held & set(ALTGR_KEYS):
            char = key.altgr
        else:
            char = key.shift if (shift ^ (self._caps and key.letter)) else key.plain
        if char is None:
            return None
        self._last = now
        if char in DEAD:
            if self._dead:  # two accents: the first one types itself
                self._buf.append(DEAD[self._dead][0])
            self._dead = char
            return None
        if self._dead:
            spacing, combining = DEAD[self._dead]
            self._dead = None
            if char == " ":
                char = spacing
            else:
                composed = unicodedata.normalize("NFC", char + combining)
                if len(composed) == 1:
                    char = composed
                else:
                    self._buf.append(spacing)
        if len(self._buf) >= self.max_length:
            self._drop(f"longer than {self.max_length} characters")
            return None
        self._buf.append(char)
        return None


# -- the inverse: text to key strokes (tests, simulator) -------------------------------------------
def _reverse(layout: str) -> dict[str, tuple[int, str]]:
    """char -> (key code, modifier: "" | "shift" | "altgr"), preferring the main block."""
    out: dict[str, tuple[int, str]] = {}
    for code, key in sorted(KEYMAPS[layout].items(), key=lambda kv: (kv[0] >= e.KEY_KP7, kv[0])):
        for mod, char in (("", key.plain), ("shift", key.shift), ("altgr", key.altgr)):
            if char is not None and char not in out:
                out[char] = (code, mod)
    return out


_REVERSE = {layout: _reverse(layout) for layout in LAYOUTS}


def alphabet(layout: str) -> str:
    """Every character `encode` can type in this layout (printable; no dead-key composites)."""
    chars = {c for c in _REVERSE[layout] if len(c) == 1}
    chars |= {spacing for name, (spacing, _) in DEAD.items() if name in _REVERSE[layout]}
    return "".join(sorted(chars))


def encode(text: str, layout: str = "us", terminator: str = "enter", *,
           shift_key: int = e.KEY_LEFTSHIFT, hold_shift: bool = False) -> list[tuple[int, int]]:
    """Key strokes [(code, value), ...] that type `text` then the terminator on this layout.

    hold_shift keeps shift down across consecutive shifted characters (as some scanners do).
    """
    rev = _REVERSE[layout]
    spacing_to_dead = {spacing: name for name, (spacing, _) in DEAD.items()}
    keys: list[tuple[int, int]] = []
    shift_down = False

    def shift(on: bool) -> None:
        nonlocal shift_down
        if on != shift_down:
            keys.append((shift_key, 1 if on else 0))
            shift_down = on

    def stroke(code: int, mod: str) -> None:
        if mod == "altgr":
            shift(False)
            keys.extend([(e.KEY_RIGHTALT, 1), (code, 1), (code, 0), (e.KEY_RIGHTALT, 0)])
            return
        shift(mod == "shift")
        keys.extend([(code, 1), (code, 0)])
        if not hold_shift:
            shift(False)

    for char in text:
        if char in rev and rev[char][0] is not None and char not in spacing_to_dead:
            stroke(*rev[char])
        elif char in spacing_to_dead and spacing_to_dead[char] in rev:
            stroke(*rev[spacing_to_dead[char]])  # the dead accent, then space
            stroke(e.KEY_SPACE, "")
        elif char in rev:
            stroke(*rev[char])
        else:
            raise ValueError(f"{char!r} cannot be typed on the {layout} layout")
    shift(False)
    keys.extend([(TERMINATORS[terminator][0], 1), (TERMINATORS[terminator][0], 0)])
    return keys
