"""The screens, one per routine step, in the routine's order. Every tap that changes the day goes
through `app.do(command)` (= controller.handle); screens only read state to draw themselves."""

from __future__ import annotations

import datetime as dt

from kivy.uix.boxlayout import BoxLayout
from kivy.utils import escape_markup
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from .. import routine
from ..clock import TZ, deadline_for
from ..domain import (
    BILLING_ADDRESS,
    DATE_CHECK_KINDS,
    DECISION_NAMES,
    INCOMING_KINDS,
    LETA_KUND_TYPES,
    LETA_KUND_WMS,
    PILE_NAMES,
    PILES,
    REMARK_CODES,
    SCAN_ORDER,
    SEGMENTS,
    STROMAVBROTT_ATGARD_TITLE,
)
from ..personnummer import PersonnummerError
from ..personnummer import parse as parse_personnummer
from ..report import COLUMNS, follow_up_row
from .keyboard import shared as text_keyboard
from .widgets import (
    AMBER, BLUE, GREEN, GREY, MUTED, PANEL, RED, TEXT, Btn, Scale, Txt, column, mm, paint, row, set_bg,
)

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
          "oktober", "november", "december")


def in_words(day: dt.date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def scroll(child: Widget) -> ScrollView:
    sv = ScrollView(do_scroll_x=False, bar_width=mm(1.5), scroll_type=["bars", "content"])
    child.size_hint_y = None
    child.bind(minimum_height=child.setter("height"))
    sv.add_widget(child)
    return sv


def grid(cols: int, spacing_mm: float = 1.5, **kw) -> GridLayout:
    return GridLayout(cols=cols, spacing=mm(spacing_mm), **kw)


def panel(*children, color=PANEL, padding_mm: float = 2, spacing_mm: float = 1.2, **kw) -> BoxLayout:
    box = column(*children, padding_mm=padding_mm, spacing_mm=spacing_mm, **kw)
    paint(box, color)
    return box


class Page(Screen):
    """A screen with a header row (Hem + title) and a body."""

    title = ""
    home_button = True

    def __init__(self, app, **kw):
        super().__init__(**kw)
        self.app = app
        outer = BoxLayout(orientation="vertical", padding=mm(1.5), spacing=mm(1.5))
        head = row(10)
        if self.home_button:
            head.add_widget(Btn("Hem", self.app.go_home, color=GREY, size_hint_x=None, width=mm(22),
                                font_mm=3.8))
        self.title_label = Txt(f"[b]{self.title}[/b]", font_mm=4.6, fixed=True, min_ratio=0.55)
        head.add_widget(self.title_label)
        self.head = head
        outer.add_widget(head)
        self.body = BoxLayout(orientation="vertical", spacing=mm(1.5))
        outer.add_widget(self.body)
        self.add_widget(outer)
        self.build()

    @property
    def state(self) -> routine.DayState:
        return self.app.controller.state

    def build(self) -> None:  # pragma: no cover - overridden
        pass

    def refresh(self) -> None:
        pass

    def on_pre_enter(self, *args):
        self.refresh()

    def on_result(self, result) -> None:
        """A command result arrived while this page is shown."""


# ---------------------------------------------------------------------------------------------


class SignInPage(Page):
    title = "Logga in"
    home_button = False

    def build(self):
        self.body.add_widget(Txt("Tryck på din signatur – eller blippa din tagg på läsaren.", font_mm=4,
                                 color=MUTED))
        cols = 2 if Scale.portrait else 3
        g = grid(cols, row_default_height=mm(18), row_force_default=True)
        for op in self.app.config.operators:
            label = f"[b]{op.signature}[/b]" + (f"\n[size={int(mm(3.2))}]{op.name}[/size]" if op.name else "")
            g.add_widget(Btn(label, lambda s=op.signature: self.app.do({"cmd": "login", "operator": s}),
                             font_mm=6))
        self.body.add_widget(scroll(g))


class HomePage(Page):
    title = "Dagens returpost"
    home_button = False

    STEPS = (
        ("sort", "1. Sortera"),
        ("scan", "2. Skanna före 14:00"),
        ("dodsbo", "3. Dödsbo-etiketter"),
        ("sekretess", "4. Sekretess"),
        ("letakund", "5. Leta Kund"),
        ("datecheck", "6–7. Datumkoll"),
        ("incoming", "8. Inkomna brev"),
        ("other", "9–10. Övrigt"),
        ("summary", "Dagens summering"),
    )

    def build(self):
        self.head.add_widget(Btn("Logga ut", lambda: self.app.do({"cmd": "logout"}), color=GREY,
                                 size_hint_x=None, width=mm(28), font_mm=3.8))
        self.countdown = Txt("", font_mm=4.2, halign="center", fixed=True, size_hint_y=None,
                             height=mm(12 if Scale.portrait else 9), bold=True)
        paint(self.countdown, GREY)
        self.body.add_widget(self.countdown)
        cols = 1 if Scale.portrait else 3
        g = grid(cols, spacing_mm=1.0, row_default_height=mm(9.6 if Scale.portrait else 13.2), row_force_default=True)
        self.buttons: dict[str, Btn] = {}
        for name, label in self.STEPS:
            b = Btn(label, lambda n=name: self.app.go(n), font_mm=3.5, halign="left")
            b.halign = "left"
            self.buttons[name] = b
            g.add_widget(b)
        self.body.add_widget(scroll(g))

    def refresh(self):
        s = self.state
        now = self.app.now()
        day = now.astimezone(TZ).date()
        sep = "\n" if Scale.portrait else " – "
        self.title_label.text = f"[b]Dagens returpost[/b]{sep}{in_words(day)}"
        text, color = countdown(s, now, self.app.controller.ctx.deadline)
        self.countdown.text = text
        set_bg(self.countdown, color)
        for name, label in self.STEPS:
            progress, status = step_progress(name, s)
            b = self.buttons[name]
            b.text = f"[b]{label}[/b]\n[size={int(mm(3.0))}]{progress}[/size]"
            b.set_color({"done": GREEN, "active": BLUE, "todo": GREY}[status])


def countdown(s: routine.DayState, now: dt.datetime, deadline: dt.time) -> tuple[str, tuple]:
    """The 14:00 line: green when done in time, amber from 30 min before, red when missed."""
    at = deadline_for(now.astimezone(TZ).date(), deadline)
    hhmm = deadline.strftime("%H:%M")
    if s.phase in (routine.SCANNED, routine.CLOSED) and s.day == now.astimezone(TZ).date():
        when = routine.at_local(s.scan_done_at) if s.scan_done_at else ""
        if s.deadline_met:
            return f"Skanningen klar kl. {when} – i tid före {hhmm}.", GREEN
        return f"Skanningen klar kl. {when} – efter {hhmm}.", RED
    left = at - now
    if left.total_seconds() <= 0:
        return f"{hhmm} har passerat – skanningen är inte klar. TL larmas.", RED
    minutes = int(left.total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    text = f"Skanningen ska vara klar {hhmm}: " + (f"{hours} h {mins} min kvar" if hours else f"{mins} min kvar")
    return text, AMBER if left <= dt.timedelta(minutes=30) else BLUE


def step_progress(name: str, s: routine.DayState) -> tuple[str, str]:
    total_sorted = sum(s.counts.values())
    if name == "sort":
        if s.phase != routine.SORTING:
            return f"{total_sorted} brev sorterade – klart", "done"
        return f"{total_sorted} brev sorterade", "active" if total_sorted else "todo"
    if name == "scan":
        scanned = sum(s.scanned.values())
        to_scan = sum(s.counts[p] for p in SCAN_ORDER)
        if s.phase in (routine.SCANNED, routine.CLOSED):
            return f"Alla fyra högar klara · {scanned} av {to_scan} skannade", "done"
        if s.phase == routine.SCANNING:
            return f"Hög {s.scan_index + 1} av 4 · {scanned} av {to_scan} skannade", "active"
        return f"Ej påbörjad · {to_scan} brev att skanna", "todo"
    if name == "dodsbo":
        n = s.scanned["dodsbo"]
        done = s.pile_scanned("dodsbo") and s.labels_printed >= n
        return f"{s.labels_printed} av {n} etiketter", "done" if done and n else ("active" if s.pile_scanned("dodsbo") and n else "todo")
    if name == "sekretess":
        if s.cover_slips_printed:
            return "Försättsblad utskrivet", "done"
        return f"{s.scanned['sekretess']} skannade · inget försättsblad", "active" if s.pile_scanned("sekretess") and s.scanned["sekretess"] else "todo"
    if name == "letakund":
        n = sum(s.leta_kund[t] for t in LETA_KUND_TYPES)
        return f"{n} brev räknade", "active" if n else "todo"
    if name == "datecheck":
        return f"{len(s.decisions)} brev bedömda", "active" if s.decisions else "todo"
    if name == "incoming":
        return f"{len(s.cab)} CAB-ärenden", "active" if s.cab else "todo"
    if name == "other":
        n, m = len(s.temporary), len(s.remarks)
        return f"{n} utskick · {m} anmärkn.", "active" if n or m else "todo"
    if name == "summary":
        return ("Dagen är avslutad", "done") if s.phase == routine.CLOSED else ("Skriv ut, avsluta dagen", "todo")
    return "", "todo"


# ---------------------------------------------------------------------------------------------


class SortPage(Page):
    title = "1. Sortera – ett tryck per brev"

    def build(self):
        cols = 2 if Scale.portrait else 4
        g = grid(cols)
        self.buttons: dict[str, Btn] = {}
        for pile in PILES:
            b = Btn("", lambda p=pile: self.app.do({"cmd": "sort", "pile": p}), font_mm=3.6)
            self.buttons[pile] = b
            g.add_widget(b)
        self.body.add_widget(g)
        self.body.add_widget(row(12, Btn("Ångra senaste", lambda: self.app.do({"cmd": "undo"}), color=GREY),
                                 Btn("Klar – till skanning", lambda: self.app.go("scan"), color=GREEN)))

    def refresh(self):
        s = self.state
        big = int(mm(7))
        for pile, b in self.buttons.items():
            b.text = f"{PILE_NAMES[pile]}\n[b][size={big}]{s.counts[pile]}[/size][/b]"
            b.set_color(GREY if s.pile_scan_started(pile) else BLUE)


class ScanPage(Page):
    title = "2. Skanna i ordning"

    def build(self):
        self.last = None
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(1.5))
        left = column(spacing_mm=1.5)
        self.current = Txt("", font_mm=5.2, bold=True, halign="center", fixed=True, size_hint_y=None, height=mm(13))
        self.count = Txt("", font_mm=11, bold=True, halign="center", fixed=True, size_hint_y=None, height=mm(15))
        self.feedback = Txt("", font_mm=4.2, halign="center", fixed=True)
        paint(self.feedback, PANEL)
        left.add_widget(self.current)
        left.add_widget(self.count)
        left.add_widget(self.feedback)
        right = column(spacing_mm=1.2, size_hint_x=None if not portrait else 1, width=mm(58))
        if portrait:
            right.size_hint_y = None
            right.height = mm(62)
        self.order = Txt("", font_mm=3.3, valign="top", fixed=True)
        right.add_widget(self.order)
        self.undo = Btn("Ångra senaste skanning", lambda: self.app.do({"cmd": "undo"}), color=GREY,
                        size_hint_y=None, height=mm(11), font_mm=3.4)
        self.next = Btn("", self._primary, color=GREEN, size_hint_y=None, height=mm(16), font_mm=3.8)
        right.add_widget(self.undo)
        right.add_widget(self.next)
        main.add_widget(left)
        main.add_widget(right)
        self.body.add_widget(main)

    def _primary(self):
        s = self.state
        if s.phase == routine.SORTING:
            self.app.do({"cmd": "scan_phase"})
        elif s.phase == routine.SCANNING:
            self.app.do({"cmd": "next_pile"})
        else:
            self.app.go("dodsbo")

    def on_result(self, result):
        if result.events and result.events[-1]["type"] in ("scan_accepted", "scan_rejected"):
            self.last = result
        elif result.code in ("pile_done", "scan_phase_started"):
            self.last = None
        self.refresh()

    def refresh(self):
        s = self.state
        lines = []
        for i, pile in enumerate(SCAN_ORDER):
            if s.pile_scanned(pile):
                mark = "✓"
            elif s.current_pile == pile:
                mark = "▶"
            else:
                mark = f"{i + 1}."
            lines.append(f"{mark} {PILE_NAMES[pile]}: {s.scanned[pile]} av {s.counts[pile]}")
        self.order.text = "[b]Ordning[/b]\n" + "\n".join(lines)
        pile = s.current_pile
        self.undo.disabled = s.phase != routine.SCANNING
        if s.phase == routine.SORTING:
            self.current.text = "Skanningen är inte startad"
            self.count.text = f"{sum(s.counts[p] for p in SCAN_ORDER)} brev"
            self.next.text = "Starta skanningen"
            self._feedback("Skanna högarna i ordning: dödsbo, sekretess, faktura, övriga med streckkod. "
                           "Högen som skannas blinkar på hyllan.", PANEL)
        elif pile is not None:
            self.current.text = f"Skanna nu: {PILE_NAMES[pile]}"
            self.count.text = f"{s.scanned[pile]} av {s.counts[pile]}"
            following = s.scan_index + 1
            self.next.text = (f"Klar – nästa hög:\n{PILE_NAMES[SCAN_ORDER[following]]}"
                              if following < len(SCAN_ORDER) else "Klar – avsluta skanningen")
            if self.last is None:
                hint = "Skanna streckkoden." + (" (Simulator: skriv koden och tryck Enter.)"
                                                 if self.app.simulator else "")
                self._feedback(hint, PANEL)
            else:
                self._show_last()
        else:
            when = routine.at_local(s.scan_done_at) if s.scan_done_at else ""
            self.current.text = "Skanningen är klar"
            self.count.text = f"kl. {when}"
            self.next.text = "Vidare: dödsbo-etiketter"
            self._feedback("I tid före 14:00." if s.deadline_met else "Klar efter 14:00 – TL har larmats.",
                           GREEN if s.deadline_met else RED)

    def _show_last(self):
        r = self.last
        code = r.data.get("code", "")
        shown = code if len(code) <= 32 else code[:30] + "…"
        if r.code == "accepted":
            self._feedback(f"[b]✓ GODKÄND[/b]  {shown}\n{r.message}", GREEN)
        elif r.code == "duplicate":
            self._feedback(f"[b]DUBBLETT[/b]  {shown}\n{r.message}", AMBER)
        else:
            self._feedback(f"[b]✗ OGILTIG[/b]  {shown}\n{r.message}", RED)

    def _feedback(self, text, color):
        self.feedback.text = text
        set_bg(self.feedback, color)


# ---------------------------------------------------------------------------------------------


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


class SekretessPage(Page):
    title = "4. Sekretess – försättsblad"

    CHECKS = (
        "Försättsbladet ligger först i kuvertet",
        "Inget kundnamn syns i kuvertets fönster",
        "Kuvertet går till Fakturering (adressen intill)",
        "Kuvertet lämnat i internposten",
    )

    def build(self):
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(2))
        left = column(spacing_mm=1.5)
        self.count = Txt("", font_mm=4.2, halign="center", fixed=True, size_hint_y=None, height=mm(16))
        left.add_widget(self.count)
        self.print_btn = Btn("Skriv ut försättsblad", lambda: self.app.do({"cmd": "cover_slip"}), color=GREEN,
                             size_hint_y=None, height=mm(14), font_mm=4.2)
        left.add_widget(self.print_btn)
        addr = Txt("[b]Adress[/b]\n" + "\n".join(BILLING_ADDRESS), font_mm=4, color=(0, 0, 0, 1),
                   halign="center", fixed=True)
        paint(addr, (0.96, 0.96, 0.92, 1))
        left.add_widget(addr)
        right = column(spacing_mm=1.2)
        right.add_widget(Txt("[b]Kuvertet[/b] – tryck när det är gjort:", font_mm=3.4, color=MUTED))
        self.ticks: dict[int, bool] = {}
        self.check_btns = []
        for i, text in enumerate(self.CHECKS):
            b = Btn("", lambda i=i: self._tick(i), color=GREY, font_mm=3.3)
            self.check_btns.append(b)
            right.add_widget(b)
        main.add_widget(left)
        main.add_widget(right)
        self.body.add_widget(main)

    def _tick(self, i):
        self.ticks[i] = not self.ticks.get(i)
        self.refresh()

    def refresh(self):
        s = self.state
        n = s.scanned["sekretess"]
        done = f"\nUtskrivna försättsblad i dag: {s.cover_slips_printed}" if s.cover_slips_printed else ""
        self.count.text = f"[b]{n}[/b] sekretessfakturor skannade i dag{done}"
        self.print_btn.disabled = not (s.pile_scanned("sekretess") and n > 0)
        for i, b in enumerate(self.check_btns):
            on = self.ticks.get(i, False)
            b.text = ("☑  " if on else "☐  ") + self.CHECKS[i]
            b.set_color(GREEN if on else GREY)


