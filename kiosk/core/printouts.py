"""Printouts laid out once (pure). The PNG preview (`kiosk.shelf.preview`) and the ESC/POS printer
adapter both render from the same `Layout`, so the preview shows what the paper will show.

An 80 mm thermal printer prints 48 columns of font A at size 1; size 2 halves that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .domain import BILLING_ADDRESS, LETA_KUND_TYPES, LETA_KUND_WMS, PILE_NAMES, PILES, WARNING_NAMES, warning_counts

COLUMNS = 48

# The sekretess envelope (step 4). An 80 mm receipt strip prints 72 mm across: it cannot cover a
# standard address window (the C5 window envelope's window is 105 x 35 mm, 15 mm from the left
# and 44 mm from the top; DIN 680's is 90 x 45 mm), so an invoice's customer address would show
# beside the slip. The kiosk therefore prints the billing address as a separate, cut address label
# for a windowless envelope (default_config.toml [envelope]); the cover slip goes inside, first.
# `envelope_fit` says where the label goes; docs/cover-slip-envelope.png draws both to scale.
PAPER_MM = 80.0
PRINT_MM = 72.0  # 576 dots at 8 dots/mm
DOT_MM = 1 / 8
COVER_SLIP_PLACEMENT = ("Tejpa fast adressetiketten på framsidan av ett {envelope} (i rutan nere till höger), "
                        "lägg försättsbladet överst och fakturorna bakom det, och klistra igen kuvertet.")


@dataclass(frozen=True)
class Line:
    text: str = ""
    size: int = 1  # 1 normal, 2 double width and height, 3 triple
    bold: bool = False
    align: str = "left"  # left | center | right


@dataclass(frozen=True)
class Rule:
    """A horizontal separator across the paper."""


@dataclass(frozen=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True)
class Layout:
    title: str
    items: tuple[Line | Rule | Feed, ...]
    cut: bool = True

    def text_lines(self) -> list[str]:
        """The printed text, line by line (for tests and logs of non-sensitive jobs)."""
        return [item.text for item in self.items if isinstance(item, Line)]


def columns_for(size: int) -> int:
    return COLUMNS // max(1, size)


def _pair(left: str, right: str, width: int = COLUMNS) -> Line:
    gap = max(1, width - len(left) - len(right))
    return Line(left + " " * gap + right)


def cover_slip(day: dt.date, count: int, site: str, kiosk: str, operator: str,
               envelope: str = "C5-kuvert utan fönster") -> Layout:
    """Step 4: the sekretess cover slip, inside the envelope in front of the invoices. Billing's
    address only; nothing customer-specific."""
    items: list[Line | Rule | Feed] = [
        Line("FÖRSÄTTSBLAD", size=2, bold=True, align="center"),
        Line("Sekretessfakturor i retur", align="center"),
        Feed(),
    ]
    items += [Line(row, bold=(i == 0)) for i, row in enumerate(BILLING_ADDRESS)]
    items += [
        Feed(),
        Rule(),
        _pair("Datum:", day.isoformat()),
        _pair("Antal fakturor:", str(count)),
        _pair("Kiosk:", f"{site}/{kiosk}"),
        _pair("Signatur:", operator),
        Rule(),
        Line(f"Kuvert: {envelope} – aldrig fönsterkuvert.", align="center"),
        Line("Adressetiketten tejpas på kuvertets framsida.", align="center"),
        Line("Detta blad överst, fakturorna bakom.", align="center"),
    ]
    return Layout(title="Försättsblad sekretess", items=tuple(items))


def address_label() -> Layout:
    """Step 4: billing's address as a label for the windowless envelope (cut off by the printer)."""
    items: list[Line | Rule | Feed] = [Line("SEKRETESS – öppnas av Faktureringen", bold=True, align="center"), Feed()]
    items += [Line(row, size=2, bold=(i == 0)) for i, row in enumerate(BILLING_ADDRESS)]
    return Layout(title="Adressetikett sekretess", items=tuple(items))


