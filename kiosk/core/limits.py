"""Input limits shared by the kiosk's rules and the event schema, so that what the kiosk commits
is what central accepts (DESIGN.md §5). Pure; no I/O.

The routine refuses bad input with a Swedish message before any event exists; the schema is the
backstop on both sides (controller before commit, central before store).
"""

from __future__ import annotations

import re
import unicodedata

FREE_TEXT_MAX = 200  # characters after trimming: `about`, temporary mailing subjects, remarks
SIGNATURE_MAX = 64  # an operator signature
ID_MAX = 64  # site and kiosk ids
DATE_PAST_DAYS = 366  # a letter's activity date: from a year back ...
DATE_FUTURE_DAYS = 2 * 366  # ... to two years ahead

# Unicode general categories a printable text may contain (besides the plain space):
# letters, combining marks (a decomposed å), digits, punctuation, symbols. Never control (Cc),
# format (Cf: bidi overrides, zero-width), surrogates (Cs), private use (Co), unassigned (Cn), or
# line/paragraph separators.
_PRINTABLE = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd", "Nl", "No",
                        "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"})


def unprintable(text: str) -> str | None:
    """The first character that may not appear in a printable text, or None."""
    for ch in text:
        if ch != " " and unicodedata.category(ch) not in _PRINTABLE:
            return ch
    return None


def clean_text(text: str) -> str:
    """The form free text is stored in: NFC-normalised, trimmed, inner runs of white space folded
    to one space. Does not check anything; see `text_problem`."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_problem(text: str, max_len: int = FREE_TEXT_MAX) -> str | None:
    """Why `text` (already cleaned) is not acceptable free text, in English, or None."""
    if not text:
        return "empty"
    if len(text) > max_len:
        return f"longer than {max_len} characters"
    bad = unprintable(text)
    if bad is not None:
        return f"character U+{ord(bad):04X} is not allowed"
    return None


CODE_MAX = 128  # a barcode as the journal keeps it (routine.MAX_CODE_IN_JOURNAL)
_PNR_FORM = re.compile(r"^(\d{6}|\d{8})[-+]?(\d{4})\Z")
PERSONNUMMER_HIDDEN = "(personnummer, sparas inte)"


def looks_like_personnummer(text: str) -> bool:
    """10 or 12 digits (an optional - or + before the last four) whose last ten pass the Luhn
    check: what a scanner reads from a personnummer. A rejected scan's code is never kept so."""
    m = _PNR_FORM.match(text.strip().replace(" ", ""))
    if not m:
        return False
    from .barcode import luhn_ok

    return luhn_ok(m.group(1)[-6:] + m.group(2))


def journal_code(raw: str) -> str:
    """A scanned string as an event may hold it (a rejected scan's code): at most CODE_MAX
    characters, each one the schema refuses replaced by U+FFFD; a personnummer (read by the
    scanner at the dödsbo step, say) is replaced by PERSONNUMMER_HIDDEN."""
    if looks_like_personnummer(raw[:40]):
        return PERSONNUMMER_HIDDEN
    raw = raw[:CODE_MAX]
    if raw.isprintable():
        return raw
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in raw)


# -- no personnummer in free text (DESIGN.md §6) ---------------------------------------------------
# A personnummer written into free text, however it is split: 10 or 12 digits (any script's
# decimal digits) in digit groups joined by short runs of separators. Refused whether or not its
# check digit is valid: a mistyped number is still a person's number.
PNR_SEPARATORS = " -./+\u00a0\u2010\u2011\u2012\u2013\u2014\u2212"  # space, - . / +, NBSP, Unicode dashes
PNR_SEPARATOR_RUN_MAX = 3  # "19451224 - 1003": at most three separator characters between groups
PNR_DIGIT_COUNTS = (10, 12)


def _digit_groups(text: str) -> list[list[int]]:
    """The digit groups of `text` as chains: each chain is the lengths of the digit groups that
    follow one another with only a short run of separators between them."""
    chains: list[list[int]] = []
    chain: list[int] = []
    run = 0  # digits in the current group
    gap = 0  # separator characters since the last group
    for ch in text:
        if ch.isdecimal():
            if run == 0 and (not chain or gap > PNR_SEPARATOR_RUN_MAX):
                if chain:
                    chains.append(chain)
                chain = []
            run += 1
            gap = 0
        else:
            if run:
                chain.append(run)
                run = 0
            if ch in PNR_SEPARATORS and chain:
                gap += 1
            elif chain:
                chains.append(chain)
                chain, gap = [], 0
    if run:
        chain.append(run)
    if chain:
        chains.append(chain)
    return chains


def has_personnummer(text: str) -> bool:
    """Does `text` hold what could be a personnummer: a run of whole digit groups, joined by at
    most PNR_SEPARATOR_RUN_MAX separators (space - . / + or a dash), of 10 or 12 digits in all?
    A date (2026-12-07, 8 digits) passes; a ten-digit phone number (070-123 45 67) does not."""
    for chain in _digit_groups(text):
        for start in range(len(chain)):
            total = 0
            for length in chain[start:]:
                total += length
                if total in PNR_DIGIT_COUNTS:
                    return True
                if total > max(PNR_DIGIT_COUNTS):
                    break
    return False


PERSONNUMMER_IN_TEXT_SV = ("Skriv inget personnummer i texten: 10 eller 12 siffror i följd (även delade med "
                           "mellanslag, bindestreck, punkter eller snedstreck) godtas inte, med eller utan "
                           "giltig kontrollsiffra. Beskriv brevet med ord; ett datum går bra.")