class LetaKundPage(Page):
    title = "5. Leta Kund-brev – räkna per typ"

    def build(self):
        cols = 2 if Scale.portrait else 3
        g = grid(cols)
        self.buttons = {}
        for key in ("A", "A+", "B", "C", "D", "H"):
            letter = key[0]
            cmd = {"cmd": "leta_kund", "letter": letter}
            if key == "A+":
                cmd["apartments"] = 1
            b = Btn("", lambda c=cmd: self.app.do(dict(c)), font_mm=3.6)
            self.buttons[key] = b
            g.add_widget(b)
        self.body.add_widget(g)
        self.reminder = Txt("", font_mm=3.3, fixed=True, size_hint_y=None, height=mm(16), valign="top")
        paint(self.reminder, PANEL)
        self.body.add_widget(self.reminder)

    def refresh(self):
        lk = self.state.leta_kund
        big = int(mm(6))
        a_total, apartments = lk["A"], lk["apartments"]
        self.buttons["A"].text = f"A utan lgh-nr · {LETA_KUND_WMS['A']}\n[b][size={big}]{a_total - apartments}[/size][/b]"
        self.buttons["A+"].text = f"A med lgh-nr · {LETA_KUND_WMS['A']}\n[b][size={big}]{apartments}[/size][/b]"
        for t in ("B", "C", "D", "H"):
            self.buttons[t].text = f"{t} · {LETA_KUND_WMS[t]}\n[b][size={big}]{lk[t]}[/size][/b]"
        self.reminder.text = ("Påminnelse: bocka i \"Brev N retur\" i Leta Kund-ärendet i WMS och spara "
                              "(inget görs om ärendet är avslutat).")

    def on_result(self, result):
        if result.code == "leta_kund_counted":
            self.reminder.text = f"[b]{result.message}[/b]"


