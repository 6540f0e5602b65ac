"""Camera mode at the shelf, as a pure state machine: what is on the marked spot, what the screen
says, and which command is committed when.

    laid(verdict)   an envelope was laid (or the next one replaced it): the previous envelope, if
                    it was decided, is committed; the new one is shown: its pile lit and what was
                    read, or (ask) the candidates as big buttons
    removed()       the spot is empty again: the shown envelope, if decided, is committed
    problem(key)    the camera cannot read the spot (dark, two envelopes, a hand, no camera):
                    said in Swedish; nothing is committed or dropped
    choose(pile, letter)  the person tapped a candidate: now decided
    wrong()         "Fel": the shown proposal is dropped, nothing committed; the person sorts by hand

Commands are `camera_sort` (kiosk/core/routine.py), so the journal holds what was decided, never what
was read. No I/O, no clock: the shell feeds verdicts and runs the commands.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...core.domain import LETA_KUND_WMS, PILE_NAMES, REMARK_CODES
from .rules import PROBLEMS, Verdict


@dataclass(frozen=True)
class Option:
    pile: str
    letter: str | None = None

    @property
    def label(self) -> str:
        name = PILE_NAMES[self.pile]
        return f"{name} {self.letter} ({LETA_KUND_WMS[self.letter]})" if self.letter else name


@dataclass(frozen=True)
class Spot:
    verdict: Verdict | None = None  # the envelope on the spot, as read
    chosen: Option | None = None  # the person's choice when the camera asked
    seq: int = 0  # envelopes laid so far: each one is a new spot, even if it reads the same


@dataclass(frozen=True)
class Screen:
    """What the kiosk shows in camera mode (Swedish)."""
    message: str
    light: str | None = None  # the pile to light
    read: tuple[str, ...] = ()  # what was read: pile, type, code, reason
    options: tuple[Option, ...] = ()  # big buttons when asking
    manual: bool = False  # the manual pile buttons are the way now


def options(v: Verdict) -> tuple[Option, ...]:
    out: list[Option] = []
    for pile in v.candidates or ((v.pile,) if v.pile else ()):
        if pile == "leta_kund" and (v.letter is None or len(v.candidates) > 1):
            out += [Option(pile, letter) for letter in (v.letters or ("A", "B", "C", "D", "H"))]
        else:
            out.append(Option(pile, v.letter if pile == "leta_kund" else None))
    return tuple(out)


def decided(spot: Spot) -> Option | None:
    v = spot.verdict
    if v is None or v.pile is None:
        return None
    if spot.chosen is not None:
        return spot.chosen
    return Option(v.pile, v.letter) if v.decision == "auto" else None


def command(spot: Spot) -> dict | None:
    """The `camera_sort` command for a decided envelope (None when not decided)."""
    opt = decided(spot)
    if opt is None or spot.verdict is None:
        return None
    v = spot.verdict
    cmd: dict = {"cmd": "camera_sort", "pile": opt.pile}
    if opt.letter:
        cmd["letter"] = opt.letter
    if v.codes and opt.pile == v.pile:  # a code read belongs to the pile it was read for
        cmd["code"] = v.codes[0]
    if v.remark:
        cmd["remark"] = v.remark
    return cmd


def screen(spot: Spot) -> Screen:
    v = spot.verdict
    if v is None:
        return Screen("Lägg nästa kuvert på den markerade platsen, fönstret uppåt.")
    opt = decided(spot)
    read = _read_lines(v, opt)
    if opt is not None:
        return Screen(f"Lägg kuvertet i {opt.label}. Ta bort det från platsen – då registreras det. "
                      "Tryck Fel om det är fel.", light=opt.pile, read=read)
    return Screen("Kameran är inte säker. Välj rätt hög nedan, eller tryck Fel och sortera för hand.",
                  read=read, options=options(v))


def _read_lines(v: Verdict, opt: Option | None) -> tuple[str, ...]:
    lines = []
    if opt is not None and opt.pile != v.pile:
        lines.append(f"Vald hög: {opt.label}")
    elif v.pile:
        lines.append(f"Hög: {PILE_NAMES[v.pile]}" + (f", brev {v.letter}" if v.letter else ""))
    if v.codes:
        lines.append("Streckkod: " + ", ".join(v.codes))
    elif v.pile in ("dodsbo", "sekretess", "faktura", "ovriga_streckkod"):
        lines.append("Streckkoden kunde inte läsas – skanna den med handskannern i steg 2.")
    if v.remark:
        lines.append(f"Returorsak: {REMARK_CODES[v.remark]}")
    return tuple(lines)


def laid(spot: Spot, verdict: Verdict) -> tuple[Spot, list[dict], Screen]:
    """A new envelope on the spot (it replaced the one shown, which is committed if decided)."""
    if verdict.problem is not None:
        return problem(spot, verdict.problem)
    cmds = [c for c in (command(spot),) if c]
    new = Spot(verdict, seq=spot.seq + 1)
    return new, cmds, screen(new)


def removed(spot: Spot) -> tuple[Spot, list[dict], Screen]:
    cmds = [c for c in (command(spot),) if c]
    empty = Spot(seq=spot.seq)
    if spot.verdict is not None and not cmds:
        return empty, [], Screen("Kuvertet registrerades inte (ingen hög vald). Sortera det för hand.",
                                 manual=True)
    return empty, cmds, screen(empty)


def problem(spot: Spot, key: str) -> tuple[Spot, list[dict], Screen]:
    if key == "empty":
        return removed(spot)
    return spot, [], Screen(PROBLEMS.get(key, PROBLEMS["error"]), manual=True)


def choose(spot: Spot, option: Option) -> tuple[Spot, list[dict], Screen]:
    if spot.verdict is None:
        return spot, [], screen(spot)
    new = replace(spot, chosen=option)
    return new, [], screen(new)


def wrong(spot: Spot) -> tuple[Spot, list[dict], Screen]:
    """"Fel": the proposal is dropped; nothing was committed for it."""
    return Spot(seq=spot.seq), [], Screen("Förslaget är borttaget. Sortera kuvertet för hand med knapparna.", manual=True)
