"""What the camera read -> the pile, the Leta Kund type, the codes, the return reason and whether the
kiosk may decide on its own. Pure: no I/O, no clock, no image; property- and unit-tested.

The rules work on the cues staff use (DESIGN §2, §10): the addressee ("Dödsbo efter …",
"Fakturering Ellevio", "Ellevio AB, Kundservice"), the title in the window, the Leta Kund headings,
a barcode and its printed digits, and the carrier's return sticker with one box marked. OCR makes
mistakes, so phrases are matched with tolerance, and anything unclear is `ask` with the candidates.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...core.barcode import mod10_31_ok

# A frame that cannot be classified at all, and what the kiosk says (Swedish, on screen).
PROBLEMS: dict[str, str] = {
    "dark": "Kamerabilden är för mörk. Tänd belysningen eller kontrollera kameran – sortera för hand så länge.",
    "empty": "Inget kuvert syns på den markerade platsen. Lägg kuvertet med fönstret uppåt.",
    "two": "Två kuvert syns samtidigt. Lägg ett kuvert i taget.",
    "hand": "En hand är i vägen för kameran. Ta bort handen så läser kameran kuvertet.",
    "no_camera": "Ingen kamera hittades. Sortera för hand med knapparna.",
    "error": "Kameran kunde inte läsa kuvertet. Sortera för hand med knapparna.",
}


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the straightened envelope


@dataclass(frozen=True)
class Line:
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class Code:
    symbology: str  # "code128" | "ean13"
    text: str


@dataclass(frozen=True)
class Reading:
    """Everything recognised in one frame (memory only)."""
    lines: tuple[Line, ...] = ()
    codes: tuple[Code, ...] = ()
    marks: tuple[float, ...] = ()  # per line: darkness of the tick box left of it (0..1)
    # the digits under each decoded barcode, read once more on their own; without decoded bars, the
    # digits of each line OCR read as 12-15 digits, read once more on their own
    printed: tuple[str, ...] = ()
    problem: str | None = None  # a key of PROBLEMS when the frame cannot be read
    # the return sticker read once more on its own, larger, when the first read left its mark unsure
    sticker: Reading | None = None


@dataclass(frozen=True)
class Verdict:
    pile: str | None
    letter: str | None = None
    codes: tuple[str, ...] = ()
    remark: str | None = None
    decision: str = "ask"  # "auto" | "ask"
    candidates: tuple[str, ...] = ()  # piles to offer as buttons when asking, best first
    letters: tuple[str, ...] = ()  # Leta Kund types still possible
    problem: str | None = None
    reasons: tuple[str, ...] = field(default=())  # why it asks (machine words, for tests and the bench)


def norm(text: str) -> str:
    """Lower case, one space, common OCR confusions of Swedish letters kept apart from ASCII ones."""
    text = unicodedata.normalize("NFC", text).lower()
    text = text.replace("–", "-").replace("—", "-").replace("|", "l")
    return " ".join(text.split())


def contains(line: str, phrase: str, need: float = 0.8) -> bool:
    """`phrase` occurs in `line`, allowing OCR slips: the share of the phrase's characters found in
    order in the line."""
    line, phrase = norm(line), norm(phrase)
    if phrase in line:
        return True
    if len(line) < len(phrase) * need:
        return False
    sm = difflib.SequenceMatcher(None, line, phrase, autojunk=False)
    blocks = [b for b in sm.get_matching_blocks() if b.size >= 2]
    if not blocks:
        return False
    # the characters must stay together: count the blocks that sit where the longest one puts the phrase
    anchor = max(blocks, key=lambda b: b.size)
    start = anchor.a - anchor.b
    slack = max(2, len(phrase) // 5)
    hit = sum(b.size for b in blocks if start - slack <= b.a - b.b <= start + slack)
    return hit >= need * len(phrase)


def whole(line: str, phrase: str, need: float = 0.8) -> bool:
    """The line is the phrase (a title on its own line)."""
    return difflib.SequenceMatcher(None, norm(line).strip(" .:"), norm(phrase), autojunk=False).ratio() >= need


CUES: dict[str, tuple[str, ...]] = {
    "dodsbo": ("dödsbo efter", "dödsboet efter"),
    "sekretess": ("fakturering ellevio",),
    "inkomna_brev": ("ellevio ab, kundservice", "kundservice"),
    "ovriga_brev": ("välkommen till ellevio", "anvisning av elleverantör", "anvisningsbrev"),
    "tillfalliga": ("bristfällig anläggning", "elpriskompensation", "fel huvudsäkring"),
}
INVOICE_TITLES = ("faktura", "påminnelse", "betalningspåminnelse")
LK_FIRST = "undvik att elen stängs av"
LK_SIGN = "teckna elnätsavtal"
LK_A = ("lägenhet eller lokal", "lägenhetsnummer", "till hushållet")
LK_B = ("saknar ett elnätsavtal", "till den som bor på")
LK_C = ("vem flyttade in", "din förra bostad")
LK_H = ("koppla ifrån elen", "vi behöver er hjälp")

# The carrier's printed reasons -> remark codes (DESIGN §2 step 10)
STICKER_HEAD = ("retur till avsändaren", "retur")
REASONS: tuple[tuple[str, str], ...] = (
    ("brevlådan full", "brevlada_full"),
    ("poste restante", "poste_restante"),
    ("ej uthämtat", "poste_restante"),
    ("adressaten okänd", "okand_adress"),
    ("avflyttad", "okand_adress"),
    ("flyttat", "okand_adress"),
    ("ofullständig adress", "ofullstandig_adress"),
    ("vägrat mottaga", "vagrad"),
)
POSTAL = re.compile(r"\b\d{3} ?\d{2} +[^\W\d_]{2,}")
REASON_NEED = 0.66  # printed reasons are few and far apart: more OCR slips tolerated ("Breviådan fu")
MARK_MARGIN = 0.08  # a marked box is at least this much darker than the next darkest
MIN_ROWS = 4  # a sticker prints 5-7 reasons: decided only when at least this many of its lines were read


def valid_code(code: Code) -> bool:
    """Only codes a returned letter can carry: Code 128 of 14 digits starting 7350 with its GS1
    check digit, or an EAN-13 with a right check digit. Anything else is never reported."""
    t = code.text
    if not (t.isascii() and t.isdigit()):
        return False
    if code.symbology == "code128":
        return len(t) == 14 and t.startswith("7350") and mod10_31_ok(t)
    if code.symbology == "ean13":
        return len(t) == 13 and mod10_31_ok(t)
    return False


def digit_line(text: str) -> str | None:
    """The digits of a line of text that reads as the digits printed under a barcode (12-15 digits,
    at most two letters OCR made of the rest); None for any other line."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits if 12 <= len(digits) <= 15 and sum(1 for ch in text if ch.isalpha()) <= 2 else None


