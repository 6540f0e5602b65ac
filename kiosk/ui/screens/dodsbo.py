"""Step 3: the dödsbo label (personnummer typed on the keypad, memory only)."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from ...clock import TZ
from ...personnummer import PersonnummerError
from ...personnummer import parse as parse_personnummer
from ..widgets import AMBER, GREEN, GREY, MUTED, PANEL, TEXT, Btn, Page, Scale, Txt, column, grid, mm, paint


class DodsboPage(Page):
    title = "3. Dödsbo – personnummer-etikett"

    def build(self):
        self.digits = ""  # memory only; cleared after printing
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(2))
        left = column(spacing_mm=1.5)
        left.add_widget(Txt("Hämta personnumret i CAB och slå in det:", font_mm=3.4, color=MUTED))
        self.display = Txt("", font_mm=7, bold=True, halign="center", fixed=True, size_hint_y=None,
                           height=mm(13))
        paint(self.display, PANEL)
        left.add_widget(self.display)
        self.validation = Txt("", font_mm=3.6, halign="center", fixed=True, size_hint_y=None, height=mm(10))
        left.add_widget(self.validation)
        self.print_btn = Btn("Skriv ut etikett", self._print, color=GREEN, size_hint_y=None, height=mm(13),
                             font_mm=4.2)
        left.add_widget(self.print_btn)
        self.progress = Txt("", font_mm=3.2, color=MUTED, valign="top", fixed=True)
        left.add_widget(self.progress)
        pad = grid(3, spacing_mm=1.2)
        if not portrait:
            pad.size_hint_x = None
            pad.width = mm(62)
        for key in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "-", "0", "⌫"):
            pad.add_widget(Btn(key, lambda k=key: self.press(k), color=GREY, font_mm=6))
        main.add_widget(left)
        main.add_widget(pad)
        self.body.add_widget(main)

    def press(self, key: str) -> None:
        if key == "⌫":
            self.digits = self.digits[:-1]
        elif len(self.digits) < 13:
            self.digits += key
        self.refresh()

    def clear(self) -> None:
        self.digits = ""
        self.display.text = ""
        self.validation.text = ""

    def _print(self):
        text = self.digits
        result = self.app.do({"cmd": "dodsbo_label", "personnummer": text})
        del text
        if result.ok:
            self.clear()  # the number leaves the widgets as soon as the label is on its way
        self.refresh()

    def on_leave(self, *args):
        self.clear()

    def refresh(self):
        s = self.state
        self.display.text = self.digits or "ÅÅÅÅMMDD-NNNN"
        self.display.color = TEXT if self.digits else MUTED
        ok = False
        if not s.pile_scanned("dodsbo"):
            self.validation.text = "Skanna dödsbofakturorna först (steg 2)."
            self.validation.color = AMBER
        elif not self.digits:
            self.validation.text = "10 eller 12 siffror."
            self.validation.color = MUTED
        else:
            try:
                parse_personnummer(self.digits, self.app.now().astimezone(TZ).date())
                self.validation.text = "✓ Giltigt personnummer"
                self.validation.color = (0.45, 0.9, 0.5, 1)
                ok = True
            except PersonnummerError as exc:
                digits = sum(ch.isdigit() for ch in self.digits)
                complete = digits in (10, 12)
                self.validation.text = str(exc) if complete else f"{digits} siffror – skriv 10 eller 12."
                self.validation.color = (1, 0.45, 0.45, 1) if complete else MUTED
        self.print_btn.disabled = not ok
        n = s.scanned["dodsbo"]
        self.progress.text = (f"Etiketter i dag: [b]{s.labels_printed}[/b] av {n} dödsbofakturor.\n"
                              "Sätt etiketten på fakturan och lägg den i översta facket (lyser på hyllan).")
