"""Step 1: sort the day's mail into piles, one tap per letter. A Leta Kund letter is counted by
its type (the pile's count is the sum of the types); a temporary mailing by its kind (step 9's
registration, so the TL gets the question); a letter for a pile whose scanning is finished is a
late letter, scanned at once."""

from __future__ import annotations

from kivy.uix.modalview import ModalView
from kivy.utils import escape_markup

from ....core import routine
from ....core.domain import LETA_KUND_TYPES, PILE_NAMES, PILES, SCAN_ORDER
from ..keyboard import shared as text_keyboard
from ..present import last_count, lk_key, lk_name
from ..widgets import AMBER, BLUE, GREEN, GREY, MUTED, PANEL, Btn, Page, Scale, Txt, column, font_px, grid, mm, paint, row

# The Leta Kund chooser: (button key, letter, apartments)
LK_CHOICES = (("A", "A", 0), ("A+", "A", 1), *((t, t, 0) for t in LETA_KUND_TYPES if t != "A"))


def undo_text(what: tuple[str, str] | None) -> str:
    """The sorting screen's undo button, naming the count it takes back."""
    if what is None:
        return "Ångra sortering"
    kind, key = what
    if kind == "leta_kund":
        return f"Ångra Leta Kund-brev: {lk_name(key)}"
    return f"Ångra sortering: {PILE_NAMES[key]}"


class LetaKundChooser(ModalView):
    """Which Leta Kund letter is it? One tap per letter (the view stays open for the next one),
    with an undo for the last letter counted here."""

    def __init__(self, page, **kw):
        super().__init__(size_hint=(0.96, 0.9), auto_dismiss=False, background="", background_color=(0, 0, 0, 0.7),
                         **kw)
        self.page = page
        box = column(padding_mm=1.5, spacing_mm=1.2)
        paint(box, PANEL)
        box.add_widget(Txt("[b]Leta Kund-brev:[/b] vilken brevtyp? Ett tryck per brev.", font_mm=3.6, fixed=True,
                           size_hint_y=None, height=mm(9), min_ratio=0.6))
        g = grid(2 if Scale.portrait else 3, spacing_mm=1.2)
        self.buttons: dict[str, Btn] = {}
        for key, letter, apartments in LK_CHOICES:
            cmd = {"cmd": "leta_kund", "letter": letter, "count": 1, "apartments": apartments}
            b = Btn(lk_name(key), lambda c=cmd: page.app.do(dict(c)), font_mm=3.4, guard="bounce")
            self.buttons[key] = b
            g.add_widget(b)
        box.add_widget(g)
        self.undo = Btn("", lambda: page.app.do({"cmd": "undo", "what": "leta_kund"}), color=GREY, font_mm=3.3,
                        guard=True)
        box.add_widget(row(12, self.undo, Btn("Klar", lambda: self.dismiss(animation=False), color=GREEN, font_mm=4)))
        self.add_widget(box)
        self.bind(on_dismiss=self._closed)

    def _closed(self, *_) -> None:  # returns None: a true value would cancel the dismissal
        Btn.hush()
        self.page.refresh()

    def refresh(self, s: routine.DayState) -> None:
        lk = s.leta_kund
        big = font_px(5.5)
        counts = {"A": lk["A"] - lk["apartments"], "A+": lk["apartments"], **{t: lk[t] for t in LETA_KUND_TYPES if t != "A"}}
        for key, b in self.buttons.items():
            b.text = f"{lk_name(key)}\n[b][size={big}]{counts[key]}[/size][/b]"
        last = lk_key(s.leta_kund_log[-1]) if s.leta_kund_log else None
        self.undo.text = escape_markup(f"Ångra: {lk_name(last)}" if last else "Ångra Leta Kund-brev")
        self.undo.disabled = last is None


class TemporaryChooser(ModalView):
    """Which temporary mailing is it? One tap per letter (the view stays open for the next one);
    the first letter of a kind today sends the TL the question how to handle it."""

    def __init__(self, page, **kw):
        from .other import OtherPage  # the kinds step 9's screen offers

        super().__init__(size_hint=(0.96, 0.9), auto_dismiss=False, background="", background_color=(0, 0, 0, 0.7),
                         **kw)
        self.page = page
        box = column(padding_mm=1.5, spacing_mm=1.2)
        paint(box, PANEL)
        box.add_widget(Txt("[b]Tillfälligt utskick:[/b] vilket? Ett tryck per brev – TL får en fråga om hanteringen.",
                           font_mm=3.6, fixed=True, size_hint_y=None, height=mm(9), min_ratio=0.6))
        g = grid(2 if Scale.portrait else 3, spacing_mm=1.2)
        self.buttons: dict[str, Btn] = {}
        for about in OtherPage.TEMPORARY:
            b = Btn(about, lambda a=about: self._sort(a), font_mm=3.4, guard=True)
            self.buttons[about] = b
            g.add_widget(b)
        g.add_widget(Btn(OtherPage.OWN, self._type, font_mm=3.4, color=GREY))
        self.undo = Btn("Ångra senaste utskick", lambda: page.app.do({"cmd": "undo", "what": "temporary"}),
                        font_mm=3.2, color=GREY, guard=True)
        g.add_widget(self.undo)
        box.add_widget(g)
        self.others = Txt("", font_mm=3.0, color=MUTED, fixed=True, size_hint_y=None, height=mm(7), min_ratio=0.6)
        box.add_widget(self.others)
        box.add_widget(row(12, Btn("Klar", lambda: self.dismiss(animation=False), color=GREEN, font_mm=4)))
        self.add_widget(box)
        self.bind(on_dismiss=self._closed)

    def _sort(self, about: str) -> None:
        self.page.app.do({"cmd": "sort", "pile": "tillfalliga", "about": about})

    def _type(self) -> None:
        text_keyboard(self.page.app).open_for("Vilket tillfälligt utskick? (TL får en fråga om hanteringen)", self._sort)

    def _closed(self, *_) -> None:  # returns None: a true value would cancel the dismissal
        Btn.hush()
        self.page.refresh()

    def refresh(self, s: routine.DayState) -> None:
        big = font_px(5.5)
        counts: dict[str, int] = {}
        names: dict[str, str] = {}
        for t in s.temporary:
            key = t["about"].casefold()
            counts[key] = counts.get(key, 0) + 1
            names.setdefault(key, t["about"])
        for about, b in self.buttons.items():
            b.text = f"{escape_markup(about)}\n[b][size={big}]{counts.get(about.casefold(), 0)}[/size][/b]"
        own = [f"{names[k]} {n}" for k, n in counts.items() if k not in {a.casefold() for a in self.buttons}]
        self.others.text = escape_markup("Andra i dag: " + ", ".join(own)) if own else ""
        self.undo.disabled = not s.temporary