@dataclass(frozen=True)
class EnvelopeFit:
    """Where the address label sits on the envelope, in mm from the envelope's top left corner."""

    width_mm: float
    height_mm: float
    label: tuple[float, float, float, float]  # x, y, w, h of the cut label
    address: tuple[float, float, float, float]  # the printed address block on it
    fits: bool  # the whole label lies on the envelope's front, clear of the edges


def label_height_mm(layout: Layout, margin_dots: int = 16, cell_h: int = 24) -> float:
    """The printed length of a layout on the paper (as the preview draws it), in mm."""
    rows = 0
    for item in layout.items:
        if isinstance(item, Line):
            rows += len(line_rows(item)) * max(1, min(3, item.size))
        elif isinstance(item, Feed):
            rows += item.lines
        else:
            rows += 1
    return (2 * margin_dots + rows * cell_h + (cell_h if layout.cut else 0)) * DOT_MM


def envelope_fit(width_mm: float, height_mm: float, label_right_mm: float, label_bottom_mm: float,
                 layout: Layout | None = None) -> EnvelopeFit:
    """The label placed in the envelope's recipient area: its right edge `label_right_mm` from the
    envelope's right edge and its bottom `label_bottom_mm` above the bottom edge."""
    layout = layout or address_label()
    h = label_height_mm(layout)
    x = width_mm - label_right_mm - PAPER_MM
    y = height_mm - label_bottom_mm - h
    widest = max(len(r) * max(1, min(3, it.size)) for it in layout.items if isinstance(it, Line) for r in line_rows(it))
    text_w = widest * (PRINT_MM / COLUMNS)
    address = (x + (PAPER_MM - PRINT_MM) / 2, y + 16 * DOT_MM, min(text_w, PRINT_MM), h - 32 * DOT_MM)
    fits = x >= 5 and y >= 5 and x + PAPER_MM <= width_mm - 5 and y + h <= height_mm - 5
    return EnvelopeFit(width_mm, height_mm, (x, y, PAPER_MM, h), address, fits)


def dodsbo_label(formatted_personnummer: str, day: dt.date) -> Layout:
    """Step 3: the label stuck on a dödsbo invoice: the personnummer, large and clear."""
    return Layout(
        title="Dödsboetikett",
        items=(
            Line("DÖDSBO", bold=True, align="center"),
            Feed(),
            Line(formatted_personnummer, size=3, bold=True, align="center"),
            Feed(),
            Line(day.isoformat(), align="center"),
        ),
    )


def deadline_verdict(summary: dict, past_deadline: bool = False) -> str:
    """The day's deadline in one word for a person: "met", "missed", "pending" (barcoded mail not
    finished, deadline not passed), or "none" (no barcoded mail: neither met nor missed). The
    kiosk's and central's one rule. `summary`: the kiosk's day summary or central's materialised
    row (`deadline_met` 1/0/None or ""; `phase`; `barcoded_mail`). `past_deadline`: the day's
    deadline has passed, for a reader that may not have heard the kiosk's own verdict yet
    (central, with the kiosk offline): an open day with unfinished barcoded mail is then missed."""
    met = summary.get("deadline_met")
    if met is not None and met != "":
        return "met" if met else "missed"
    if summary.get("phase") == "closed" or not summary.get("barcoded_mail", True):
        return "none"
    return "missed" if past_deadline else "pending"


VERDICT_WORDS = {"met": "Ja", "missed": "Nej", "pending": "pågår", "none": "–"}  # deadline_verdict in words