class DateCheckPage(Page):
    title = "6–7. Datumkontroll – kasta eller skicka om"

    def build(self):
        self.kind = "planerat_stromavbrott"
        self.date = self.app.now().astimezone(TZ).date()
        self.kind_btns = {}
        kinds = row(10)
        for kind, name in DATE_CHECK_KINDS.items():
            b = Btn(name, lambda k=kind: self._kind(k), font_mm=3.4)
            self.kind_btns[kind] = b
            kinds.add_widget(b)
        self.body.add_widget(kinds)
        self.date_label = Txt("", font_mm=5, bold=True, halign="center", fixed=True, size_hint_y=None, height=mm(8))
        self.body.add_widget(self.date_label)
        steps = row(10)
        for label, delta in (("−1 mån", -30), ("−1 dag", -1), ("I dag", 0), ("+1 dag", 1), ("+1 mån", 30)):
            steps.add_widget(Btn(label, lambda d=delta: self._step(d), color=GREY, font_mm=3.6))
        self.body.add_widget(steps)
        self.decision = Txt("", font_mm=3.6, halign="center", fixed=True, padding=(mm(1), mm(0.5)))
        paint(self.decision, PANEL)
        register = Btn("Registrera beslutet", self._register, color=GREEN, font_mm=3.8)
        always = Btn(f"\"{STROMAVBROTT_ATGARD_TITLE}\": skicka alltid om",
                     lambda: self.app.do({"cmd": "stromavbrott_atgard"}), color=GREY, font_mm=2.9)
        if Scale.portrait:
            self.body.add_widget(self.decision)
            self.body.add_widget(row(13, register, always))
        else:  # landscape: the decision beside its buttons, so nothing is squeezed
            bottom = BoxLayout(orientation="horizontal", spacing=mm(1.5))
            bottom.add_widget(self.decision)
            bottom.add_widget(column(register, always, spacing_mm=1.2, size_hint_x=0.42))
            self.body.add_widget(bottom)

    def _kind(self, kind):
        self.kind = kind
        self.refresh()

    def _step(self, delta):
        if delta == 0:
            self.date = self.app.now().astimezone(TZ).date()
        else:
            self.date += dt.timedelta(days=delta)
        self.refresh()

    def _register(self):
        self.app.do({"cmd": "date_check", "kind": self.kind, "date": self.date.isoformat()})

    def refresh(self):
        for kind, b in self.kind_btns.items():
            b.set_color(BLUE if kind == self.kind else GREY)
        self.date_label.text = f"Datum på brevet: {in_words(self.date)}"
        today = self.app.now().astimezone(TZ).date()
        decision = routine.date_decision(self.date, today)
        if decision == "kasta":
            text = (f"[b]{DECISION_NAMES['kasta'].upper()}[/b] – datumet har passerat eller är inom 3 dagar.\n"
                    "Lägg brevet i sekretesslådan.")
        else:
            text = (f"[b]{DECISION_NAMES['skicka_om'].upper()}[/b] – sök ny adress och skicka om.\n"
                    "Lägg brevet i facket Skicka om tills adressen är hittad.")
        if self.kind == "planerat_stromavbrott":
            text += "\nTa bort aviseringsadressen i WMS om den finns."
        self.decision.text = text
        set_bg(self.decision, RED if decision == "kasta" else BLUE)


