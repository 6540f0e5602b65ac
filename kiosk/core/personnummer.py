"""Personnummer and samordningsnummer (step 3): parse, validate, format as YYYYMMDD-NNNN.

Pure; `today` is injected. The century: twelve digits are taken as typed; ten
digits with `+` (100 years or older) follow the rule (the latest such year not in the future);
ten digits with `-` or without a sign are ambiguous for a dead person (born 1925 or 2025?) and
are refused with `CenturyNeeded`, which carries both readings (dates only), unless `century`
("18", "19", "20") is given; when only one reading is a real date not in the future (451224:
2045 is), that one is taken and nothing is asked. A personnummer is kept in memory only (DESIGN.md §6): nothing here
logs or stores it, and errors never echo it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .barcode import luhn_ok

_FORM = re.compile(r"^([0-9]{6}|[0-9]{8})([-+]?)([0-9]{4})\Z")  # ASCII digits only (\d takes any script)


CENTURIES = ("18", "19", "20")


class PersonnummerError(ValueError):
    """Raised with a Swedish message that does not contain the number."""


class CenturyNeeded(PersonnummerError):
    """Ten digits without `+`: the operator must choose the century CAB shows.

    `readings` are [{"century": "19", "date": "1925-01-01"}, ...]: birth dates only, never the
    number, for the two buttons on screen."""

    def __init__(self, readings: list[dict]):
        super().__init__("Välj århundrade: kontrollera födelseåret i CAB.")
        self.readings = readings


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


def parse(text: str, today: dt.date, century: str | None = None) -> Personnummer:
    if not isinstance(text, str):
        raise PersonnummerError("Personnumret saknas.")
    cleaned = text.strip().replace(" ", "")
    if any(ch.isdecimal() and ch not in "0123456789" for ch in cleaned):
        raise PersonnummerError("Skriv personnumret med vanliga siffror 0–9 (andra sifferteckensnitt, "
                                "t.ex. arabiska eller helbreddssiffror, godtas inte).")
    m = _FORM.match(cleaned)
    if not m:
        raise PersonnummerError("Skriv 10 eller 12 siffror, t.ex. ÅÅÅÅMMDD-NNNN.")
    date_part, sep, serial = m.groups()
    month, day = int(date_part[-4:-2]), int(date_part[-2:])
    samordning = day > 60
    if samordning:
        day -= 60
    if century is not None and century not in CENTURIES:
        raise PersonnummerError("Århundradet ska vara 18, 19 eller 20.")
    luhn = luhn_ok(date_part[-6:] + serial)
    if len(date_part) == 8:
        if sep == "+":
            raise PersonnummerError("Plustecken används bara med 10 siffror.")
        if century is not None and date_part[:2] != century:
            raise PersonnummerError("Århundradet stämmer inte med de tolv siffrorna.")
        year = int(date_part[:4])
    elif century is not None:
        year = int(century + date_part[:2])
    elif sep != "+":
        readings = _readings(int(date_part[:2]), month, day, today)
        if not luhn:
            raise PersonnummerError("Kontrollsiffran stämmer inte. Kontrollera numret i CAB.")
        if len(readings) > 1:
            raise CenturyNeeded(readings)
        year = int(readings[0]["date"][:4])  # one real reading (the other in the future or no date): no question
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
    if not luhn:
        raise PersonnummerError("Kontrollsiffran stämmer inte. Kontrollera numret i CAB.")
    return Personnummer(birth=birth, serial=serial, samordning=samordning)



def _readings(yy: int, month: int, day: int, today: dt.date) -> list[dict]:
    """The 19xx and 20xx readings of a ten-digit number that are real dates not in the future."""
    out = []
    for century in ("19", "20"):
        try:
            birth = dt.date(int(century) * 100 + yy, month, day)
        except ValueError:
            continue  # 29 February in one century only
        if birth <= today:
            out.append({"century": century, "date": birth.isoformat()})
    if not out:
        raise PersonnummerError("Datumdelen är inte ett giltigt datum.")
    return out