def day_summary(summary: dict, site: str, kiosk: str, deadline: str = "14:00") -> Layout:
    """The follow-up row (uppföljningsfilen) for one day."""
    verdict = deadline_verdict(summary)
    items: list[Line | Rule | Feed] = [
        Line("RETURPOST - DAGSSAMMANSTÄLLNING", bold=True, align="center"),
        Line(f"{summary['day']}  {site}/{kiosk}", align="center"),
        Rule(),
        Line("Sorterat per hög", bold=True),
    ]
    for pile in PILES:
        items.append(_pair(PILE_NAMES[pile], str(summary["counts"].get(pile, 0))))
    items += [Rule(), Line("Leta Kund", bold=True)]
    lk = summary["leta_kund"]
    for letter in LETA_KUND_TYPES:
        items.append(_pair(f"Brev {letter} ({LETA_KUND_WMS[letter]})", str(lk.get(letter, 0))))
    items.append(_pair("Lägenhetsnummer (brev A)", str(lk.get("apartments", 0))))
    scans = summary["scans"]
    items += [
        Rule(),
        Line("Skanning", bold=True),
        _pair("Godkända", str(len(scans["accepted"]))),
        _pair("Avvisade", str(len(scans["rejected"]))),
        _pair("Klar", _clock(summary.get("scan_done_at")) or ("–" if verdict == "none" else "ej klar")),
        _pair(f"Före {deadline}", VERDICT_WORDS[verdict].upper(), COLUMNS),
    ]
    late = summary.get("late", [])
    if late:
        items.append(_pair("Sena brev (sorterade och skannade sent)", str(len(late))))
    warnings = summary.get("warnings", [])
    items += [Rule(), Line(f"Varningar ({len(warnings)})" if warnings else "Varningar: inga", bold=True)]
    if warnings:  # each kind by its one name and count (the follow-up row's column), then the details
        counts = warning_counts(warnings)
        for kind, name in WARNING_NAMES.items():
            if any(w.get("kind") == kind for w in warnings):
                items.append(_pair(name, str(counts[kind])))
    for w in warnings:
        items.append(Line(f"- {w.get('text') or _warning_text(w)}"))
    items += [Rule(), Line("Utskrifter och avbockningar", bold=True),
              _pair("Dödsboetiketter", str(summary.get("labels_printed", 0))
                    + (f" (+{summary['label_reprints']} omutskr.)" if summary.get("label_reprints") else "")),
              _pair("Försättsblad", str(summary.get("cover_slips_printed", 0)))]
    jobs = summary.get("print_jobs") or []
    for kind, name in (("dodsbo_label", "Etiketter"), ("cover_slip", "Försättsblad")):
        queued = sum(1 for p in jobs if p["kind"] == kind and p["state"] == "queued")
        failed = sum(1 for p in jobs if p["kind"] == kind and p["state"] == "failed")
        if queued:
            items.append(_pair(f"{name} som väntar på skrivaren", str(queued)))
        if failed:
            items.append(_pair(f"{name} som inte skrevs ut", str(failed)))
    for item, n in (summary.get("checklist") or {}).items():
        items.append(_pair(CHECKLIST_NAMES.get(item, item), str(n)))
    alerts = summary.get("alerts", [])
    active = [a for a in alerts if not a.get("cancelled")]
    items += [Rule(), _pair("Larm till TL", str(len(active)))]
    for a in active:  # received only when central confirmed it (the journal's alert_delivered)
        noun = "frågan" if a["kind"] == "tillfalliga" else "larmet"
        when = _clock(a.get("delivered_at"))
        state = f"TL har fått {noun} {when}" if when else f"ingen bekräftelse att TL fått {noun}"
        items.append(Line(f"- {ALERT_NAMES.get(a['kind'], a['kind'])} {_clock(a.get('at')) or ''}: {state}"))
    cancelled = len(alerts) - len(active)
    if cancelled:
        items.append(_pair("Återkallade larm", str(cancelled)))
    if summary.get("reopened"):
        items.append(_pair("Dagen öppnad igen", f"{summary['reopened']} gång(er)"))
    return Layout(title="Dagssammanställning", items=tuple(items))