class SortPage(Page):
    title = "1. Sortera – ett tryck per brev"

    def build(self):
        self.late_pile: str | None = None
        if self.app.camera_mode is not None:  # what the camera read, above the pile buttons
            from .camera import CameraPanel

            self.body.add_widget(CameraPanel(self.app.camera_mode))
        cols = 2 if Scale.portrait else 4
        g = grid(cols)
        self.buttons: dict[str, Btn] = {}
        for pile in PILES:
            b = Btn("", lambda p=pile: self._tap(p), font_mm=3.6, guard="bounce")
            self.buttons[pile] = b
            g.add_widget(b)
        self.body.add_widget(g)
        self.undo = Btn("", self._undo, color=GREY, font_mm=3.3, guard=True)
        self.body.add_widget(row(12, self.undo, Btn("Klar – till skanning", lambda: self.app.go("scan"), color=GREEN)))
        self.chooser: LetaKundChooser | None = None
        self.temporary_chooser: TemporaryChooser | None = None

    def _tap(self, pile: str) -> None:
        s = self.state
        if pile == "leta_kund":
            if self.chooser is None:
                self.chooser = LetaKundChooser(self)
            self.chooser.refresh(s)
            self.chooser.open(animation=False)
            Btn.hush()  # the chooser's buttons now lie under the finger
            return
        if pile == "tillfalliga":
            if self.temporary_chooser is None:
                self.temporary_chooser = TemporaryChooser(self)
            self.temporary_chooser.refresh(s)
            self.temporary_chooser.open(animation=False)
            Btn.hush()
            return
        if pile in SCAN_ORDER and s.pile_scan_started(pile) and s.current_pile != pile:
            # Scanning of this pile is finished: a late letter, sorted and scanned in one step.
            self.late_pile = None if self.late_pile == pile else pile
            self.app.late_pile = self.late_pile
            if self.late_pile:
                self.app.say(f"⚠ Sent brev till {PILE_NAMES[pile]}: skanna streckkoden nu. "
                             "(Tryck på högen igen för att avbryta.)", "warning")
            else:
                self.app.say("")
            self.refresh()
            return
        self.app.do({"cmd": "sort", "pile": pile})

    def _undo(self) -> None:
        """Take back the latest count on this screen, a sort or a Leta Kund letter."""
        what = last_count(self.state)
        if what is not None:
            self.app.do({"cmd": "undo", "what": what[0]})

    def on_leave(self, *args):
        super().on_leave(*args)
        self.late_pile = None
        self.app.late_pile = None

    def on_result(self, result):
        for chooser in (self.chooser, self.temporary_chooser):
            if chooser is not None and chooser.parent is not None:
                chooser.refresh(self.state)
        if result.code == "late" or any(e.get("type") == "late" for e in result.events) or \
                (self.late_pile and result.data.get("pile") == self.late_pile and result.ok):
            self.late_pile = None

    def refresh(self):
        s = self.state
        big = font_px(7)
        for pile, b in self.buttons.items():
            finished = pile in SCAN_ORDER and s.pile_scan_started(pile) and s.current_pile != pile
            if pile == self.late_pile:
                b.text = f"{PILE_NAMES[pile]}\n[b]Skanna det sena brevet[/b]"
                b.set_color(AMBER)
            elif finished:
                b.text = f"{PILE_NAMES[pile]}: {s.counts[pile]}\n[size={font_px(3)}]Skannad · sent brev? Tryck[/size]"
                b.set_color(GREY)
            elif pile == s.current_pile:
                b.text = f"{PILE_NAMES[pile]}\n[b][size={big}]{s.counts[pile]}[/size][/b]"
                b.set_color(GREY)
            else:
                b.text = f"{PILE_NAMES[pile]}\n[b][size={big}]{s.counts[pile]}[/size][/b]"
                b.set_color(BLUE)
        what = last_count(s)
        self.undo.text = escape_markup(undo_text(what))
        self.undo.disabled = what is None
