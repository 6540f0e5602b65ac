"""Effects: what the shell must do after a command was made durable. Pure data.

The controller returns these; adapters carry them out (shelf LEDs, printer, buzzer, TL alerts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .printouts import Layout

# LED patterns with fixed meaning (issue: the shelf hardware).
STEADY = "steady"  # put here
SLOW_BLINK = "slow_blink"  # take from here (scanning)
FAST_BLINK = "fast_blink"  # error
OFF = "off"
PATTERNS = (STEADY, SLOW_BLINK, FAST_BLINK, OFF)


@dataclass(frozen=True)
class Lights:
    """The whole shelf picture: every slot not named is off."""

    on: tuple[tuple[str, str], ...] = ()

    def pattern(self, slot: str) -> str:
        return dict(self.on).get(slot, OFF)

    @classmethod
    def of(cls, **slots: str) -> "Lights":
        return cls(tuple(slots.items()))


@dataclass(frozen=True)
class Print:
    kind: str  # cover_slip | dodsbo_label | day_summary | test
    layout: Layout
    persist: bool = True  # False: the job holds a personnummer and must never reach disk
    job: str | None = None  # a label's or cover slip's print job id (routine.print_job_id): its outcome is recorded


@dataclass(frozen=True)
class Alert:
    kind: str  # bestridan | tillfalliga | deadline_missed
    text: str


@dataclass(frozen=True)
class Sound:
    kind: str  # accept | reject | error


@dataclass(frozen=True)
class Effects:
    lights: Lights | None = None  # None: leave the shelf as it is
    prints: tuple[Print, ...] = ()
    alerts: tuple[Alert, ...] = ()
    sound: Sound | None = None
    notes: tuple[str, ...] = field(default=())  # checklists and reminders to show