class IncomingPage(Page):
    """Two steps in one place: first the kind of letter, then (when needed) private/business and
    what it is about; then the exact CAB case is shown."""

    title = "8. Inkomna brev – vilket CAB-ärende?"

    ABOUT = ("Handskrivet brev", "Adressändring", "Fråga om faktura", "Avtal", "Övrigt")
    OWN = "Annat … (skriv själv)"

    def build(self):
        self.kind = None
        self.segment = None
        self.about = None
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(2))
        self.choices = column(spacing_mm=1.2)
        self.kind_grid = grid(2, spacing_mm=1.2)
        self.kind_grid.add_widget(Txt("Vad är det för brev?", font_mm=3.6, color=MUTED, fixed=True))
        for kind, name in INCOMING_KINDS.items():
            self.kind_grid.add_widget(Btn(name, lambda k=kind: self._set("kind", k), font_mm=3.3))
        self.detail = column(spacing_mm=1.2)
        self.kind_row = row(10, Btn("Byt typ", lambda: self._set("kind", None), color=GREY, size_hint_x=0.35,
                                    font_mm=3.2))
        self.kind_name = Txt("", font_mm=3.6, fixed=True, bold=True)
        self.kind_row.add_widget(self.kind_name)
        self.seg_row = row(10)
        self.seg_btns = {}
        for seg, name in (("privat", "Privatkund"), ("foretag", "Företagskund")):
            b = Btn(name, lambda s=seg: self._set("segment", s), font_mm=3.2)
            self.seg_btns[seg] = b
            self.seg_row.add_widget(b)
        self.about_grid = grid(3, spacing_mm=1.2, size_hint_y=None, height=mm(21.2))
        self.about_btns = {}
        for about in self.ABOUT:
            b = Btn(about, lambda a=about: self._set("about", a), font_mm=3.0)
            self.about_btns[about] = b
            self.about_grid.add_widget(b)
        self.own_btn = Btn(self.OWN, self._type_about, font_mm=3.0)
        self.about_grid.add_widget(self.own_btn)
        self.register = Btn("Registrera och visa ärendet", self._register, color=GREEN, size_hint_y=None,
                            height=mm(11), font_mm=3.4)
        self.case = Txt("Välj vad det är för brev. Kioskens svar är ärendet du ska skapa i CAB.", font_mm=3.4,
                        valign="top", fixed=True, padding=(mm(1.5), mm(1)))
        paint(self.case, PANEL)
        if portrait:
            self.case.size_hint_y = 0.8
        main.add_widget(self.choices)
        main.add_widget(self.case)
        self.body.add_widget(main)

    def _set(self, field, value):
        setattr(self, field, value)
        if field == "kind":
            self.segment = self.about = None
        self.refresh()

    def _type_about(self):
        own = self.about if self.about and self.about not in self.ABOUT else ""
        text_keyboard(self.app).open_for("Vad handlar brevet om? (blir ärenderubriken i CAB)",
                                         lambda text: self._set("about", text), own)

    def needs(self):
        k = self.kind
        return (k in ("ovrigt", "fullmakt_med_brev", "bestridan"), k in ("ovrigt", "fullmakt_med_brev"))

    def _register(self):
        if self.kind is None:
            return
        need_seg, need_about = self.needs()
        cmd = {"cmd": "incoming", "kind": self.kind}
        if need_seg:
            cmd["segment"] = self.segment
        if need_about:
            cmd["about"] = self.about
        result = self.app.do(cmd)
        if result.ok:
            case = result.data["cab"]
            text = (f"[b]Skapa i CAB:[/b]\nTyp: [b]{case['type']}[/b]\nÄrenderubrik: [b]{case['subject']}[/b]\n"
                    f"Status: [b]{case['status']}[/b]\nGrupp: [b]{case['group']}[/b]\n{case['action']}")
            if self.kind == "bestridan":
                text += "\n[b]TL har larmats om bestridan.[/b]"
            self.case.text = text
            set_bg(self.case, RED if self.kind == "bestridan" else PANEL)
            self.kind = self.segment = self.about = None
            self.refresh()

    def refresh(self):
        self.choices.clear_widgets()
        if self.kind is None:
            self.choices.add_widget(self.kind_grid)
            return
        need_seg, need_about = self.needs()
        self.kind_name.text = INCOMING_KINDS[self.kind]
        self.choices.add_widget(self.kind_row)
        if need_seg:
            self.choices.add_widget(self.seg_row)
        if need_about:
            self.choices.add_widget(self.about_grid)
        self.choices.add_widget(self.register)
        self.choices.add_widget(Widget())
        for s, b in self.seg_btns.items():
            b.set_color(BLUE if s == self.segment else GREY)
        for a, b in self.about_btns.items():
            b.set_color(BLUE if a == self.about else GREY)
        own = self.about is not None and self.about not in self.ABOUT
        short = self.about if own and len(self.about) <= 28 else f"{(self.about or '')[:26]}…"
        self.own_btn.text = f"Annat: {escape_markup(short)}" if own else self.OWN
        self.own_btn.set_color(BLUE if own else GREY)
        ready = (not need_seg or self.segment) and (not need_about or self.about)
        self.register.disabled = not ready


