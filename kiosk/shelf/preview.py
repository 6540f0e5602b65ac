"""Render a printout `Layout` to a PNG that shows what the 80 mm paper will show.

576 dots across (80 mm at 203 dpi), font A cells of 12x24 dots, a monospaced TrueType font
standing in for the printer's ROM font. Size 2 doubles width and height (size 3 triples), as
ESC/POS does. Every character is placed in its cell of the printer's grid, so columns line up
exactly as on paper (48 per row at size 1), rows wrap where the printer's rows wrap
(`printouts.line_rows`), and text goes through the printer's code page first
(`printouts.printable`): a character the printer cannot print shows as the same "?" here.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..core.printouts import COLUMNS, DEFAULT_CODEPAGE, Feed, Layout, Line, Rule, line_rows, printable

DOTS = 576
CELL_W, CELL_H = DOTS // COLUMNS, 24
MARGIN = 16
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",
)
BOLD_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono-Bold.ttf",
)


@lru_cache(maxsize=16)
def _font(size: int, bold: bool) -> tuple[ImageFont.ImageFont, bool]:
    """(font, is_real_bold). The glyph fills its cell: ~20 dots tall in a 12x24 cell at size 1."""
    px = int(CELL_H * size * 0.84)
    for candidate in BOLD_CANDIDATES if bold else FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, px), bold
    for candidate in FONT_CANDIDATES:  # no bold face: the regular one, drawn twice
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, px), False
    return ImageFont.load_default(size=px), False


def _rows(layout: Layout, codec: str):
    """(item, printed row or None) in paper order: one entry per printed row."""
    for item in layout.items:
        if isinstance(item, Line):
            for row in line_rows(item):
                yield item, printable(row, codec)
        else:
            yield item, None


def _height(item) -> int:
    if isinstance(item, Line):
        return CELL_H * max(1, min(3, item.size))
    if isinstance(item, Feed):
        return CELL_H * item.lines
    return CELL_H


def render(layout: Layout, codepage: str = DEFAULT_CODEPAGE) -> Image.Image:
    codec = codepage.lower().replace("_", "-")
    rows = list(_rows(layout, codec))
    height = MARGIN + sum(_height(item) for item, _ in rows) + MARGIN + (CELL_H if layout.cut else 0)
    img = Image.new("L", (DOTS, height), 255)
    draw = ImageDraw.Draw(img)
    y = MARGIN
    for item, text in rows:
        if isinstance(item, Line):
            size = max(1, min(3, item.size))
            font, real_bold = _font(size, item.bold)
            cell_w, cell_h = CELL_W * size, CELL_H * size
            cols = COLUMNS // size
            text = text[:cols]
            used = cell_w * len(text)
            if item.align == "center":
                x0 = (DOTS - used) // 2
            elif item.align == "right":
                x0 = DOTS - used
            else:
                x0 = 0
            for i, char in enumerate(text):
                if char == " ":
                    continue
                cx = x0 + i * cell_w + cell_w / 2
                cy = y + cell_h / 2
                draw.text((cx, cy), char, font=font, fill=0, anchor="mm")
                if item.bold and not real_bold:
                    draw.text((cx + 1, cy), char, font=font, fill=0, anchor="mm")
        elif isinstance(item, Rule):
            mid = y + CELL_H // 2
            draw.line([(0, mid), (DOTS - 1, mid)], fill=0, width=2)
        y += _height(item)
    if layout.cut:
        for x in range(0, DOTS, 16):
            draw.line([(x, height - 6), (x + 8, height - 6)], fill=128, width=1)
    return img


def save_png(layout: Layout, path: str | Path, codepage: str = DEFAULT_CODEPAGE) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render(layout, codepage).save(path, format="PNG")
    return path


def png_bytes(layout: Layout, codepage: str = DEFAULT_CODEPAGE) -> bytes:
    """PNG in memory: for printouts that must not touch the disk (a dödsbo label in the UI)."""
    buf = io.BytesIO()
    render(layout, codepage).save(buf, format="PNG")
    return buf.getvalue()


# -- the sekretess envelope to scale (docs/cover-slip-envelope.png) --------------------------------
C5_WINDOW = (15.0, 44.0, 105.0, 35.0)  # x, y, w, h in mm: the C5 window envelope's address window


def envelope_image(fit, window: tuple[float, float, float, float] = C5_WINDOW, px_per_mm: int = 4,
                   codepage: str = DEFAULT_CODEPAGE) -> Image.Image:
    """Two envelopes to scale, front view: left the C5 window envelope with the 80 mm slip laid as
    well as it can be (the uncovered part of the window, where an invoice's customer address would
    show, in red); right the windowless envelope with the cut address label where `fit` puts it."""
    from ..core.printouts import PAPER_MM, PRINT_MM, address_label, cover_slip

    import datetime as dt

    s = px_per_mm
    pad, title_h = 10 * s, 14 * s
    w_mm, h_mm = fit.width_mm, fit.height_mm
    img = Image.new("RGB", (int(2 * w_mm * s + 3 * pad), int(h_mm * s + title_h + 2 * pad)), "white")
    draw = ImageDraw.Draw(img)
    font = _font(1, True)[0]

    def paper(layout, width_mm: float) -> Image.Image:
        """A printout as a strip of `width_mm` paper (72 mm printed in the middle), to scale."""
        printed = render(layout, codepage).convert("RGB")
        scale = PRINT_MM * s / printed.width
        printed = printed.resize((int(printed.width * scale), int(printed.height * scale)))
        strip = Image.new("RGB", (int(width_mm * s), printed.height), (250, 250, 245))
        strip.paste(printed, (int((width_mm - PRINT_MM) / 2 * s), 0))
        return strip

    def envelope(x0: int, y0: int, label: str) -> None:
        draw.text((x0, y0 - title_h + 2 * s), label, fill="black", font=font)
        draw.rectangle([x0, y0, x0 + w_mm * s, y0 + h_mm * s], fill=(236, 228, 206), outline="black", width=2)

    # left: the window envelope, slip upright at the window's left edge
    x0, y0 = pad, pad + title_h
    envelope(x0, y0, "Fönsterkuvert C5: FEL – remsan täcker inte fönstret")
    wx, wy, ww, wh = window
    draw.rectangle([x0 + wx * s, y0 + wy * s, x0 + (wx + ww) * s, y0 + (wy + wh) * s], fill=(220, 60, 60))
    slip = paper(cover_slip(dt.date(2026, 11, 23), 3, "demo", "kiosk-1", "ANNA"), PAPER_MM)
    crop = Image.new("RGB", (slip.width, int(h_mm * s)), (250, 250, 245))  # however long the strip
    crop.paste(slip.crop((0, 0, slip.width, min(slip.height, crop.height))), (0, 0))
    sx = x0 + int((wx - 2) * s)
    img.paste(crop, (sx, y0))
    draw.rectangle([sx, y0, sx + crop.width, y0 + crop.height], outline=(90, 90, 90), width=1)
    draw.text((x0 + (wx + PAPER_MM) * s + 2 * s, y0 + (wy + wh) * s + 2 * s),
              f"fönster {ww:g} x {wh:g} mm, remsan {PAPER_MM:g} mm:", fill=(160, 0, 0), font=font)
    draw.text((x0 + (wx + PAPER_MM) * s + 2 * s, y0 + (wy + wh) * s + 7 * s), "rött = kundens adress syns",
              fill=(160, 0, 0), font=font)
    # right: the windowless envelope with the address label
    x1 = 2 * pad + int(w_mm * s)
    envelope(x1, y0, "C5-kuvert utan fönster: RÄTT – adressetiketten på framsidan")
    label = paper(address_label(), PAPER_MM)
    lx, ly, _, _ = fit.label
    img.paste(label, (x1 + int(lx * s), y0 + int(ly * s)))
    draw.rectangle([x1 + int(lx * s), y0 + int(ly * s), x1 + int(lx * s) + label.width, y0 + int(ly * s) + label.height],
                   outline=(90, 90, 90), width=1)
    draw.text((x1 + 8 * s, y0 + 8 * s), "inget fönster: inget inifrån syns", fill=(0, 110, 0), font=font)
    return img


def save_envelope_png(fit, path: str | Path, **kw) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    envelope_image(fit, **kw).save(path, format="PNG")
    return path
