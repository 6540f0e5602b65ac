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

from .printouts import COLUMNS, DEFAULT_CODEPAGE, Feed, Layout, Line, Rule, line_rows, printable

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
