"""The day summary and closing the day: an overview that fits the screen without scrolling (the
counts, scanning and the deadline, Leta Kund, TL alerts, warnings, the checklist), the whole
follow-up row on demand (a deliberate, visible scroll), print, close the day with a confirming
tap (and another when something is unfinished), reopen a closed day."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.utils import escape_markup, get_hex_from_color

from ....core import routine, truth
from ..present import banner_text, severity
from ....core.domain import LETA_KUND_TYPES, LETA_KUND_WMS, PILE_NAMES, PILES, WARNING_NAMES
from ....core.printouts import VERDICT_WORDS, deadline_verdict
from ....core.followup import COLUMNS, follow_up_row
from ..widgets import AMBER, GREEN, GREY, MUTED, PANEL, Btn, Page, Txt, column, mm, paint, row, scroll

MUTED_HEX = get_hex_from_color(MUTED)

COLUMN_NAMES = {
    "day": "Dag", "site": "Kontor", "kiosk": "Kiosk",
    **{f"count_{p}": PILE_NAMES[p] for p in PILES},
    **{f"leta_kund_{t}": f"Leta Kund {t} ({LETA_KUND_WMS[t]})" for t in LETA_KUND_TYPES},
    "leta_kund_apartments": "Leta Kund A med lgh-nr", "scans_accepted": "Godkända skanningar",
    "scans_rejected": "Avvisade skanningar", **WARNING_NAMES,
    "scan_done_at": "Skanning klar", "deadline_met": "Klar före deadline", "alerts": "Larm till TL",
    "alerts_bestridan": "– varav bestridan", "alerts_tillfalliga": "– varav tillfälliga utskick",
    "alerts_deadline_missed": "– varav missad deadline",
    "late_letters": "Sena brev", "labels_printed": "Etiketter", "label_reprints": "Omtryck av etiketter",
    "cover_slips_printed": "Försättsblad", "alerts_cancelled": "Återkallade larm", "warnings": "Varningar",
}

SHORT_PILE = {"dodsbo": "Dödsbo", "sekretess": "Sekretess", "faktura": "Faktura", "ovriga_streckkod": "Övr. m kod",
              "leta_kund": "Leta Kund", "ovriga_brev": "Övr. brev", "inkomna_brev": "Inkomna",
              "tillfalliga": "Tillfälliga"}

WARNING_TEXT = {
    "missing_scans": "{pile}: {missing} av {sorted} inte skannade",
    "extra_scans": "{pile}: fler skannade ({scanned}) än sorterade ({sorted})",
    "labels_missing": "Dödsbo: etiketter saknas",
    "cover_slip_missing": "Sekretess: inget försättsblad",
    "unscanned": "{pile}: aldrig skannad",
}

CHECKLIST_NAMES = {"envelope_sent": "kuvertet skickat", "wms_ticked": "bockat i WMS",
                   "cab_case_created": "klart i CAB", "poste_restante_checked": "Upplysning.se kontrollerad",
                   "poste_restante_removed": "postadress raderad i CAB"}


def warning_text(w: dict) -> str:
    if w.get("kind") not in WARNING_TEXT:  # the routine's own sentence (unprinted jobs, unconfirmed alerts)
        return str(w.get("text") or w.get("kind")).rstrip(".")
    template = WARNING_TEXT.get(w.get("kind"), w.get("kind", "?"))
    pile = PILE_NAMES.get(w.get("pile", ""), w.get("pile", ""))
    sorted_, scanned = w.get("sorted", 0) or 0, w.get("scanned", 0) or 0
    try:
        return template.format(pile=pile, sorted=sorted_, scanned=scanned, missing=sorted_ - scanned)
    except (KeyError, ValueError):
        return str(w.get("kind"))



ALERT_WORDS = {"bestridan": "Bestridan", "tillfalliga": "Tillfälligt utskick", "deadline_missed": "Missad deadline"}


def overview(summary: dict, deadline: str, alert_lines: list[tuple[str, str]] | None = None) -> str:
    """The essential lines of the day, in words (markup: bold labels). `alert_lines`: for each of
    the day's alerts (summary order) where it is now (kiosk/core/truth.py)."""
    c = summary["counts"]
    lk = summary["leta_kund"]
    accepted, rejected = len(summary["scans"]["accepted"]), len(summary["scans"]["rejected"])
    done = summary.get("scan_done_at")
    when = f"klar kl. {routine.at_local(done)}" if done else "inte klar"
    met_text = VERDICT_WORDS[deadline_verdict(summary)]
    alerts = summary.get("alerts", [])
    kinds = {k: sum(1 for a in alerts if a["kind"] == k) for k in ("bestridan", "tillfalliga", "deadline_missed")}
    warnings = summary.get("warnings", [])
    lines = [
        "[b]Sorterat:[/b] " + " · ".join(f"{SHORT_PILE[p]} {c.get(p, 0)}" for p in PILES),
        f"[b]Skannat:[/b] {accepted} godkända, {rejected} avvisade · {when} · före {deadline}: [b]{met_text}[/b]",
        "[b]Leta Kund:[/b] " + ", ".join(f"{t} {lk.get(t, 0)}" for t in LETA_KUND_TYPES)
        + f" (A med lgh-nr {lk.get('apartments', 0)})",
        f"[b]Datumkoll:[/b] {len(summary.get('decisions', []))} · [b]CAB-ärenden:[/b] {len(summary.get('cab', []))}"
        f" · [b]Utskick:[/b] {len(summary.get('temporary', []))} · [b]Anmärkn.:[/b] {len(summary.get('remarks', []))}"
        f" · [b]Etiketter:[/b] {summary.get('labels_printed', 0)}{truth.unprinted_note(summary.get('print_jobs') or [], 'dodsbo_label')}"
        f" · [b]Försättsblad:[/b] {summary.get('cover_slips_printed', 0)}{truth.unprinted_note(summary.get('print_jobs') or [], 'cover_slip')}",
        f"[b]Larm till TL:[/b] {len(alerts)} (bestridan {kinds['bestridan']}, tillfälliga {kinds['tillfalliga']}, "
        f"missad deadline {kinds['deadline_missed']})",
    ]
    for a, (text, _sev) in zip(alerts, alert_lines or ()):
        lines.append(f"  • {ALERT_WORDS.get(a['kind'], a['kind'])}: {escape_markup(text)}")
    checklist = summary.get("checklist")
    if isinstance(checklist, dict) and checklist:
        ticked = [CHECKLIST_NAMES.get(k, k) for k, v in checklist.items() if v]
        lines.append("[b]Checklista:[/b] " + (", ".join(ticked) if ticked else "inget bockat"))
    if warnings:
        lines.append("[b]⚠ Varningar:[/b] " + escape_markup("; ".join(warning_text(w) for w in warnings)))
    else:
        lines.append("[b]✓ Inga varningar[/b]")
    return "\n".join(lines)