def printed_digits(lines: tuple[Line, ...]) -> list[str]:
    """Runs of 12-15 digits read as text: the digits printed under a barcode. An EAN-13's digits
    are printed in groups (7 350012 345678) that OCR may return as separate lines: digit words
    on one level are joined left to right."""
    out = []
    for line in lines:
        digits = digit_line(line.text)
        if digits is not None:
            out.append(digits)
    words = [w for line in lines for w in line.words if w.text.isdigit()]
    for w in words:
        mid, hgt = (w.box[1] + w.box[3]) / 2, max(1, w.box[3] - w.box[1])
        row = sorted((v for v in words if abs((v.box[1] + v.box[3]) / 2 - mid) <= 0.5 * hgt), key=lambda v: v.box[0])
        if row[0] is not w:  # one run per row, from its leftmost word
            continue
        run = [row[0]]
        for v in row[1:]:  # stop at a wide gap: another text on the same level
            if v.box[0] - run[-1].box[2] > 2.5 * hgt:
                break
            run.append(v)
        digits = "".join(v.text for v in run)
        if 12 <= len(digits) <= 15 and digits not in out:
            out.append(digits)
    return out


def confirm_codes(decoded: list[str], digits: list[str], again: tuple[str, ...] | list[str] = ()
                  ) -> tuple[tuple[str, ...], list[str]]:
    """The codes to report, checked against the digits printed under the bars (read by OCR).
    A decoded code the printed digits (a run of its length) contradict is dropped: a blurred barcode can decode to
    another number that passes both check sums. A decoded code with no printed digits read is kept;
    an EAN-13 (one check digit) is then asked about, a 7350 Code 128 (two check sums) is not.
    Printed digits that form a valid code are reported when the bars could not be decoded and the
    same digits were read `again` on their own: one read alone is not enough, a dropped digit of a
    14-digit code leaves 13 that pass EAN-13's one check digit one time in ten. Two different decodes of one barcode
    (a misread that passes the check sums too) are reported only as the printed digits confirm."""
    out: list[str] = []
    why: list[str] = []
    def fit(c: str) -> int:  # how close the nearest printed digits of its length come
        return min((_differs(d, c) for d in digits if len(d) == len(c)), default=99)

    for code in decoded:
        same = [d for d in digits if len(d) == len(code)]
        # two decodes of one symbol that disagree (each passing its check sums): one is a misread
        rivals = [c for c in decoded if c != code and len(c) == len(code) and _differs(c, code) <= len(code) // 2]
        if fit(code) <= 2 and all(fit(code) < fit(r) for r in rivals):
            out.append(code)
        elif same:
            why.append("digits_disagree")
        elif rivals:
            why.append("codes_conflict")
        else:  # no digits read: Code 128 carries two check sums (mod 103 and GS1), EAN-13 only one
            out.append(code)
            if len(code) != 14:
                why.append("digits_unread")
    if not decoded:
        for d in digits:
            if d in again and (valid_code(Code("code128", d)) or valid_code(Code("ean13", d))):
                out.append(d)
    return tuple(dict.fromkeys(out)), why


def _differs(a: str, b: str) -> int:
    return sum(1 for x, y in zip(a, b, strict=False) if x != y) + abs(len(a) - len(b))


def _any(lines: list[str], phrases: tuple[str, ...]) -> bool:
    return any(contains(line, p) for line in lines for p in phrases)


def leta_kund_letter(texts: list[str]) -> tuple[str | None, tuple[str, ...]]:
    """The Leta Kund type from the headings and addressee, or None with the possible types."""
    c, h = _any(texts, LK_C), _any(texts, LK_H)
    first, sign = _any(texts, (LK_FIRST,)), _any(texts, (LK_SIGN,))
    a, b = _any(texts, LK_A), _any(texts, LK_B)
    found = [x for x, hit in (("C", c), ("H", h)) if hit]
    if first or sign:
        if a and not b:
            found.append("A")
        elif b and not a:
            found.append("B")
        elif a and b:
            found += ["A", "B"]
        elif not sign:
            found.append("D")
        else:
            found += ["A", "B"]
    if len(found) == 1:
        return found[0], tuple(found)
    return None, tuple(found) or ("A", "B", "C", "D", "H")


# The words printed on a return sticker; the two "flytt" words count as one (Leta Kund C's heading
# "Vem flyttade in ..." comes close to both); "Annan" is left out (the name "Anna" is a piece of it)
STICKER_WORDS = ("retur", "avsändaren", "brevlådan", "poste", "restante", "uthämtat", "adressaten", "okänd",
                 "flyttat", "avflyttad", "ofullständig", "vägrat", "mottaga", "avliden", "orsak")


def head_line(text: str) -> bool:
    """The line is a return sticker's heading ("Retur till avsändaren", "Retur"), or holds its
    "avsändaren" (the rest of the heading garbled)."""
    return any(whole(text, p, 0.75) for p in STICKER_HEAD) or contains(text, "avsändaren")


def reason_row(text: str) -> bool:
    """One of a sticker's printed reasons occurs in the line (anywhere in it, allowing OCR slips;
    `reason_line` asks for the reason alone on its line)."""
    return any(contains(text, p) for p, _ in REASONS)


def sticker_lines(reading: Reading) -> list[int]:
    """The lines that look like part of a return sticker (its heading, a reason, pieces of its
    words): where to look once more when its mark is unsure."""
    out = []
    for i, line in enumerate(reading.lines):
        t = line.text
        if head_line(t) or reason_line(t) or reason_row(t) or sticker_words([t]):
            out.append(i)
    return out


def sticker_words(texts: list[str]) -> set[str]:
    """Which of a sticker's words OCR read, whole or in pieces of four letters or more ("ändar" of
    "avsändaren", "känd" of "okänd"): on an envelope without a sticker, hardly ever two."""
    found = set()
    for t in texts:
        for w in re.findall(r"[^\W\d_]{4,}", norm(t)):
            for v in STICKER_WORDS:
                if w in v or difflib.SequenceMatcher(None, w, v, autojunk=False).ratio() >= 0.8:
                    found.add("flytt" if "flytt" in v else v)
    return found


def reason_line(text: str) -> bool:
    """The line is one of a sticker's printed reasons, perhaps after its tick box read as a glyph
    ("O flyttat"), not a phrase inside other text ("Vem flyttade in ...")."""
    words = text.split()
    while words and not starts_text(words[0]):
        words = words[1:]
    rest = " ".join(words)
    return bool(rest) and any(whole(rest, p) for p, _ in REASONS)


def starts_text(word: str) -> bool:
    """A printed word, not a tick box that OCR read as a letter or two ("O", "OJ", "[]")."""
    return sum(ch.isalpha() for ch in word) >= 3 or word.lower() == "ej"


def marked_reason(rows: list[tuple[float, str]], noise: Sequence[float] = ()) -> tuple[str | None, bool]:
    """(remark code, sure) from the ink in each printed reason's box (`rows`: darkness, code or ""
    for a reason without a remark code) and in the boxes of the sticker's lines OCR could not read
    (`noise`). Sure only when one reason's box holds clearly more ink than every other box, read or
    not; two boxes close in ink, or the most ink on a line not read, is a question."""
    if len(rows) < MIN_ROWS:  # most of the sticker unread: its other boxes unmeasured
        return None, False
    ranked = sorted(rows, key=lambda r: -r[0])
    best = ranked[0][0]
    rivals = [r[0] for r in ranked[1:]] + list(noise)
    if any(best - d < MARK_MARGIN for d in rivals):
        return None, False
    code = ranked[0][1]
    return (code or None), bool(code)


def remark_of(reading: Reading) -> tuple[str | None, bool, bool]:
    """(remark code, sure, sticker seen) from the return sticker's marked box."""
    texts = [line.text for line in reading.lines]
    head = [i for i, t in enumerate(texts) if head_line(t)]
    reason_rows = [i for i, t in enumerate(texts) if reason_row(t)]
    if not head and len(reason_rows) < 2:
        if any(reason_line(t) for t in texts) or len(sticker_words(texts)) >= 2:
            # one printed reason alone on its line, or pieces of two of the sticker's words: a
            # sticker OCR mostly garbled, its mark unknown -- not an envelope without one
            return None, False, True
        return None, True, False
    # a sticker whose heading OCR missed still shows its printed reasons
    start = head[0] if head else reason_rows[0] - 1
    # the sticker's rows start below its heading, at its left edge (OCR may interleave the address)
    left = reading.lines[start].words[0].box[0] if head else None
    rows: list[tuple[float, str]] = []  # (darkness, code or "" for a printed reason without a remark code)
    noise: list[float] = []  # darkness of the sticker's lines OCR could not read as a reason
    for i in range(start + 1, min(len(texts), start + 16)):
        t = texts[i]
        if any(contains(t, p) for p in STICKER_HEAD):
            continue
        first = reading.lines[i].words[0].box
        if left is not None and abs(first[0] - left) > 3 * (first[3] - first[1]):
            continue  # not in the sticker's column
        code = next((c for p, c in REASONS if contains(t, p, REASON_NEED)), None)
        dark = reading.marks[i] if i < len(reading.marks) else 0.0
        if code is None and not any(sum(ch.isalpha() for ch in w) >= 5 for w in t.split()):
            # OCR noise, not a printed reason -- but a mark often garbles its own line's text
            # ("I DL UAE"): its ink still competes, and a mark on a line not read is no answer
            noise.append(dark)
            continue
        rows.append((dark, code or ""))
        if len(rows) >= 7:
            break
    code, sure = marked_reason(rows, noise)
    return code, sure, True


def classify(reading: Reading) -> Verdict:
    if reading.problem is not None:
        return Verdict(pile=None, problem=reading.problem, reasons=(reading.problem,))
    texts = [line.text for line in reading.lines]
    why: list[str] = []
    seen = [c for c in reading.codes if c.text]
    decoded = list(dict.fromkeys(c.text for c in seen if valid_code(c)))
    if len(decoded) < len(seen):
        why.append("code_rejected")
    digits = printed_digits(reading.lines)
    # the digits read again under decoded bars only confirm or refuse those codes, never add one
    under = [d for d in reading.printed if 12 <= len(d) <= 15 and d not in digits] if decoded else []
    # without decoded bars, the same digits read twice (by the envelope's OCR and once more on their
    # own) may be the code
    codes, digit_why = confirm_codes(decoded, digits + under, reading.printed if not decoded else ())
    why += digit_why
    barcoded = bool(codes) or bool(digits) or bool(seen)
    if barcoded and not codes:
        why.append("barcode_unread")
    cue = {pile: _any(texts, phrases) for pile, phrases in CUES.items()}
    # OCR may split an addressee over two lines ("Dödsbo" / "efter Linnéa Johansson")
    pairs = [f"{a} {b}" for a, b in zip(texts, texts[1:])]
    for pile in ("dodsbo", "sekretess"):
        cue[pile] = cue[pile] or _any(pairs, CUES[pile])
    invoice = any(whole(t, p) for t in texts for p in INVOICE_TITLES)
    near_invoice = any(whole(t, p, 0.6) for t in texts for p in INVOICE_TITLES)
    lk_hit = _any(texts, (LK_FIRST, LK_SIGN) + LK_C + LK_H)
    letter: str | None = None
    letters: tuple[str, ...] = ()
    if barcoded:
        if cue["dodsbo"] and cue["sekretess"]:
            cands: tuple[str, ...] = ("dodsbo", "sekretess")
        elif cue["dodsbo"]:
            cands = ("dodsbo",)
        elif cue["sekretess"]:
            cands = ("sekretess",)
        elif invoice:
            cands = ("faktura",)
        elif near_invoice or not any(POSTAL.search(t) for t in texts):
            # "not an invoice" needs the window read: its address block ends in a postal code
            cands = ("faktura", "ovriga_streckkod")
        else:
            cands = ("ovriga_streckkod",)
        if lk_hit or cue["inkomna_brev"]:
            why.append("unbarcoded_cue")
    else:
        hits = [p for p in ("inkomna_brev", "ovriga_brev", "tillfalliga") if cue[p]]
        if lk_hit:
            hits.insert(0, "leta_kund")
        barcoded_cue = [p for p in ("dodsbo", "sekretess") if cue[p]] + (["faktura"] if invoice else [])
        if barcoded_cue:  # an invoice whose barcode the camera missed: the scanner reads it
            why.append("barcode_missing")
            cands = tuple(barcoded_cue + hits)
        elif hits:
            cands = tuple(hits)
        else:
            why.append("no_cue")
            cands = ("ovriga_brev", "tillfalliga", "inkomna_brev")
        if cands[0] == "leta_kund":
            letter, letters = leta_kund_letter(texts)
            if letter is None:
                why.append("letter_unsure")
    if len(cands) > 1:
        why.append("pile_unsure")
    remark, remark_sure, sticker_seen = remark_of(reading)
    if sticker_seen and not remark_sure and reading.sticker is not None:  # the sticker's second, closer read
        again, again_sure, again_seen = remark_of(reading.sticker)
        if again_seen and again_sure:
            remark, remark_sure = again, True
    if not remark_sure:
        why.append("remark_unsure")
    return Verdict(pile=cands[0], letter=letter, codes=codes, remark=remark, decision="ask" if why else "auto",
                   candidates=cands, letters=letters, reasons=tuple(why))


def as_json(image: str, verdict: Verdict, seconds: float) -> dict:
    """The `kiosk camera classify` line: exactly these fields."""
    return {"image": image, "pile": verdict.pile, "letter": verdict.letter, "codes": list(verdict.codes),
            "remark": verdict.remark, "decision": verdict.decision, "seconds": round(seconds, 3)}
