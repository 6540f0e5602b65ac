"""Reading one camera frame, in memory only: where the envelope lies, its barcodes, its text and the
marked box of a return sticker. The result (`rules.Reading`) goes to the pure rules in `rules.py`.

No frame, crop or recognised text is ever written anywhere by this module: images stay PIL images
in memory, Tesseract gets them through tesserocr's in-memory API (never a temp file), and nothing
here logs what it read. zxing-cpp decodes the barcodes; Tesseract (Debian's `swe` model) reads the
text. Both are imported lazily, so the kiosk runs without them when the camera is off.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import deque
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from .rules import Code, Line, Reading, Word, digit_line, remark_of, starts_text, sticker_lines

SMALL = 200  # width of the thumbnail that finds the envelope
# margins (a share of the envelope's size) around its straightened cuts (see straighten_cuts).
# The cut that is OCR'd has a little: the size estimate is a little short under perspective, and
# digits sit near the edge
ENV_MARGIN = 0.06
WIDE_MARGIN = 0.16  # the cut barcodes are read on (see Reader._read)
OCR_WIDTH = 980  # the straightened envelope is OCR'd at about this width
TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                 "/usr/share/tessdata")


class RecognitionUnavailable(RuntimeError):
    """zxing-cpp, tesserocr or the Swedish Tesseract model is missing (message in Swedish)."""


def tessdata_dir() -> str | None:
    for d in TESSDATA_DIRS:
        if (Path(d) / "swe.traineddata").is_file():
            return d
    return None


class Reader:
    """One Tesseract engine (loading the model takes a while), reused for every frame.
    Thread-safe: a lock serialises frames."""

    def __init__(self) -> None:
        try:
            import tesserocr
            import zxingcpp
        except ImportError as exc:
            raise RecognitionUnavailable(
                f"Kameraigenkänningen saknar ett paket ({exc.name}): installera kioskens kamerapaket "
                "(scripts/setup).") from exc
        path = tessdata_dir()
        if path is None:
            raise RecognitionUnavailable("Tesseracts svenska språkmodell saknas: installera paketet "
                                         "tesseract-ocr-swe.")
        self._tess = tesserocr
        if hasattr(tesserocr, "set_leptonica_log_level"):  # leptonica's "box outside rectangle" noise on stderr
            tesserocr.set_leptonica_log_level(tesserocr.LeptLogLevel.NONE)
        self._zxing = zxingcpp
        self._formats = [zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.EAN13]
        self._api = tesserocr.PyTessBaseAPI(path=path, lang="swe", psm=tesserocr.PSM.SPARSE_TEXT)
        self._digits_api = tesserocr.PyTessBaseAPI(path=path, lang="swe", psm=tesserocr.PSM.SINGLE_LINE)
        self._digits_api.SetVariable("tessedit_char_whitelist", "0123456789")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._api.End()
        self._digits_api.End()

    def read(self, img: Image.Image) -> Reading:
        with self._lock:
            return self._read(img)

    def _read(self, img: Image.Image) -> Reading:
        rgb = img.convert("RGB")
        look = locate(rgb)
        if look.problem is not None:
            return Reading(problem=look.problem)
        gray = ImageOps.grayscale(rgb)
        # barcodes sit near the envelope's edge, where the size estimate (a little short under
        # perspective and a slightly wrong angle) may cut off their printed digits: they are read on
        # a wider cut, and their boxes moved back into `env`'s pixels
        env, wide = straighten_cuts(gray, look, (ENV_MARGIN, WIDE_MARGIN))
        dx, dy = (wide.width - env.width) / 2, (wide.height - env.height) / 2
        codes, wide_bars = self._barcodes(wide)
        printed = self._printed(wide, wide_bars)
        bars = [(x0 - dx, y0 - dy, x1 - dx, y1 - dy) for x0, y0, x1, y1 in wide_bars]
        scale = min(1.0, OCR_WIDTH / env.width)
        small = env.resize((int(env.width * scale), int(env.height * scale)), Image.BILINEAR) if scale < 1 else env
        if bars:  # barcode bars upset Tesseract's page layout: paper over them (the digits stay)
            small = small.copy()
            paper = _percentile(small.histogram(), small.width * small.height, 0.9)
            draw = ImageDraw.Draw(small)
            for x0, y0, x1, y1 in bars:
                pad = (x1 - x0) * 0.12
                draw.rectangle([(x0 - pad) * scale, (y0 - 4) * scale, (x1 + pad) * scale, (y1 + 2) * scale], fill=paper)
        lines = self._ocr(small)
        if not codes:  # OCR saw a line of digits where no bars were decoded: look there once more
            codes, printed = self._digit_lines(wide, lines, scale, dx, dy)
        reading = Reading(lines=tuple(lines), codes=tuple(codes), marks=tuple(mark_darkness(small, lines)),
                          printed=printed)
        _remark, sure, seen = remark_of(reading)
        if seen and not sure:
            reading = replace(reading, sticker=self._sticker(env, reading, scale))
        return reading

    def _sticker(self, env: Image.Image, reading: Reading, scale: float) -> Reading | None:
        """The return sticker read once more on its own: the region around the lines that look like
        it, cut from the full-resolution envelope, enlarged until its text is ~30 pixels high, read
        as one block of text; then the ink in each line's box as on the whole envelope."""
        rows = sticker_lines(reading)
        if not rows:
            return None
        boxes = [w.box for i in rows for w in reading.lines[i].words]
        hs = sorted(b[3] - b[1] for b in boxes)
        h = max(6, hs[len(hs) // 2])
        # from the highest of those lines down and right far enough for a whole sticker (heading and
        # up to seven reasons: ~15 text heights high, ~25 wide) even when OCR saw only its top
        x0, y0 = min(b[0] for b in boxes) - 4 * h, min(b[1] for b in boxes) - 3 * h
        x1 = max(max(b[2] for b in boxes) + 8 * h, x0 + 30 * h)
        y1 = max(max(b[3] for b in boxes) + 4 * h, y0 + 18 * h)
        box = (max(0, int(x0 / scale)), max(0, int(y0 / scale)), min(env.width, int(x1 / scale)),
               min(env.height, int(y1 / scale)))
        if box[2] - box[0] < 20 or box[3] - box[1] < 20:
            return None
        grow = min(3.0, max(1.0, 30 / (h / scale)))
        crop = env.crop(box)
        crop = crop.resize((int(crop.width * grow), int(crop.height * grow)), Image.BICUBIC)
        self._api.SetPageSegMode(self._tess.PSM.SINGLE_BLOCK)
        try:
            lines = self._ocr(crop)
        finally:
            self._api.SetPageSegMode(self._tess.PSM.SPARSE_TEXT)
        return Reading(lines=tuple(lines), marks=tuple(mark_darkness(crop, lines)))

    def bare_ocr(self, img: Image.Image) -> str:
        """The baseline: Tesseract on the whole frame, nothing else (the bench's yardstick)."""
        with self._lock:
            self._api.SetPageSegMode(self._tess.PSM.AUTO)
            try:
                self._api.SetImage(img)
                return self._api.GetUTF8Text()
            finally:
                self._api.SetPageSegMode(self._tess.PSM.SPARSE_TEXT)

    def _barcodes(self, env: Image.Image) -> tuple[list[Code], list[tuple[float, float, float, float]]]:
        """Decoded codes and the boxes of their bars (in `env`'s pixels)."""
        z = self._zxing
        sharp = functools.cache(lambda: env.filter(ImageFilter.UnsharpMask(radius=1, percent=200, threshold=0)))
        # Blurred bars: once more sharpened; then at half size (blur spans fewer pixels there); then
        # other binarizers (a global threshold copes with a blur that local averaging does not).
        found, scale = self._decode(((lambda: env, z.Binarizer.LocalAverage, 1.0),
                                     (sharp, z.Binarizer.LocalAverage, 1.0),
                                     (lambda: env.resize((env.width // 2, env.height // 2)), z.Binarizer.LocalAverage, 2.0),
                                     (sharp, z.Binarizer.FixedThreshold, 1.0),
                                     (lambda: env, z.Binarizer.GlobalHistogram, 1.0),
                                     (lambda: env, z.Binarizer.FixedThreshold, 1.0)))
        codes = [self._code(r) for r in found]
        bars = []
        for r in found:
            q = r.position
            xs = [q.top_left.x, q.top_right.x, q.bottom_left.x, q.bottom_right.x]
            ys = [q.top_left.y, q.top_right.y, q.bottom_left.y, q.bottom_right.y]
            bars.append((min(xs) * scale, min(ys) * scale, max(xs) * scale, max(ys) * scale))
        return codes, bars

    def _decode(self, attempts) -> tuple[list, float]:
        """The valid barcodes of the first attempt (an image made on demand, a binarizer, the scale
        back to the caller's pixels) that finds any, with that scale; ([], 1.0) when none does."""
        for image, binarizer, scale in attempts:
            found = [r for r in self._zxing.read_barcodes(image(), formats=self._formats, binarizer=binarizer) if r.valid]
            if found:
                return found, scale
        return [], 1.0

    def _code(self, r) -> Code:
        return Code(symbology="code128" if r.format == self._zxing.BarcodeFormat.Code128 else "ean13", text=r.text)

    def _digits(self, crop: Image.Image) -> str:
        """The digits Tesseract reads in `crop` as one line of digits only."""
        self._digits_api.SetImage(crop)
        digits = "".join(ch for ch in self._digits_api.GetUTF8Text() if ch.isdigit())
        self._digits_api.Clear()
        return digits

    def _digit_lines(self, wide: Image.Image, lines: list[Line], scale: float, dx: float,
                     dy: float) -> tuple[list[Code], tuple[str, ...]]:
        """Where the envelope's OCR read a line of 12-15 digits but no bars were decoded: decode the
        bars just above it once more on their own (upscaled, sharpened, other binarizers), and read
        the digits once more at full resolution as one line of digits only. The rules report digits
        as a code only when both reads agree."""
        z = self._zxing
        codes: list[Code] = []
        again: list[str] = []
        for line in lines:
            if digit_line(line.text) is None:
                continue
            x0 = min(w.box[0] for w in line.words) / scale + dx
            y0 = min(w.box[1] for w in line.words) / scale + dy
            x1 = max(w.box[2] for w in line.words) / scale + dx
            y1 = max(w.box[3] for w in line.words) / scale + dy
            w, h = x1 - x0, max(8.0, y1 - y0)
            bars = wide.crop((int(x0 - 0.25 * w), int(y0 - 6 * h), int(x1 + 0.25 * w), int(y1 + h)))
            variants = (functools.cache(lambda b=bars: b.resize((b.width * 2, b.height * 2), Image.BICUBIC)),
                        functools.cache(lambda b=bars: b.filter(ImageFilter.UnsharpMask(radius=1, percent=200, threshold=0))),
                        lambda b=bars: b)
            found, _ = self._decode((image, binarizer, 1.0) for image in variants
                                    for binarizer in (z.Binarizer.LocalAverage, z.Binarizer.GlobalHistogram,
                                                      z.Binarizer.FixedThreshold))
            codes += [self._code(r) for r in found]
            digits = self._digits(wide.crop((int(x0 - 0.1 * w), int(y0 - 0.4 * h), int(x1 + 0.1 * w), int(y1 + 0.4 * h))))
            if digits and digits not in again:
                again.append(digits)
        return codes, tuple(again)

    def _printed(self, env: Image.Image, bars: list[tuple[float, float, float, float]]) -> tuple[str, ...]:
        """The digits printed under each decoded barcode, read once more at full resolution as one
        line of digits only (the whole-envelope OCR at ~980 pixels often slips a digit there). Only
        ever used to confirm or refuse a decoded code, never as a code of its own."""
        out = []
        for x0, y0, x1, y1 in bars:
            pad, h = (x1 - x0) * 0.15, max(y1 - y0, 20.0)
            for depth in (0.8, 0.6):  # how far below the bars: the digits' line, with or without margin
                box = (max(0, int(x0 - pad)), int(y1), min(env.width, int(x1 + pad)), min(env.height, int(y1 + h * depth)))
                if box[2] - box[0] < 10 or box[3] - box[1] < 8:
                    continue
                digits = self._digits(env.crop(box))
                if digits and digits not in out:
                    out.append(digits)
        return tuple(out)

    def _ocr(self, img: Image.Image) -> list[Line]:
        tess = self._tess
        api = self._api
        api.SetImage(img)
        api.Recognize()
        it = api.GetIterator()
        lines: list[Line] = []
        words: list[Word] = []
        level = tess.RIL.WORD
        while True:
            if not it.Empty(level):
                if it.IsAtBeginningOf(tess.RIL.TEXTLINE) and words:
                    lines.append(Line(tuple(words)))
                    words = []
                text = it.GetUTF8Text(level) or ""
                box = it.BoundingBox(level)
                if text.strip() and box:
                    words.append(Word(text.strip(), box))
            if not it.Next(level):
                break
        if words:
            lines.append(Line(tuple(words)))
        api.Clear()
        return lines


class Look:
    """Where the envelope lies in the frame (thumbnail coordinates scaled back), or what is wrong."""

    def __init__(self, problem: str | None = None, cx: float = 0, cy: float = 0, angle: float = 0,
                 length: float = 0, width: float = 0):
        self.problem, self.cx, self.cy, self.angle, self.length, self.width = problem, cx, cy, angle, length, width


def _skin(r: int, g: int, b: int) -> bool:
    return r > 95 and g > 40 and b > 20 and r - g > 25 and g > 0.55 * r and r - b > 30 and r < 252


def locate(rgb: Image.Image) -> Look:
    """Find the one envelope on the darker shelf: its centre, angle and size. A dark frame, an
    empty shelf, two envelopes or a hand in the way give a `problem` instead."""
    f = rgb.width / SMALL
    thumb = rgb.resize((SMALL, max(1, int(rgb.height / f))), Image.BOX)
    w, h = thumb.size
    px = list(thumb.get_flattened_data()) if hasattr(thumb, "get_flattened_data") else list(thumb.getdata())
    lum = [(299 * r + 587 * g + 114 * b) // 1000 for r, g, b in px]
    ranked = sorted(lum)
    if ranked[int(len(ranked) * 0.98)] < 40:  # even the paper is dark: no light
        return Look("dark")
    skin = sum(1 for p in px if _skin(*p))
    if skin > 0.01 * w * h:
        return Look("hand")
    # bright = paper: well above the shelf, judged from the frame's own dark level
    shelf = ranked[len(ranked) // 10]
    cut = max(150, shelf + 70)
    mask = bytearray(1 if v >= cut else 0 for v in lum)
    comps = _components(mask, w, h, min_size=int(0.04 * w * h))
    if not comps:
        return Look("empty")
    if len(comps) > 1:
        return Look("two")
    pts = comps[0]
    n = len(pts)
    mx = sum(p % w for p in pts) / n
    my = sum(p // w for p in pts) / n
    sxx = sum((p % w - mx) ** 2 for p in pts) / n
    syy = sum((p // w - my) ** 2 for p in pts) / n
    sxy = sum((p % w - mx) * (p // w - my) for p in pts) / n
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy)
    c, s = math.cos(angle), math.sin(angle)
    us = [(p % w - mx) * c + (p // w - my) * s for p in pts]
    vs = [-(p % w - mx) * s + (p // w - my) * c for p in pts]
    su = sum(u * u for u in us) / n
    sv = sum(v * v for v in vs) / n
    length, width = math.sqrt(12 * su) * f, math.sqrt(12 * sv) * f
    # a lone envelope fills its own turned box; two touching envelopes or a hand do not
    fill = n / max(1.0, (max(us) - min(us) + 1) * (max(vs) - min(vs) + 1))
    if abs(math.degrees(angle)) > 35 or width < 0.15 * rgb.height:
        return Look("empty")  # not an envelope lying roughly straight on the marked spot
    if fill < 0.8 or length > 2.4 * width:  # envelopes are 1.4-2.2 times as long as high
        return Look("two")
    return Look(None, (mx + 0.5) * f, (my + 0.5) * f, angle, length, width)


def _components(mask: bytearray, w: int, h: int, min_size: int) -> list[list[int]]:
    seen = bytearray(len(mask))
    out = []
    for start in range(len(mask)):
        if not mask[start] or seen[start]:
            continue
        seen[start] = 1
        queue, comp = deque([start]), []
        while queue:
            p = queue.popleft()
            comp.append(p)
            x = p % w
            for q in (p - w, p + w, p - 1 if x > 0 else -1, p + 1 if x < w - 1 else -1):
                if 0 <= q < len(mask) and mask[q] and not seen[q]:
                    seen[q] = 1
                    queue.append(q)
        if len(comp) >= min_size:
            out.append(comp)
    return out


def straighten_cuts(gray: Image.Image, look: Look, margins: tuple[float, ...]) -> list[Image.Image]:
    """The envelope cut out and turned level (in memory), once for each of `margins` (a share of its
    size added around it; see ENV_MARGIN, WIDE_MARGIN), all from one rotation of the patch."""
    half = int(math.hypot(look.length, look.width) / 2) + 10
    box = (int(look.cx) - half, int(look.cy) - half, int(look.cx) + half, int(look.cy) + half)
    patch = gray.crop(box)
    patch = patch.rotate(math.degrees(look.angle), resample=Image.BILINEAR, fillcolor=0)
    cuts = []
    for m in margins:
        lw, ww = look.length * (1 + m) / 2, look.width * (1 + m) / 2
        cuts.append(patch.crop((int(half - lw), int(half - ww), int(half + lw), int(half + ww))))
    return cuts


def mark_darkness(img: Image.Image, lines: list[Line]) -> list[float]:
    """For each text line, how much ink is inside the tick box just left of its first printed word
    (0..1): an empty box has none, a box marked with X or a tick has some. The boxes stand in one
    column: where OCR read some of them as a word of their own ("O", "OJ", "KM"), that column (a
    line through them: a sticker may stand a little askew) and their size are used for every line,
    also where OCR merged a box into the first word ("Mej"); each box is then measured in a square
    of its own size around its line's middle, so a neighbouring row's box or mark does not count."""
    glyphs = []
    for line in lines:
        k = next((i for i, w in enumerate(line.words) if starts_text(w.text)), 0)
        if k > 0:
            glyphs.append(line.words[k - 1].box)
    column = None
    if len(glyphs) >= 2:
        ws = sorted(g[2] - g[0] for g in glyphs)
        cw = ws[len(ws) // 2]
        xs = sorted(g[0] for g in glyphs)
        near = [g for g in glyphs if abs(g[0] - xs[len(xs) // 2]) <= 3 * cw]  # not a stray glyph elsewhere
        column = (_column_line([((g[1] + g[3]) / 2, g[0]) for g in near]), cw)
    out = []
    for line in lines:
        k = next((i for i, w in enumerate(line.words) if starts_text(w.text)), 0)
        x0, y0, x1, y1 = line.words[k].box
        heights = sorted(w.box[3] - w.box[1] for w in line.words)
        hgt = max(6, heights[len(heights) // 2])
        yc = (y0 + y1) // 2
        if column is not None:
            at, cw = column
            cx = at(yc)
            if abs(line.words[0].box[0] - cx) <= hgt:
                if k > 0:  # the box read as a glyph of its own: its middle
                    g = line.words[k - 1].box
                    yc = (g[1] + g[3]) // 2
                pad = max(2, cw // 5)
                half = cw // 2 + pad
                out.append(_box_ink(img, (int(cx) - pad, yc - half, int(cx) + cw + pad, yc + half)))
                continue
        region = (x0 - int(1.9 * hgt), y0 - hgt // 3, x0 - int(0.15 * hgt), y1 + hgt // 3)
        out.append(_box_ink(img, region))
    return out


def _column_line(points: list[tuple[float, float]]):
    """x as a function of y through the boxes' left edges (y, x): a least-squares line when there
    are three or more, the median x otherwise (a slope past 0.15, a sticker turned ~9 degrees more
    than any, is not trusted)."""
    xs = sorted(x for _, x in points)
    median = xs[len(xs) // 2]
    if len(points) >= 3:
        my = sum(y for y, _ in points) / len(points)
        mx = sum(x for _, x in points) / len(points)
        syy = sum((y - my) ** 2 for y, _ in points)
        if syy > 0:
            slope = sum((y - my) * (x - mx) for y, x in points) / syy
            if abs(slope) <= 0.15:
                return lambda y: mx + slope * (y - my)
    return lambda y: median


def _box_ink(img: Image.Image, region: tuple[int, int, int, int]) -> float:
    """Ink inside the square drawn in `region`: find its four sides by their long dark runs, then
    measure the dark share of the inner part (the sides themselves left out)."""
    x0, y0, x1, y1 = (max(0, region[0]), max(0, region[1]), min(img.width, region[2]), min(img.height, region[3]))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    patch = img.crop((x0, y0, x1, y1))
    w, h = patch.size
    hist = patch.histogram()
    paper = _percentile(hist, w * h, 0.9)
    cut = paper * 0.6
    px = patch.tobytes()
    dark = [[px[y * w + x] < cut for x in range(w)] for y in range(h)]
    cols = [x for x in range(w) if sum(dark[y][x] for y in range(h)) >= 0.4 * h]
    rows = [y for y in range(h) if sum(dark[y]) >= 0.4 * w]
    # two sides, not the two edges of one side (a box only partly inside the region)
    ax, bx = (cols[0], cols[-1]) if len(cols) >= 2 and cols[-1] - cols[0] >= max(4, w // 3) else (0, w - 1)
    ay, by = (rows[0], rows[-1]) if len(rows) >= 2 and rows[-1] - rows[0] >= max(4, h // 3) else (0, h - 1)
    mx, my = max(2, (bx - ax) // 4), max(2, (by - ay) // 4)
    inner = [dark[y][x] for y in range(ay + my, by - my + 1) for x in range(ax + mx, bx - mx + 1)]
    return sum(inner) / len(inner) if inner else 0.0


def _percentile(hist: list[int], total: int, q: float) -> int:
    acc = 0
    for v, n in enumerate(hist):
        acc += n
        if acc >= q * total:
            return v
    return 255
