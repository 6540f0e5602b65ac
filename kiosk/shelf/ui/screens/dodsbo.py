"""Step 3: the dödsbo label (personnummer typed on the keypad, or read by the scanner into the
field: memory only, never a scan command, never stored). Ten digits with `-` need the century
CAB shows: two buttons with both readings (dates only)."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from ....core import truth
from ....core.clock import TZ
from ....core.personnummer import PersonnummerError
from ....core.personnummer import parse as parse_personnummer
from ..widgets import AMBER, BLUE, GREEN, GREY, MUTED, PANEL, TEXT, Btn, Page, Scale, Txt, column, grid, mm, paint, row

# Four columns, four rows: every key stays >= 9 mm at 1280x720 too.
KEYS = ("1", "2", "3", "⌫", "4", "5", "6", "Töm", "7", "8", "9", "-", "", "0", "", "+")
MAX_CHARS = 13
PNR_CHARS = frozenset("0123456789-+")


class DodsboPage(Page):
    title = "3. Dödsbo – personnummer-etikett"

    def build(self):
        self.digits = ""  # memory only; cleared after printing
        self.readings: list[dict] = []  # century_needed: both readings (dates only)
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(2))
        left = column(spacing_mm=1.2)
        self.display = Txt("", font_mm=7, bold=True, halign="center", fixed=True, size_hint_y=None,
                           height=mm(12), markup=False)
        paint(self.display, PANEL)
        left.add_widget(self.display)
        self.validation = Txt("", font_mm=3.4, halign="center", fixed=True, size_hint_y=None, height=mm(8),
                              min_ratio=0.6)
        left.add_widget(self.validation)
        self.print_btn = Btn("Skriv ut etikett", None, color=GREEN, size_hint_y=None, height=mm(12), font_mm=4.0,
                             guard=True)
        self.print_btn._on_tap = self.confirmable(self.print_btn, self._label_command)
        self.century_btns = [Btn("", lambda i=i: self._century(i), color=BLUE, font_mm=3.4, guard=True)
                             for i in range(2)]
        self.century_row = row(12, *self.century_btns, spacing_mm=1.2)
        self.action = BoxLayout(orientation="vertical", size_hint_y=None, height=mm(12))
        self.action.add_widget(self.print_btn)
        left.add_widget(self.action)
        self.progress = Txt("", font_mm=3.0, color=MUTED, valign="top", fixed=True, min_ratio=0.6)
        left.add_widget(self.progress)
        pad = grid(4, spacing_mm=1.2)
        if not portrait:
            pad.size_hint_x = None
            pad.width = mm(66)
        for key in KEYS:
            if not key:
                pad.add_widget(Widget())
            elif key == "Töm":
                pad.add_widget(Btn("Töm", self.clear_typed, color=GREY, font_mm=3.6))
            else:
                pad.add_widget(Btn(key, lambda k=key: self.press(k), color=GREY, font_mm=6))
        main.add_widget(left)
        main.add_widget(pad)
        self.body.add_widget(main)

    # -- the number, in memory only -----------------------------------------------------------
    def press(self, key: str) -> None:
        if key == "⌫":
            self.digits = self.digits[:-1]
        elif len(self.digits) < MAX_CHARS:
            self.digits += key
        self.readings = []
        self.refresh()

    def scanned_personnummer(self, code: str) -> None:
        """A code from the scanner while this screen is shown: into the field (if it looks like
        a personnummer), nowhere else."""
        kept = "".join(ch for ch in code if ch in PNR_CHARS)[:MAX_CHARS]
        del code
        if kept:
            self.digits = kept
            self.readings = []
        self.refresh()

    def clear_typed(self) -> None:
        self.digits = ""
        self.readings = []
        self.refresh()

    def clear(self) -> None:
        self.digits = ""
        self.readings = []
        self.display.text = ""
        self.validation.text = ""

    def _label_command(self) -> dict:
        return {"cmd": "dodsbo_label", "personnummer": self.digits}

    def _century(self, i: int) -> None:
        if i >= len(self.readings):
            return
        result = self.app.do({"cmd": "dodsbo_label", "personnummer": self.digits,
                              "century": self.readings[i]["century"]})
        if result.code == "confirm_needed":  # more labels than invoices: the print button asks
            self.pending = {self.print_btn: {"cmd": "dodsbo_label", "personnummer": self.digits,
                                             "century": self.readings[i]["century"]}}
        self.readings = []
        self.refresh()

    def on_result(self, result) -> None:
        if result.code == "century_needed":
            self.readings = list(result.data.get("readings") or [])[:2]
            Btn.hush()  # two century buttons take the print button's place
        elif result.ok and any(e["type"] == "dodsbo_label_printed" for e in result.events):
            self.clear()  # the number leaves the widgets as soon as the label is on its way

    def on_leave(self, *args):
        super().on_leave(*args)
        self.clear()

    # -- drawing ------------------------------------------------------------------------------
    def refresh(self):
        s = self.state
        self.display.text = self.digits or "ÅÅÅÅMMDD-NNNN"
        self.display.color = TEXT if self.digits else MUTED
        ok = False
        if not s.pile_scanned("dodsbo"):
            self.validation.text = "Skanna dödsbofakturorna först (steg 2)."
            self.validation.color = AMBER
        elif self.readings:
            self.validation.text = "Vilket födelseår visar CAB? Välj:"
            self.validation.color = AMBER
        elif not self.digits:
            self.validation.text = "Slå in (eller skanna) numret från CAB: 10 eller 12 siffror, + för 100 år eller äldre."
            self.validation.color = MUTED
        else:
            try:
                parse_personnummer(self.digits, self.app.now().astimezone(TZ).date())
                self.validation.text = "✓ Giltigt personnummer"
                self.validation.color = (0.45, 0.9, 0.5, 1)
                ok = True
            except PersonnummerError as exc:
                if getattr(exc, "readings", None):  # ten digits: the century is asked at printing
                    self.validation.text = "✓ Giltigt – välj århundrade vid utskrift"
                    self.validation.color = (0.45, 0.9, 0.5, 1)
                    ok = True
                else:
                    digits = sum(ch.isdigit() for ch in self.digits)
                    complete = digits in (10, 12)
                    self.validation.text = str(exc) if complete else f"{digits} siffror – skriv 10 eller 12."
                    self.validation.color = (1, 0.45, 0.45, 1) if complete else MUTED
        self.action.clear_widgets()
        if self.readings:
            self.century_row.clear_widgets()  # one button per real reading: no blank, dead button
            for b, reading in zip(self.century_btns, self.readings):
                b.text = f"Född {reading['date']}"
                self.century_row.add_widget(b)
            self.action.add_widget(self.century_row)
        else:
            self.action.add_widget(self.print_btn)
        self.print_btn.disabled = not ok
        self.confirm_look(self.print_btn, "Skriv ut etikett", GREEN, "Tryck igen för omtryck\n(fler etiketter än fakturor)")
        n = s.scanned["dodsbo"]
        self.progress.text = (f"Etiketter i dag: [b]{s.labels_printed}[/b] av {n} dödsbofakturor"
                              f"{truth.unprinted_note(s.prints, 'dodsbo_label')}. "
                              "Tejpa etiketten (kvittopapper) på fakturan, inte över adressen, och lägg den i "
                              "översta facket (lyser).")
