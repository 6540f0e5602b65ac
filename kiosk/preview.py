"""Render a printout `Layout` to a PNG that shows what the 80 mm paper will show.

576 dots across (80 mm at 203 dpi), font A cells of 12x24 dots, a monospaced TrueType font
standing in for the printer's ROM font. Size 2 doubles width and height, as ESC/POS does.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .printouts import COLUMNS, Feed, Layout, Line, Rule

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
def _font(size: int, bold: bool) -> ImageFont.ImageFont:
    px = int(CELL_H * size * 0.8)
    for candidate in BOLD_CANDIDATES if bold else FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, px)
    return ImageFont.load_default(size=px)


def render(layout: Layout) -> Image.Image:
    height = MARGIN
    for item in layout.items:
        height += _height(item)
    height += MARGIN + (CELL_H if layout.cut else 0)
    img = Image.new("L", (DOTS, height), 255)
    draw = ImageDraw.Draw(img)
    y = MARGIN
    for item in layout.items:
        if isinstance(item, Line):
            font = _font(item.size, item.bold)
            cols = COLUMNS // item.size
            text = item.text[:cols]
            width = draw.textlength(text, font=font)
            # Stretch nothing: the printer's double size is double width, so use the cell grid.
            cell = CELL_W * item.size
            text_w = min(width, cell * len(text))
            if item.align == "center":
                x = (DOTS - text_w) / 2
            elif item.align == "right":
                x = DOTS - text_w
            else:
                x = 0
            draw.text((x, y), text, font=font, fill=0)
            if item.bold:
                draw.text((x + 1, y), text, font=font, fill=0)
        elif isinstance(item, Rule):
            mid = y + CELL_H // 2
            draw.line([(0, mid), (DOTS - 1, mid)], fill=0, width=2)
        y += _height(item)
    if layout.cut:
        for x in range(0, DOTS, 16):
            draw.line([(x, height - 6), (x + 8, height - 6)], fill=128, width=1)
    return img


def _height(item) -> int:
    if isinstance(item, Line):
        return CELL_H * item.size
    if isinstance(item, Feed):
        return CELL_H * item.lines
    return CELL_H


def save_png(layout: Layout, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render(layout).save(path, format="PNG")
    return path


def png_bytes(layout: Layout) -> bytes:
    """PNG in memory: for printouts that must not touch the disk (a dödsbo label in the UI)."""
    buf = io.BytesIO()
    render(layout).save(buf, format="PNG")
    return buf.getvalue()
