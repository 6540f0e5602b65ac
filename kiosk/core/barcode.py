"""Barcode rules (step 2): is a scanned string an acceptable code for this pile?

Pure. `check(code, rules, pile)` returns None when the code is fine, else a `Rejection`
with a machine reason and a Swedish explanation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BarcodeRules:
    min_length: int = 6
    max_length: int = 64
    check_digit: str = "none"  # none | luhn | mod10_31 (EAN/GS1 style weights 3,1)
    patterns: dict[str, str] = field(default_factory=dict)  # pile -> regex (full match)
    charset: str = "printable"  # printable | digits; the embedded config default is digits 8-30

    def compiled(self, pile: str) -> re.Pattern[str] | None:
        pattern = self.patterns.get(pile)
        return re.compile(pattern) if pattern else None


@dataclass(frozen=True)
class Rejection:
    reason: str  # "invalid" or "wrong_pile"
    message: str  # Swedish, for the screen


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mod10_31_ok(digits: str) -> bool:
    """GS1 check digit (EAN-13, ITF, GS1-128 numeric): weights 3,1 from the right, before the check."""
    if not digits.isdigit() or not digits.isascii() or len(digits) < 2:
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


CHECKERS = {"luhn": luhn_ok, "mod10_31": mod10_31_ok}


def is_printable(code: str) -> bool:
    return all(" " <= ch <= "~" for ch in code)


def check(code: str, rules: BarcodeRules, pile: str | None) -> Rejection | None:
    if not isinstance(code, str) or code == "":
        return Rejection("invalid", "Tom streckkod. Skanna igen.")
    if not is_printable(code):
        return Rejection("invalid", "Streckkoden innehåller otillåtna tecken. Skanna igen.")
    if code != code.strip():
        return Rejection("invalid", "Streckkoden har mellanslag i början eller slutet. Skanna igen.")
    if rules.charset == "digits" and not (code.isascii() and code.isdigit()):
        return Rejection("invalid", "Streckkoden får bara innehålla siffror – det här är inte en faktura- eller "
                                    "brevstreckkod. Skanna igen eller lägg brevet åt sidan.")
    if len(code) < rules.min_length:
        return Rejection("invalid", f"Streckkoden är för kort (minst {rules.min_length} tecken). Skanna igen.")
    if len(code) > rules.max_length:
        return Rejection("invalid", f"Streckkoden är för lång (högst {rules.max_length} tecken). Skanna igen.")
    checker = CHECKERS.get(rules.check_digit)
    if checker is not None and not checker(code):
        return Rejection("invalid", "Kontrollsiffran stämmer inte. Skanna igen.")
    pattern = rules.compiled(pile) if pile else None
    if pattern is not None and not pattern.fullmatch(code):
        return Rejection("wrong_pile", "Streckkoden ser inte ut att höra till den här högen. Kontrollera brevet.")
    return None