class OtherPage(Page):
    title = "9–10. Tillfälliga utskick och kuvertanmärkningar"

    TEMPORARY = ("Bristfällig anläggning", "Priskompensation", "Annat tillfälligt utskick")
    OWN = "Annat … (skriv själv)"

    def build(self):
        portrait = Scale.portrait
        main = BoxLayout(orientation="vertical" if portrait else "horizontal", spacing=mm(2))
        left = column(spacing_mm=1.2)
        self.temp_label = Txt("", font_mm=3.4, color=MUTED)
        left.add_widget(self.temp_label)
        for about in self.TEMPORARY:
            left.add_widget(Btn(about, lambda a=about: self.app.do({"cmd": "temporary", "about": a}), font_mm=3.3))
        left.add_widget(Btn(self.OWN, self._type_temporary, font_mm=3.3, color=GREY))
        right = column(spacing_mm=1.2)
        right.add_widget(Txt("[b]Anmärkning på kuvertet[/b] → kundloggen:", font_mm=3.4, color=MUTED))
        g = grid(2, spacing_mm=1.2, size_hint_y=None, height=mm(3 * 9.5 + 2 * 1.2), row_force_default=True,
                 row_default_height=mm(9.5))
        for code, name in REMARK_CODES.items():
            g.add_widget(Btn(name, lambda c=code: self.app.do({"cmd": "remark", "code": c}), font_mm=3.0, color=GREY))
        right.add_widget(g)
        self.note = Txt("", font_mm=3.1, valign="top", fixed=True, padding=(mm(1), mm(0.5)), min_ratio=0.5)
        paint(self.note, PANEL)
        right.add_widget(self.note)
        main.add_widget(left)
        main.add_widget(right)
        self.body.add_widget(main)

    def _type_temporary(self):
        text_keyboard(self.app).open_for("Vilket tillfälligt utskick? (TL får en fråga om hanteringen)",
                                         lambda text: self.app.do({"cmd": "temporary", "about": text}))

    def refresh(self):
        s = self.state
        self.temp_label.text = (f"[b]Tillfälliga utskick[/b] i dag: {len(s.temporary)}. "
                                "Tryck per brev – TL får en fråga om hanteringen.")
        if not self.note.text:
            self.note.text = f"Anmärkningar i dag: {len(s.remarks)}"

    def on_result(self, result):
        if result.code == "remark_logged":
            if result.data.get("checklist"):  # the banner above already says what to log
                # short forms: the banner above shows the whole checklist in full
                self.note.text = ("[b]Poste Restante – gör också:[/b]\n"
                                  "☐ Upplysning.se: är adressen borttagen?\n"
                                  "☐ Om ja: radera särskild postadress i CAB.")
            else:
                self.note.text = f"[b]{result.message}[/b]"
        elif result.code == "temporary_counted":
            self.note.text = f"[b]{result.message}[/b]"
        self.refresh()


