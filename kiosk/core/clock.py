"""Time as the routine sees it: the local day and the 14:00 deadline, in Europe/Stockholm.

Pure helpers take an aware `datetime`; nothing here reads the wall clock except `SystemClock`,
which lives in the shell and is injected.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Stockholm")
DEADLINE = dt.time(14, 0)


def require_aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("time must carry a UTC offset")
    return now


def local_day(now: dt.datetime, tz: ZoneInfo = TZ) -> dt.date:
    """The routine's day: the local calendar date (DST aware)."""
    return require_aware(now).astimezone(tz).date()


def deadline_for(day: dt.date, at: dt.time = DEADLINE, tz: ZoneInfo = TZ) -> dt.datetime:
    """The scan deadline of a local day as an aware datetime (14:00 local, whatever the DST)."""
    return dt.datetime.combine(day, at, tzinfo=tz)


def before_deadline(now: dt.datetime, at: dt.time = DEADLINE, tz: ZoneInfo = TZ) -> bool:
    return require_aware(now) < deadline_for(local_day(now, tz), at, tz)


def utc_iso(now: dt.datetime) -> str:
    """UTC ISO 8601 with millisecond precision and a Z, as events carry it."""
    u = require_aware(now).astimezone(dt.timezone.utc)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> dt.datetime:
    """Parse ISO 8601 that must carry a UTC offset (or Z)."""
    if not isinstance(text, str):
        raise ValueError("time must be a string")
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return require_aware(value)


@dataclass
class FixedClock:
    """A clock for scripts and tests: returns whatever it was last set to."""

    now_value: dt.datetime
    synced: bool = True

    def now(self) -> dt.datetime:
        return self.now_value

    def set(self, value: dt.datetime) -> None:
        self.now_value = require_aware(value)


class SystemClock:
    """The wall clock (UTC, aware), and whether the system says it is NTP-synchronised.

    `synced` asks timedatectl at most every `ttl` seconds and otherwise answers from the last
    reading, so a sign-in on the UI thread does not wait for it (the UI's status poller keeps the
    reading fresh from its own thread)."""

    def __init__(self, ttl: float = 120.0):
        self.ttl = ttl
        self._synced: bool | None = None
        self._read_at = float("-inf")

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    @property
    def synced(self) -> bool:
        import time

        if self._synced is None or time.monotonic() - self._read_at > self.ttl:
            self._synced = self._ask()
            self._read_at = time.monotonic()
        return self._synced

    @staticmethod
    def _ask() -> bool:
        try:
            out = subprocess.run(
                ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                capture_output=True, text=True, timeout=2,
            )
            return out.stdout.strip() == "yes"
        except (OSError, subprocess.SubprocessError):
            return False
