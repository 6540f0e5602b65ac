"""The simulator's parts of the UI (off a Pi): the physical keyboard as the scanner (and, on the
sign-in screen, as the badge reader), and the on-screen shelf showing every slot's LED."""

from __future__ import annotations

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from ...core.domain import SLOT_NAMES, SLOTS
from .widgets import LED_OFF, LED_ON, MUTED, PANEL, Scale, Txt, mm, paint

ENTER_KEYS = (13, 271)  # Enter, keypad Enter


# ---------------------------------------------------------------------------------------------
# The keyboard as the scanner
# ---------------------------------------------------------------------------------------------

class KeyboardScanner:
    """The physical keyboard as the scanner: printable keys collect a code, Enter sends it (to
    the simulated badge reader on the sign-in screen, else to the simulated scanner, the same
    path a real scan takes). While the on-screen text keyboard is open, the physical keyboard
    types into its field instead."""

    def __init__(self, app):
        self.app = app
        self.buffer = ""

    def bind(self, window) -> None:
        window.bind(on_key_down=self._on_key_down, on_textinput=self._on_textinput)

    def _typing(self):
        kb = getattr(self.app, "text_keyboard", None)
        return kb if kb is not None and kb.parent is not None else None

    def _on_textinput(self, window, text):
        kb = self._typing()
        if kb is not None:
            for ch in text:
                if ch.isprintable():
                    kb.press(ch, as_typed=True)
            return True
        if text.isprintable():
            self.buffer += text
        return True

    def _on_key_down(self, window, key, scancode, codepoint, modifiers):
        kb = self._typing()
        if kb is not None and key in (8, *ENTER_KEYS):
            if key == 8:
                kb.backspace()
            else:
                kb.finish()
            return True
        if key == 8 and self.buffer:  # backspace
            self.buffer = self.buffer[:-1]
            return True
        if key not in ENTER_KEYS:
            return False
        code, self.buffer = self.buffer, ""
        if not code:
            return True
        app = self.app
        devices = app.kiosk.devices
        if app.sm.current == "signin":
            reader = devices.badge
        else:
            reader = devices.scanner
        if hasattr(reader, "inject"):
            reader.inject(code)  # the simulated reader: the same path a real scan takes
        elif reader is devices.badge:
            app.do({"cmd": "badge", "badge": code})
        else:
            app.scanner_code(code)
        return True


# ---------------------------------------------------------------------------------------------
# The on-screen shelf: every slot's LED, live, blinking as the real one does.
# ---------------------------------------------------------------------------------------------


SHORT_SLOT = {
    "dodsbo": "Dödsbo", "sekretess": "Sekretess", "faktura": "Faktura", "ovriga_streckkod": "Övr. m kod",
    "leta_kund": "Leta Kund", "ovriga_brev": "Övr. brev", "inkomna_brev": "Inkomna",
    "tillfalliga": "Tillfälliga", "oversta_facket": "Översta f.", "sekretesslada": "Sekr.låda",
    "skicka_om": "Skicka om",
}
BLINK_HZ = {"slow_blink": 1.0, "fast_blink": 4.0}


class ShelfView(GridLayout):
    """One cell per slot: a round LED and the slot's short name. `patterns` is read from the
    devices' shelf on every frame tick, so what is shown is what the GPIO pins show."""

    def __init__(self, read_pattern, **kw):
        super().__init__(cols=6 if Scale.portrait else len(SLOTS), spacing=mm(0.6), padding=(mm(0.6), mm(0.4)),
                         **kw)
        paint(self, PANEL)
        self.read_pattern = read_pattern
        self.cells: dict[str, tuple[Color, Ellipse, Widget]] = {}
        self.lit: dict[str, bool] = {}
        self.patterns: dict[str, str] = {}
        for slot in SLOTS:
            cell = BoxLayout(orientation="vertical")
            led = Widget(size_hint_y=0.45)
            with led.canvas:
                color = Color(*LED_OFF)
                dot = Ellipse()
            led.bind(pos=self._place, size=self._place)
            cell.add_widget(led)
            cell.add_widget(Txt(SHORT_SLOT.get(slot, slot), font_mm=1.9, color=MUTED, halign="center",
                                fixed=True, size_hint_y=0.55, shorten=True, shorten_from="right"))
            self.cells[slot] = (color, dot, led)
            self.add_widget(cell)
        self._t0 = Clock.get_boottime()
        Clock.schedule_interval(self._tick, 1 / 16)

    def _place(self, led, *_):
        d = min(led.width, led.height) * 0.9
        for color, dot, w in self.cells.values():
            if w is led:
                dot.pos = (led.center_x - d / 2, led.center_y - d / 2)
                dot.size = (d, d)

    def _tick(self, dt):
        t = Clock.get_boottime() - self._t0
        for slot, (color, dot, led) in self.cells.items():
            try:
                pattern = self.read_pattern(slot)
            except Exception:
                pattern = "off"
            self.patterns[slot] = pattern
            if pattern == "steady":
                on = True
            elif pattern in BLINK_HZ:
                on = (t * BLINK_HZ[pattern] * 2) % 2 < 1
            else:
                on = False
            if self.lit.get(slot) != on:  # touch the canvas only on a change: no redraw otherwise
                color.rgba = LED_ON if on else LED_OFF
            self.lit[slot] = on

    @staticmethod
    def names() -> dict[str, str]:
        return dict(SLOT_NAMES)