class SummaryPage(Page):
    title = "Dagens summering"

    def build(self):
        self.full = False
        self.area = BoxLayout(orientation="vertical")
        self.body.add_widget(self.area)
        self.overview = Txt("", font_mm=3.2, valign="top", fixed=True, min_ratio=0.6, padding=(mm(1.5), mm(1)))
        paint(self.overview, PANEL)
        self.area.add_widget(self.overview)  # laid out with the page, before its first visit
        # The whole follow-up row: one label, a line per column ("name  value"), in a scroll. One
        # label instead of a name and a value label per column (~100 labels: ~6 MB and ~100 ms
        # to build on the tap that opened it); its text is dropped when the overview is back.
        self.table = Txt("", font_mm=3.0, padding=(mm(1.5), mm(1)), line_height=1.15)
        self.table_view = scroll(column(self.table))
        self.confirming = False
        self.print_btn = Btn("Skriv ut sammanställning", self.app.print_summary, color=GREY, font_mm=3.4, guard=True)
        self.toggle_btn = Btn("", self._toggle, color=GREY, font_mm=3.2)
        self.close_btn = Btn("Avsluta dagen", self._close, color=GREEN, font_mm=3.4, guard=True)
        self.body.add_widget(row(13, self.print_btn, self.toggle_btn, self.close_btn))

    def _toggle(self):
        self.full = not self.full
        self.refresh()

    def _close(self):
        s = self.state
        closed = s.phase == routine.CLOSED
        if not self.confirming and self.close_btn not in self.pending:
            self.confirming = True  # the first tap only asks
            self.refresh()
            return
        self.confirming = False
        pending = self.pending.pop(self.close_btn, None)
        if closed:
            self.app.do({"cmd": "reopen_day"})
        else:
            again = self.printed_before()
            result = self.app.do(dict(pending, confirm=True) if pending else {"cmd": "close_day"})
            if result.code == "confirm_needed" and not pending:
                self.pending = {self.close_btn: {"cmd": "close_day"}}
            elif result.ok and result.effects.prints:
                self.app.summaries_printed += 1
                if again:  # say so: a second summary today, and which one holds
                    self.app.say(banner_text(result) + " Det är dagens andra sammanställning: den nya gäller.",
                                 severity(result))
        self.refresh()

    def printed_before(self) -> bool:
        """A day summary was printed today already (by "Skriv ut sammanställning" here, or by an
        earlier closing of the day that was reopened)."""
        return self.app.summaries_printed > 0 or self.state.reopened > 0

    def on_leave(self, *args):
        super().on_leave(*args)
        self.confirming = False

    def refresh(self):
        s = self.state
        cfg = self.app.config
        summary = self.app.controller.summary()
        deadline = self.app.controller.ctx.deadline.strftime("%H:%M")
        self.area.clear_widgets()
        if self.full:
            self._fill_table(summary, cfg)
            self.area.add_widget(self.table_view)
            self.toggle_btn.text = "Visa översikt"
        else:
            self.table.text = ""  # the whole row's text is not kept while the overview shows
            lines = [truth.alert_text(self.app.alert_state(a)) for a in self.state.alerts]
            self.overview.text = overview(summary, deadline, lines)
            self.area.add_widget(self.overview)
            self.toggle_btn.text = "Hela uppföljningsraden"
        closed = s.phase == routine.CLOSED
        if self.close_btn in self.pending:
            unfinished = len(self.pending_unfinished())
            self.close_btn.text = f"Tryck igen: avsluta ändå ({unfinished} ofärdiga)" if unfinished else \
                "Tryck igen: avsluta ändå"
            self.close_btn.set_color(AMBER)
        elif closed:
            self.close_btn.text = "Tryck igen för att öppna dagen" if self.confirming else "Dagen är avslutad – öppna igen"
            self.close_btn.set_color(AMBER if self.confirming else GREY)
        elif self.confirming:
            self.close_btn.text = ("Tryck igen: avsluta dagen\n(skriver ut sammanställningen igen)"
                                   if self.printed_before() else "Tryck igen för att avsluta dagen")
            self.close_btn.set_color(AMBER)
        else:
            self.close_btn.text = "Avsluta dagen"
            self.close_btn.set_color(GREEN)

    def tick(self) -> None:
        """Once a second: the alerts' lines stay true (the overview only)."""
        if not self.full:
            summary = self.app.controller.summary()
            lines = [truth.alert_text(self.app.alert_state(a)) for a in self.state.alerts]
            text = overview(summary, self.app.controller.ctx.deadline.strftime("%H:%M"), lines)
            if text != self.overview.text:
                self.overview.text = text

    def pending_unfinished(self) -> list:
        r = self.app.last_shown
        return list((r.data or {}).get("unfinished") or []) if r is not None and r.code == "confirm_needed" else []

    def _fill_table(self, summary, cfg):
        row_ = follow_up_row(summary, cfg.kiosk.site, cfg.kiosk.id)
        lines = []
        for key in COLUMNS:
            value = row_.get(key)
            if key == "deadline_met":
                value = VERDICT_WORDS[deadline_verdict(summary)]
            elif key == "scan_done_at":
                value = routine.at_local(value) if value else "–"
            elif value is None:
                value = "–"
            lines.append(f"[color={MUTED_HEX}]{escape_markup(COLUMN_NAMES.get(key, key))}[/color]   "
                         f"[b]{escape_markup(str(value))}[/b]")
        self.table.text = "\n".join(lines)
