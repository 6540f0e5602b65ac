"""A printout `Layout` to ESC/POS bytes, with python-escpos (pure: no device is touched).

The same `Layout` the PNG preview draws (`kiosk.shelf.preview`): same rows (`printouts.line_rows`),
same sizes, bold, alignment, rules and feeds, then a cut. The code page is selected once with
ESC t (CP858 by default: å ä ö Å Ä Ö é and €), and every character is encoded in it, so the
bytes decode back with that code page. Text goes through `printouts.printable` first, as in the
preview: typographic dashes and quotes made plain, a character the code page lacks as "?".
"""

from __future__ import annotations

import codecs
import functools
import os
from pathlib import Path

from ...core.printouts import COLUMNS, Feed, Layout, Line, Rule, line_rows, printable

RULE_CHAR = "─"  # box drawing, in CP437/850/858: a continuous line like the preview's


@functools.cache  # once per process: the printer opens its connection for every job and status poll
def lasting_escpos_cache() -> None:
    """Call before python-escpos is first imported. On import it parses its printer database
    (96 KB of JSON through PyYAML) and pickles it into a NEW temporary directory unless
    ESCPOS_CAPABILITIES_PICKLE_DIR names one: every kiosk start parsed it again and left the
    pickle in /tmp (an empty directory it still makes: it evaluates mkdtemp() before reading the
    variable). Give it a lasting cache (systemd's CACHE_DIRECTORY, else $XDG_CACHE_HOME or
    ~/.cache, then returpost-kiosk/escpos): later starts load the pickle (about 2 MB less memory
    and no parse). A cache that cannot be made leaves python-escpos as it is."""
    if "ESCPOS_CAPABILITIES_PICKLE_DIR" in os.environ:
        return
    base = os.environ.get("CACHE_DIRECTORY") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base.split(":")[0]) / "returpost-kiosk" / "escpos"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)


def python_codec(codepage: str) -> str:
    """The Python codec for an escpos code page name (CP858 -> cp858)."""
    name = codepage.lower().replace("_", "-")
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown code page {codepage!r}") from None


def render(layout: Layout, codepage: str = "CP858", profile: str = "default") -> bytes:
    """ESC/POS bytes for one printout: init, code page, the rows, cut."""
    codec = python_codec(codepage)
    rule = RULE_CHAR if printable(RULE_CHAR, codec) == RULE_CHAR else "-"
    # Imported on the first printout: python-escpos (with its printer profiles, Pillow, qrcode
    # and barcode) is about 5 MB the kiosk needs only once something prints.
    lasting_escpos_cache()
    from escpos.printer import Dummy

    p = Dummy(profile=profile)
    p.hw("INIT")
    p.charcode(codepage)  # ESC t n now; all text below is encoded in this code page
    for item in layout.items:
        if isinstance(item, Line):
            size = max(1, min(3, item.size))
            if size == 1:
                p.set(normal_textsize=True, bold=item.bold, align=item.align)
            elif size == 2:
                p.set(double_width=True, double_height=True, bold=item.bold, align=item.align)
            else:
                p.set(custom_size=True, width=size, height=size, bold=item.bold, align=item.align)
            for row in line_rows(item):
                p.textln(printable(row, codec))
        elif isinstance(item, Rule):
            p.set(normal_textsize=True, bold=False, align="left")
            p.textln(rule * COLUMNS)
        elif isinstance(item, Feed):
            p.set(normal_textsize=True, bold=False, align="left")
            p.ln(item.lines)
    p.set(normal_textsize=True, bold=False, align="left")
    if layout.cut:
        p.cut()
    return bytes(p.output)


def decode_text(data: bytes, codepage: str = "CP858") -> str:
    """The printable text in ESC/POS bytes (control sequences removed), decoded with the code
    page. For tests and `kiosk print-test --dump`: shows what the paper shows."""
    codec = python_codec(codepage)
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x1B:  # ESC x [n]
            cmd = data[i + 1] if i + 1 < n else 0
            if cmd in (0x40,):  # ESC @
                i += 2
            elif cmd == 0x64:  # ESC d n (print and feed n lines)
                out += b"\n" * (data[i + 2] if i + 2 < n else 0)
                i += 3
            else:  # ESC ! n, ESC E n, ESC a n, ESC t n, ESC M n, ESC - n, ...
                i += 3
        elif b == 0x1D:  # GS x n (size, cut)
            cmd = data[i + 1] if i + 1 < n else 0
            i += 4 if cmd == 0x56 and i + 2 < n and data[i + 2] in (0x41, 0x42, 65, 66) else 3
        elif b == 0x10:  # DLE EOT n
            i += 3
        else:
            out.append(b)
            i += 1
    return out.decode(codec)


CUT_COMMANDS = (b"\x1dV\x00", b"\x1dV\x01", b"\x1dVA", b"\x1dVB")


def has_cut(data: bytes) -> bool:
    return any(cmd in data for cmd in CUT_COMMANDS)