ALERT_NAMES = {"bestridan": "Bestridan", "tillfalliga": "Tillfälligt utskick", "deadline_missed": "Missad deadline"}
CHECKLIST_NAMES = {"envelope_sent": "Kuvert skickat", "wms_ticked": "Bockat i WMS",
                   "cab_case_created": "Klart i CAB", "poste_restante_checked": "Upplysning.se kontrollerad",
                   "poste_restante_removed": "Postadress raderad i CAB"}


def _warning_text(w: dict) -> str:
    pile = PILE_NAMES.get(w.get("pile", ""), w.get("pile", ""))
    return f"{pile}: {w.get('kind')} (sorterat {w.get('sorted', '-')}, skannat {w.get('scanned', '-')})"


def test_slip(site: str, kiosk: str, when: dt.datetime) -> Layout:
    return Layout(
        title="Testutskrift",
        items=(
            Line("TESTUTSKRIFT", size=2, bold=True, align="center"),
            Line(f"{site}/{kiosk}", align="center"),
            Line(when.strftime("%Y-%m-%d %H:%M"), align="center"),
            Rule(),
            Line("Svenska tecken: å ä ö Å Ä Ö é"),
            Line("0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            Line("Stor text", size=2),
            Line("Fet text", bold=True),
        ),
    )


def _clock(iso: str | None) -> str | None:
    if not iso:
        return None
    from .clock import TZ, parse_iso

    return parse_iso(iso).astimezone(TZ).strftime("%H:%M")


# -- shared by both renderers (PNG preview, ESC/POS) and the durable print queue -------------------
DEFAULT_CODEPAGE = "cp858"  # what the printer is told to use unless printer.codepage says otherwise

# Typography the printer's code page lacks, spelled the way a receipt printer can.
_PLAIN = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...",
                        "\u00a0": " ", "•": "*", "→": "->"})


def printable(text: str, codec: str = DEFAULT_CODEPAGE) -> str:
    """The text as the printer will print it: typographic marks made plain, and any character the
    code page does not have shown as "?" (the preview shows the same "?" the paper would)."""
    text = text.translate(_PLAIN)
    return text.encode(codec, errors="replace").decode(codec)


def wrap(text: str, width: int) -> list[str]:
    """Split a line that is too wide into printed rows, at spaces where possible, the way both
    the preview and the printer show it (the printer would otherwise break mid-word)."""
    if width < 1:
        width = 1
    if len(text) <= width:
        return [text]
    rows: list[str] = []
    rest = text
    while len(rest) > width:
        cut = rest.rfind(" ", 0, width + 1)
        if cut <= 0:
            rows.append(rest[:width])
            rest = rest[width:]
        else:
            rows.append(rest[:cut].rstrip(" "))  # only spaces: a no-break space is printed
            rest = rest[cut + 1:]
    if rest:
        rows.append(rest)
    return rows


def line_rows(line: Line) -> list[str]:
    return wrap(line.text, columns_for(line.size))


def layout_to_dict(layout: Layout) -> dict:
    items = []
    for item in layout.items:
        if isinstance(item, Line):
            items.append({"t": "line", "text": item.text, "size": item.size, "bold": item.bold, "align": item.align})
        elif isinstance(item, Rule):
            items.append({"t": "rule"})
        elif isinstance(item, Feed):
            items.append({"t": "feed", "lines": item.lines})
    return {"title": layout.title, "cut": layout.cut, "items": items}


def layout_from_dict(data: dict) -> Layout:
    items: list[Line | Rule | Feed] = []
    for it in data["items"]:
        if it["t"] == "line":
            items.append(Line(it["text"], int(it["size"]), bool(it["bold"]), it["align"]))
        elif it["t"] == "rule":
            items.append(Rule())
        elif it["t"] == "feed":
            items.append(Feed(int(it["lines"])))
        else:
            raise ValueError(f"unknown layout item {it['t']!r}")
    return Layout(title=data["title"], items=tuple(items), cut=bool(data.get("cut", True)))
