"""Personnummer and samordningsnummer (step 3): parse, validate, format as YYYYMMDD-NNNN.

Pure; `today` is injected to settle the century of a 10-digit number. A personnummer is kept
in memory only (DESIGN.md §6): nothing here logs or stores it, and errors never echo it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .barcode import luhn_ok

_FORM = re.compile(r"^(\d{6}|\d{8})([-+]?)(\d{4})$")


class PersonnummerError(ValueError):
    """Raised with a Swedish message that does not contain the number."""


@dataclass(frozen=True)
class Personnummer:
    birth: dt.date
    serial: str  # the last four digits, check digit included
    samordning: bool

    def formatted(self) -> str:
        day = self.birth.day + (60 if self.samordning else 0)
        return f"{self.birth.year:04d}{self.birth.month:02d}{day:02d}-{self.serial}"

    def __repr__(self) -> str:  # never leak the number into a log or traceback
        return "Personnummer(<hidden>)"

    __str__ = __repr__


def parse(text: str, today: dt.date) -> Personnummer:
    if not isinstance(text, str):
        raise PersonnummerError("Personnumret saknas.")
    cleaned = text.strip().replace(" ", "")
    m = _FORM.match(cleaned)
    if not m:
        raise PersonnummerError("Skriv 10 eller 12 siffror, t.ex. ÅÅÅÅMMDD-NNNN.")
    date_part, sep, serial = m.groups()
    month, day = int(date_part[-4:-2]), int(date_part[-2:])
    samordning = day > 60
    if samordning:
        day -= 60
    if len(date_part) == 8:
        if sep == "+":
            raise PersonnummerError("Plustecken används bara med 10 siffror.")
        year = int(date_part[:4])
    else:
        # The latest year ending in YY whose date is not in the future; "+" means 100 years more.
        year = today.year - today.year % 100 + int(date_part[:2])
        if (year, month, day) > (today.year, today.month, today.day):
            year -= 100
        if sep == "+":
            year -= 100
    try:
        birth = dt.date(year, month, day)
    except ValueError:
        raise PersonnummerError("Datumdelen är inte ett giltigt datum.") from None
    if birth > today:
        raise PersonnummerError("Födelsedatumet ligger i framtiden.")
    if not luhn_ok(date_part[-6:] + serial):
        raise PersonnummerError("Kontrollsiffran stämmer inte. Kontrollera numret i CAB.")
    return Personnummer(birth=birth, serial=serial, samordning=samordning)

