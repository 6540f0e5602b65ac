"""Alerts central raises from the clock, so an absent or dead kiosk cannot hide
them. Pure: facts about the sites and kiosks and the time `now` go in, the alerts to raise come
out; nothing here reads the clock or the database (`delivery.clock` does that).

On working days of the site (Monday-Friday, Swedish public holidays excluded with the `holidays`
package, plus configured extra holidays; optionally the eves most offices close on):
- `deadline_missed`: the deadline (14:00 local) has passed and a kiosk has a barcoded pile with
  sorted items whose scanning is not finished. A day without barcoded mail is not a missed deadline.
- `no_activity`: nobody has signed in at any kiosk of a site by `no_activity_at` (site wide: the
  alert's kiosk is `*`).
- `kiosk_offline`: during working hours, a kiosk's retained status has said offline for
  `offline_minutes`, or (when `silent_minutes` > 0) nothing was heard from it for that long.
- `printer`: a kiosk's retained status reports its printer (`"printer": {"state", "kept"}`, the
  states of kiosk/shelf/hw/printer.py) out of paper, or offline/erroring with print jobs kept.

Each is raised once per (site, kiosk, kind, day): its id is derived from those, and a kiosk's own
alert of the same kind that day (e.g. its own `deadline_missed`) counts as already raised.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

from ..core.clock import TZ, utc_iso
from ..core.domain import PILE_NAMES, SCAN_ORDER

KINDS = ("deadline_missed", "no_activity", "kiosk_offline", "printer")
SITE_WIDE = "*"  # the kiosk column of a site-wide alert (no_activity)
_NAMESPACE = uuid.UUID("6f1c7f0e-8a51-4c1e-9a55-1d0b2f2e7a11")


def alert_id(site: str, kiosk: str, kind: str, day: dt.date | str) -> str:
    """The id of a clock alert: the same (site, kiosk, kind, day) always gives the same uuid."""
    return str(uuid.uuid5(_NAMESPACE, f"{site}/{kiosk}/{kind}/{day}"))


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdiv: str | None, year: int) -> frozenset[dt.date]:
    import holidays  # late: the config check runs this module with the system python (installer)

    return frozenset(holidays.country_holidays(country, subdiv=subdiv or None, years=year))


def _midsummer_eve(year: int) -> dt.date:
    """The Friday between 19 and 25 June."""
    d = dt.date(year, 6, 19)
    return d + dt.timedelta(days=(4 - d.weekday()) % 7)


@dataclass(frozen=True)
class Calendar:
    """Which local days are working days."""

    country: str = "SE"
    subdiv: str | None = None
    extra_holidays: frozenset[dt.date] = frozenset()
    extra_working_days: frozenset[dt.date] = frozenset()
    eves_off: bool = True  # midsommarafton, julafton, nyårsafton are days off

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra_working_days:
            return True
        if day.weekday() >= 5 or day in self.extra_holidays:
            return False
        if day in _public_holidays(self.country, self.subdiv, day.year):
            return False
        if self.eves_off and day in (_midsummer_eve(day.year), dt.date(day.year, 12, 24),
                                     dt.date(day.year, 12, 31)):
            return False
        return True


@dataclass(frozen=True)
class Rules:
    calendar: Calendar = field(default_factory=Calendar)
    tz: ZoneInfo = TZ
    deadline: dt.time = dt.time(14, 0)
    no_activity_at: dt.time = dt.time(10, 0)
    offline_minutes: int = 30
    silent_minutes: int = 0  # 0: only an offline status counts
    work_start: dt.time = dt.time(7, 0)
    work_end: dt.time = dt.time(17, 0)


@dataclass(frozen=True)
class KioskFacts:
    """What central knows about one kiosk today (times aware)."""

    site: str
    kiosk: str
    online: bool | None = None  # the retained status; None: never heard
    status_at: dt.datetime | None = None  # when that status was received
    last_seen: dt.datetime | None = None  # latest status or event received
    unscanned: tuple[str, ...] = ()  # barcoded piles with sorted items whose scanning is not done
    printer: dict | None = None  # the status' printer report: {"state": hw.printer's ok|offline|no_paper|error, "kept": N}


@dataclass(frozen=True)
class SiteFacts:
    site: str
    signed_in_today: bool
    kiosks: tuple[KioskFacts, ...] = ()


@dataclass(frozen=True)
class ClockAlert:
    id: str
    site: str
    kiosk: str
    kind: str
    day: str
    ts: str
    text: str

    def as_payload(self) -> dict:
        return {"v": 1, "id": self.id, "site": self.site, "kiosk": self.kiosk, "kind": self.kind,
                "day": self.day, "ts": self.ts, "text": self.text, "source": "central"}


def unscanned_piles(counts: dict[str, int], phase: str, scan_index: int) -> tuple[str, ...]:
    """Barcoded piles that have sorted items and are not scanned yet, from a day's routine state
    (`routine.DayState` fields): nothing once scanning is done or the day is closed."""
    if phase in ("scanned", "closed"):
        return ()
    done = scan_index if phase == "scanning" else 0
    return tuple(p for i, p in enumerate(SCAN_ORDER) if counts.get(p, 0) > 0 and i >= done)


def _hhmm(t: dt.datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%H:%M")


def evaluate(now: dt.datetime, sites: Iterable[SiteFacts], raised: set[tuple[str, str, str]],
             rules: Rules = Rules()) -> list[ClockAlert]:
    """The alerts to raise at `now`. `raised` holds (site, kiosk, kind) already raised today
    (by central or by the kiosk itself); nothing in it is raised again."""
    local = now.astimezone(rules.tz)
    day = local.date()
    if not rules.calendar.is_working_day(day):
        return []
    ts = utc_iso(now)
    out: list[ClockAlert] = []

    def add(site: str, kiosk: str, kind: str, text: str) -> None:
        if (site, kiosk, kind) in raised:
            return
        raised.add((site, kiosk, kind))
        out.append(ClockAlert(alert_id(site, kiosk, kind, day), site, kiosk, kind, day.isoformat(), ts, text))

    at = local.time()
    in_hours = rules.work_start <= at < rules.work_end
    for s in sites:
        if at >= rules.no_activity_at and not s.signed_in_today:
            add(s.site, SITE_WIDE, "no_activity",
                f"Ingen har loggat in på returpostkiosken på {s.site} i dag "
                f"(kontrollerat kl. {rules.no_activity_at.strftime('%H:%M')}). "
                "Se till att någon gör dagens returpostrutin.")
        for k in s.kiosks:
            if at >= rules.deadline and k.unscanned:
                names = ", ".join(PILE_NAMES[p] for p in k.unscanned)
                add(k.site, k.kiosk, "deadline_missed",
                    f"Skanningen av returpost var inte klar kl. {rules.deadline.strftime('%H:%M')} "
                    f"på {k.kiosk} ({k.site}). Kvar att skanna: {names}.")
            if in_hours:
                limit = now - dt.timedelta(minutes=rules.offline_minutes)
                if k.online is False and k.status_at is not None and k.status_at <= limit:
                    add(k.site, k.kiosk, "kiosk_offline",
                        f"Kiosken {k.kiosk} ({k.site}) har inte varit ansluten sedan kl. {_hhmm(k.status_at, rules.tz)}. "
                        "Kontrollera att den har ström och nätverk.")
                elif rules.silent_minutes > 0 and k.last_seen is not None and \
                        k.last_seen <= now - dt.timedelta(minutes=rules.silent_minutes):
                    add(k.site, k.kiosk, "kiosk_offline",
                        f"Inget har hörts från kiosken {k.kiosk} ({k.site}) sedan kl. "
                        f"{_hhmm(k.last_seen, rules.tz)}. Kontrollera att den har ström och nätverk.")
            p = k.printer or {}
            state, kept = p.get("state"), p.get("kept") or 0
            no_paper = state in ("no_paper", "out_of_paper")
            if no_paper or (state in ("offline", "error") and kept > 0):
                what = "har slut på papper" if no_paper else "fungerar inte (offline eller fel)"
                add(k.site, k.kiosk, "printer",
                    f"Skrivaren vid kiosken {k.kiosk} ({k.site}) {what}"
                    + (f"; {kept} utskrift(er) väntar" if kept else "")
                    + ". Fyll på papper eller kontrollera skrivarens kabel och ström.")
    return out


@dataclass(frozen=True)
class Withdrawal:
    """A clock alert that events central received later prove false, and why (Swedish)."""

    id: str
    site: str
    kiosk: str
    kind: str
    day: str
    note: str


@dataclass(frozen=True)
class RaisedFacts:
    """What central knows now about a clock alert it raised: the first sign-in at the alert's
    site that day (for `no_activity`), and when the kiosk's scanning was done that day (for
    `deadline_missed`); times aware, None when there is none."""

    id: str
    site: str
    kiosk: str
    kind: str
    day: str
    first_sign_in: dt.datetime | None = None
    signed_in_at: str = ""  # the kiosk of that sign-in
    scan_done_at: dt.datetime | None = None


def withdrawals(alerts: Iterable[RaisedFacts], rules: Rules = Rules()) -> list[Withdrawal]:
    """The clock alerts to withdraw: `no_activity` when someone at the site signed in before
    `no_activity_at` that day, `deadline_missed` when the kiosk finished scanning before the
    deadline that day (both known only from events that reached central after it raised the
    alert). Other kinds are facts of the moment they were raised and stay."""
    out = []
    for a in alerts:
        if a.kind == "no_activity":
            at, rule = a.first_sign_in, rules.no_activity_at
            what, heard = f"någon loggade in på {a.signed_in_at or a.site}", "inloggningen"
        elif a.kind == "deadline_missed":
            at, rule = a.scan_done_at, rules.deadline
            what, heard = f"skanningen på {a.kiosk} blev klar", "händelserna"
        else:
            continue
        if at is not None and at < dt.datetime.combine(dt.date.fromisoformat(a.day), rule, tzinfo=rules.tz):
            out.append(Withdrawal(a.id, a.site, a.kiosk, a.kind, a.day,
                                  f"Larmet återkallades: {what} kl. {_hhmm(at, rules.tz)}, före kl. "
                                  f"{rule.strftime('%H:%M')} ({heard} nådde centralen först senare)."))
    return out