COLUMN_NAMES = {
    "day": "Dag", "site": "Kontor", "kiosk": "Kiosk",
    **{f"count_{p}": PILE_NAMES[p] for p in PILES},
    **{f"leta_kund_{t}": f"Leta Kund {t} ({LETA_KUND_WMS[t]})" for t in LETA_KUND_TYPES},
    "leta_kund_apartments": "Leta Kund A med lgh-nr", "scans_accepted": "Godkända skanningar",
    "scans_rejected": "Avvisade skanningar", "missing_scans": "Saknade skanningar",
    "scan_done_at": "Skanning klar", "deadline_met": "Klar före 14:00", "alerts": "Larm till TL",
    "alerts_bestridan": "– varav bestridan", "alerts_tillfalliga": "– varav tillfälliga utskick",
    "alerts_deadline_missed": "– varav missad 14:00",
}


class SummaryPage(Page):
    title = "Dagssammanställning – uppföljningsraden"

    def build(self):
        self.table = grid(4 if not Scale.portrait else 2, spacing_mm=0.5, row_default_height=mm(7.5),
                          row_force_default=True)
        self.body.add_widget(scroll(self.table))
        self.values: dict[str, Txt] = {}
        self.confirming = False
        self.print_btn = Btn("Skriv ut sammanställning", self.app.print_summary, color=GREY, font_mm=3.6)
        self.close_btn = Btn("Avsluta dagen", self._close, color=GREEN, font_mm=3.6)
        self.body.add_widget(row(13, self.print_btn, self.close_btn))

    def _close(self):
        if not self.confirming:
            self.confirming = True
            self.refresh()
            return
        self.confirming = False
        self.app.do({"cmd": "close_day"})
        self.refresh()

    def on_leave(self, *args):
        self.confirming = False

    def refresh(self):
        s = self.state
        cfg = self.app.config
        row_ = follow_up_row(self.app.controller.summary(), cfg.kiosk.site, cfg.kiosk.id)
        if not self.values:  # the labels are built once; a refresh only changes their text
            for key in COLUMNS:
                self.table.add_widget(Txt(COLUMN_NAMES.get(key, key), font_mm=2.9, color=MUTED, fixed=True,
                                          min_ratio=0.7))
                self.values[key] = Txt("", font_mm=3.1, fixed=True, min_ratio=0.7)
                self.table.add_widget(self.values[key])
        for key in COLUMNS:
            value = row_[key]
            if key == "deadline_met":
                value = "Ja" if value else "Nej"
            elif key == "scan_done_at":
                value = routine.at_local(value) if value else "–"
            elif value is None:
                value = "–"
            self.values[key].text = f"[b]{value}[/b]"
        closed = s.phase == routine.CLOSED
        self.close_btn.disabled = closed
        self.close_btn.text = ("Dagen är avslutad" if closed else
                               "Tryck igen för att avsluta dagen" if self.confirming else "Avsluta dagen")
        self.close_btn.set_color(AMBER if self.confirming else GREEN)


PAGES = {
    "signin": SignInPage, "home": HomePage, "sort": SortPage, "scan": ScanPage, "dodsbo": DodsboPage,
    "sekretess": SekretessPage, "letakund": LetaKundPage, "datecheck": DateCheckPage,
    "incoming": IncomingPage, "other": OtherPage, "summary": SummaryPage,
}
