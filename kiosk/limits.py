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
