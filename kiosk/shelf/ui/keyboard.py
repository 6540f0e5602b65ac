"""A large on-screen keyboard for short free text ("what is the letter about"), built from plain
Buttons in a ModalView: predictable under Xvfb and on the touch panel, every key >= 9 mm.

Landscape: a Swedish QWERTY layout (11 keys across). Portrait (720x1280 is 87 mm wide, too
narrow for 11 keys of 9 mm): the letters in alphabetical rows of 8. The typed text shows in a
large field with a counter; it is capped at `max_len` characters. Text that looks like a
personnummer is refused (a personnummer must never reach the journal)."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.modalview import ModalView

from ...core import limits
from .widgets import AMBER, BLUE, GREEN, GREY, MIN_TARGET_MM, MUTED, PANEL, RED, Btn, Scale, Txt, mm, paint, set_bg

MAX_LEN = 60
LANDSCAPE_ROWS = ("1234567890", "qwertyuiopå", "asdfghjklöä", "zxcvbnm,.-")
PORTRAIT_ROWS = ("abcdefgh", "ijklmnop", "qrstuvwx", "yzåäö,.-", "12345", "67890")

SPACE, BACKSPACE, SHIFT = "Mellanslag", "← Radera", "Aa"


def clean(text: str) -> str:
    """The text as it is sent: runs of spaces collapsed, no leading/trailing space."""
    return " ".join(text.split())


def looks_like_personnummer(text: str) -> bool:
    """The rules' own test (kiosk.core.limits.has_personnummer: 10 or 12 digits however split), so the
    keyboard refuses what the rules would refuse."""
    return limits.has_personnummer(text)


class TextKeyboard(ModalView):
    """`open_for(title, on_done, text="")`: shows the keyboard; "Klar" closes it and calls
    `on_done(text)` with the cleaned text; "Avbryt" closes it and calls nothing."""

    def __init__(self, max_len: int = MAX_LEN, **kw):
        portrait = Scale.portrait
        super().__init__(size_hint=(0.98, 0.9 if portrait else 0.98), auto_dismiss=False, background="",
                         background_color=(0, 0, 0, 0.7), **kw)
        self.max_len = max_len
        self.text = ""
        self.shift = False
        self.on_done = None
        self.letter_keys: list[Btn] = []
        box = BoxLayout(orientation="vertical", padding=mm(1.2), spacing=mm(1.0))
        paint(box, PANEL)
        self.title = Txt("", font_mm=3.4, color=MUTED, fixed=True, min_ratio=0.7, size_hint_y=None,
                         height=mm(10 if portrait else 6))
        box.add_widget(self.title)
        field = BoxLayout(orientation="horizontal", size_hint_y=None, height=mm(20 if portrait else 13),
                          spacing=mm(1))
        self.field = Txt("", font_mm=5.0, fixed=True, min_ratio=0.55, markup=False, padding=(mm(1.5), mm(0.5)))
        paint(self.field, (0.06, 0.07, 0.09, 1))
        self.counter = Txt("", font_mm=3.0, color=MUTED, halign="center", fixed=True, size_hint_x=None,
                           width=mm(14))
        field.add_widget(self.field)
        field.add_widget(self.counter)
        box.add_widget(field)
        self.hint = Txt("", font_mm=3.0, color=MUTED, fixed=True, size_hint_y=None, height=mm(5.5))
        box.add_widget(self.hint)

        keys = BoxLayout(orientation="vertical", spacing=mm(1.0))
        for chars in (PORTRAIT_ROWS if portrait else LANDSCAPE_ROWS):
            r = BoxLayout(orientation="horizontal", spacing=mm(1.0))
            for ch in chars:
                b = self._key(ch, lambda c=ch: self.press(c), color=GREY if ch.isdigit() else BLUE)
                r.add_widget(b)
                if ch.isalpha():
                    self.letter_keys.append(b)
            if not portrait and chars == LANDSCAPE_ROWS[-1]:
                r.add_widget(self._key(BACKSPACE, self.backspace, color=GREY, size_hint_x=1.6, font_mm=3.4))
            keys.add_widget(r)
        self.shift_btn = self._key(SHIFT, self.toggle_shift, color=GREY, size_hint_x=1.2, font_mm=3.6)
        space = self._key(SPACE, lambda: self.press(" "), color=BLUE, size_hint_x=4, font_mm=3.4)
        self.done_btn = self._key("Klar", self.finish, color=GREEN, size_hint_x=2, font_mm=4.2)
        cancel = self._key("Avbryt", self.cancel, color=GREY, size_hint_x=1.6, font_mm=3.4)
        if portrait:
            keys.add_widget(self._row(self.shift_btn, space,
                                      self._key(BACKSPACE, self.backspace, color=GREY, size_hint_x=2, font_mm=3.4)))
            keys.add_widget(self._row(cancel, self.done_btn))
        else:
            keys.add_widget(self._row(self.shift_btn, cancel, space, self.done_btn))
        box.add_widget(keys)
        self.add_widget(box)

    @staticmethod
    def _row(*children) -> BoxLayout:
        r = BoxLayout(orientation="horizontal", spacing=mm(1.0))
        for c in children:
            r.add_widget(c)
        return r

    @staticmethod
    def _key(label: str, on_tap, color, font_mm: float = 4.6, **kw) -> Btn:
        b = Btn(label, on_tap, color=color, font_mm=font_mm, markup=False, min_mm=MIN_TARGET_MM, **kw)
        b.key = label
        return b

    # -- state ------------------------------------------------------------------------------
    def open_for(self, title: str, on_done, text: str = "") -> None:
        self.title.text = title
        self.on_done = on_done
        self.text = text[: self.max_len]
        self.shift = not self.text  # a new text starts with a capital letter
        self._show()
        self.open(animation=False)

    def press(self, ch: str, as_typed: bool = False) -> None:
        """One character; `as_typed` (a physical keyboard): its own case, not the Aa state."""
        if len(self.text) >= self.max_len:
            self._show(full=True)
            return
        if ch == " " and (not self.text or self.text.endswith(" ")):
            return  # no leading or double spaces
        self.text += ch.upper() if self.shift and not as_typed else ch
        if ch.isalpha():
            self.shift = False
        self._show()

    def backspace(self) -> None:
        self.text = self.text[:-1]
        if not self.text:
            self.shift = True
        self._show()

    def toggle_shift(self) -> None:
        self.shift = not self.shift
        self._show()

    def finish(self) -> None:
        text = clean(self.text)
        if not text or looks_like_personnummer(text):
            self._show()
            return
        on_done, self.on_done = self.on_done, None
        self.text = ""
        self.dismiss(animation=False)
        if on_done is not None:
            on_done(text)

    def cancel(self) -> None:
        self.on_done = None
        self.text = ""
        self.dismiss(animation=False)

    def _show(self, full: bool = False) -> None:
        self.field.text = self.text + "|"
        n = len(self.text)
        self.counter.text = f"{n}/{self.max_len}"
        self.counter.color = AMBER if n >= self.max_len else MUTED
        for b in self.letter_keys:
            b.text = b.key.upper() if self.shift else b.key
        self.shift_btn.set_color(BLUE if self.shift else GREY)
        pnr = looks_like_personnummer(self.text)
        if pnr:
            self.hint.text = "[b]Skriv inget personnummer här.[/b] Radera siffrorna."
            self.hint.color = RED
        elif full or n >= self.max_len:
            self.hint.text = f"Högst {self.max_len} tecken."
            self.hint.color = AMBER
        else:
            self.hint.text = "Skriv kort vad det gäller och tryck Klar."
            self.hint.color = MUTED
        set_bg(self.field, (0.25, 0.06, 0.06, 1) if pnr else (0.06, 0.07, 0.09, 1))
        self.done_btn.disabled = pnr or not clean(self.text)


def shared(app) -> TextKeyboard:
    """The app's one keyboard, built on first use and reused (no new widgets per text)."""
    kb = getattr(app, "text_keyboard", None)
    if kb is None:
        kb = app.text_keyboard = TextKeyboard()
    return kb
