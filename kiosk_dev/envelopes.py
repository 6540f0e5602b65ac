"""Synthetic returned envelopes as a camera above the shelf sees them (tests and the camera bench).

`frame(seed)` draws one envelope from the cues of the eight piles (title, addressee, barcodes with
their digits, the carrier's return sticker, a stamp on letters sent in), lays it on a darker shelf
and spoils it like a real photo: rotation up to ±15°, a slight perspective, blur, sensor noise and a
glare spot. It returns the image and the truth (`Truth`): what a perfect reader would report.
Everything is drawn from `random.Random(seed)`: one seed, one frame, on every machine.

`failure_frame(kind, seed)` draws what must not be classified: "dark", "empty", "two" (two
envelopes) and "hand" (a hand over the envelope).

Text is drawn with Debian's DejaVu fonts (fonts-dejavu-core/-extra), barcodes with python-barcode
(Code 128 of 14-digit 7350… numbers with a GS1 check digit, EAN-13), digits printed under them.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FRAME_SIZE = (1600, 1200)
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PRINT_FONTS = ("DejaVuSans.ttf", "DejaVuSansCondensed.ttf", "DejaVuSerif.ttf")
HAND_FONTS = ("DejaVuSans-Oblique.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansCondensed-Oblique.ttf",
              "DejaVuSerifCondensed-Italic.ttf")

FIRST = ("Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Sara", "Per", "Ingrid", "Mats",
         "Kerstin", "Nils", "Åsa", "Örjan", "Linnéa", "Göran", "Birgitta", "Jönsson", "Märta", "Håkan")
LAST = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
        "Svensson", "Gustafsson", "Lindström", "Åberg", "Öberg", "Bäckström", "Sjögren", "Hägglund")
STREETS = ("Storgatan", "Kyrkvägen", "Skolgatan", "Björkvägen", "Ängsvägen", "Hamngatan", "Södra vägen",
           "Östra Långgatan", "Lärkstigen", "Tallbacken", "Sjövägen", "Prästgårdsgatan")
TOWNS = (("114 32", "Stockholm"), ("753 20", "Uppsala"), ("721 30", "Västerås"), ("611 34", "Nyköping"),
         ("151 72", "Södertälje"), ("183 30", "Täby"), ("136 40", "Haninge"), ("791 71", "Falun"))

INVOICE_TITLES = ("Faktura", "Påminnelse", "Betalningspåminnelse")
OTHER_BARCODE_TITLES = ("Avtalsbekräftelse", "Flyttbekräftelse", "Information om ditt elnätsavtal",
                        "Bekräftelse av uppsägning", "Ändrad nätavgift", "Kvitto på flyttanmälan")
OTHER_LETTER_TITLES = ("Välkommen till Ellevio", "Anvisning av elleverantör", "Anvisningsbrev")
TEMPORARY_TITLES = ("Bristfällig anläggning", "Elpriskompensation", "Fel huvudsäkring")
LK_FIRST = "Undvik att elen stängs av – teckna elnätsavtal idag"
LK_HEADINGS = {"C": "Vem flyttade in i din förra bostad?", "D": "Undvik att elen stängs av.",
               "H": "Vi behöver er hjälp för att koppla ifrån elen."}
PERSONAL_TITLES = {"faktura": INVOICE_TITLES, "ovriga_streckkod": OTHER_BARCODE_TITLES,
                   "ovriga_brev": OTHER_LETTER_TITLES, "tillfalliga": TEMPORARY_TITLES}

# The carrier's printed reasons: (text, remark code or None for a reason with no remark code)
STICKER_REASONS = (
    ("Brevlådan full", "brevlada_full"),
    ("Ej uthämtat", "poste_restante"),
    ("Poste restante ej uthämtat", "poste_restante"),
    ("Adressaten okänd", "okand_adress"),
    ("Avflyttad", "okand_adress"),
    ("Flyttat", "okand_adress"),
    ("Ofullständig adress", "ofullstandig_adress"),
    ("Vägrat mottaga", "vagrad"),
    ("Avliden", None),
    ("Annan orsak", None),
)
PILE_WEIGHTS = {"dodsbo": 1, "sekretess": 1, "faktura": 2, "ovriga_streckkod": 1.5, "leta_kund": 2,
                "ovriga_brev": 1, "inkomna_brev": 1, "tillfalliga": 1}
FAILURES = ("dark", "empty", "two", "hand")


@dataclass
class Truth:
    pile: str
    letter: str | None = None
    codes: list[str] = field(default_factory=list)
    remark: str | None = None


@dataclass
class Layout:
    """What is printed on one envelope, before it is drawn."""
    title: list[str]                  # heading lines seen in the window (may be empty)
    address: list[str]                # addressee block
    codes: list[tuple[str, str]] = field(default_factory=list)  # (symbology, digits)
    sticker: list[str] | None = None  # printed reasons
    marked: int | None = None         # index of the marked reason
    handwritten: bool = False
    stamp: bool = False
    sender: list[str] = field(default_factory=list)
    marker: str = ""                  # extra text line (privacy tests put a unique marker here)


def gs1_check(body: str) -> str:
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def _code128(rng: random.Random) -> tuple[str, str]:
    body = "7350" + "".join(rng.choice("0123456789") for _ in range(9))
    return ("code128", body + gs1_check(body))


def _ean13(rng: random.Random) -> tuple[str, str]:
    body = "73" + "".join(rng.choice("0123456789") for _ in range(10))
    return ("ean13", body + gs1_check(body))


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _street(rng: random.Random) -> str:
    return f"{rng.choice(STREETS)} {rng.randint(1, 89)}{rng.choice(['', '', '', ' A', ' B'])}"


def _town(rng: random.Random) -> str:
    code, town = rng.choice(TOWNS)
    return f"{code} {town.upper() if rng.random() < 0.5 else town}"


def layout(rng: random.Random, pile: str | None = None) -> tuple[Layout, Truth]:
    """Draw the content of one envelope of `pile` (drawn by weight when None) and its truth."""
    if pile is None:
        piles = list(PILE_WEIGHTS)
        pile = rng.choices(piles, weights=[PILE_WEIGHTS[p] for p in piles])[0]
    truth = Truth(pile)
    street, town = _street(rng), _town(rng)
    lay = Layout(title=[], address=[])
    barcoded = pile in ("dodsbo", "sekretess", "faktura", "ovriga_streckkod")
    if pile == "dodsbo":
        lay.title = [rng.choice(INVOICE_TITLES)]
        lay.address = [f"{rng.choice(['Dödsbo efter', 'Dödsboet efter'])} {_person(rng)}", street, town]
    elif pile == "sekretess":
        lay.title = [rng.choice(INVOICE_TITLES)]
        lay.address = ["Fakturering Ellevio", street, town]
    elif pile in PERSONAL_TITLES:  # a title above a personal addressee
        lay.title = [rng.choice(PERSONAL_TITLES[pile])]
        lay.address = [_person(rng), street, town]
    elif pile == "leta_kund":
        letter = rng.choice("AABBCDH")
        truth.letter = letter
        if letter == "A":
            lay.title = [LK_FIRST, "för din lägenhet eller lokal"]
            first = f"Lägenhetsnummer {rng.randint(1001, 1999)}" if rng.random() < 0.6 else "Till hushållet"
            lay.address = [first, street, town]
        elif letter == "B":
            lay.title = [LK_FIRST, f"– du saknar ett elnätsavtal på {street}"]
            lay.address = [f"Till den som bor på {street}", town]
        else:  # C, D, H: their heading above a personal addressee
            lay.title = [LK_HEADINGS[letter]]
            lay.address = [_person(rng), street, town]
    elif pile == "inkomna_brev":
        lay.address = ["Ellevio AB, Kundservice", "Box 24207", "104 51 Stockholm"]
        lay.handwritten = rng.random() < 0.7
        lay.stamp = True
        lay.sender = [f"Avs: {_person(rng)}", street, town]
    else:
        raise ValueError(pile)
    if barcoded:
        lay.codes = [_code128(rng) if rng.random() < 0.7 else _ean13(rng)]
        truth.codes = [lay.codes[0][1]]
    if rng.random() < 0.35:
        n = rng.randint(5, 7)
        reasons = rng.sample(STICKER_REASONS, n)
        lay.sticker = [text for text, _ in reasons]
        lay.marked = rng.randrange(n)
        truth.remark = reasons[lay.marked][1]
    return lay, truth


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _barcode_image(symbology: str, digits: str, module_px: int) -> Image.Image:
    import barcode
    from barcode.writer import ImageWriter

    code = barcode.get(symbology, digits if symbology == "code128" else digits[:12], writer=ImageWriter())
    dpi = int(25.4 * module_px / 0.2)  # 0.2 mm modules -> module_px pixels
    img = code.render({"module_width": 0.2, "module_height": 9.0, "quiet_zone": 3.0, "font_size": 9,
                       "text_distance": 3.5, "dpi": dpi, "background": "white", "foreground": "black"})
    return img.convert("L")


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        trial = f"{cur} {w}".strip()
        if draw.textlength(trial, font=font) <= width or not cur:
            cur = trial
        else:
            lines.append(cur)
            cur = w
    return lines + ([cur] if cur else [])


def _sticker(rng: random.Random, reasons: list[str], marked: int, scale: float) -> Image.Image:
    fs = int(17 * scale)
    f, fb = _font("DejaVuSans.ttf", fs), _font("DejaVuSans-Bold.ttf", int(fs * 1.3))
    pad, line_h, box = int(10 * scale), int(fs * 1.6), int(fs * 1.05)
    w = int(320 * scale)
    h = pad * 2 + int(fs * 1.5) + int(fs * 1.4) + line_h * len(reasons)
    tint = rng.choice([(255, 255, 255), (255, 250, 215), (255, 238, 200)])
    img = Image.new("RGB", (w, h), tint)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w - 1, h - 1], outline=(40, 40, 40), width=2)
    y = pad
    d.text((pad, y), "RETUR", font=fb, fill=(20, 20, 20))
    y += int(fs * 1.5)
    d.text((pad, y), "Retur till avsändaren", font=f, fill=(20, 20, 20))
    y += int(fs * 1.4)
    for i, text in enumerate(reasons):
        bx, by = pad, y + (line_h - box) // 2
        d.rectangle([bx, by, bx + box, by + box], outline=(20, 20, 20), width=2)
        if i == marked:
            ink = rng.choice([(20, 20, 20), (20, 30, 120)])
            wid = max(2, int(3 * scale))
            if rng.random() < 0.5:  # an X
                d.line([bx + 3, by + 3, bx + box - 3, by + box - 3], fill=ink, width=wid)
                d.line([bx + 3, by + box - 3, bx + box - 3, by + 3], fill=ink, width=wid)
            else:  # a tick
                d.line([bx + 3, by + box // 2, bx + box // 2.5, by + box - 3], fill=ink, width=wid)
                d.line([bx + box // 2.5, by + box - 3, bx + box + 2, by - 2], fill=ink, width=wid)
        d.text((bx + box + int(8 * scale), y + (line_h - fs) // 2 - 1), text, font=f, fill=(20, 20, 20))
        y += line_h
    return img


def envelope_image(lay: Layout, rng: random.Random) -> Image.Image:
    """The flat envelope, face up, before the camera sees it."""
    w = rng.randint(1040, 1180)
    h = int(w / rng.uniform(1.42, 1.9))
    scale = w / 1100
    paper = rng.choice([(247, 246, 240), (250, 250, 250), (240, 236, 222), (236, 240, 244)])
    img = Image.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(img)
    if lay.handwritten:
        fname, fs = rng.choice(HAND_FONTS), int(rng.randint(28, 34) * scale)
    else:
        fname, fs = rng.choice(PRINT_FONTS), int(rng.randint(21, 25) * scale)
    font, bold = _font(fname, fs), _font("DejaVuSans-Bold.ttf", int(fs * 1.15))
    ink = (25, 25, 30) if not lay.handwritten else rng.choice([(20, 30, 110), (25, 25, 30)])
    if lay.stamp:  # a postage stamp top right, perforated edge
        sw, sh = int(90 * scale), int(110 * scale)
        sx, sy = w - sw - int(30 * scale), int(25 * scale)
        d.rectangle([sx, sy, sx + sw, sy + sh], fill=rng.choice([(200, 60, 50), (60, 110, 180), (80, 150, 90)]))
        for k in range(sx, sx + sw, 9):
            d.ellipse([k - 3, sy - 3, k + 3, sy + 3], fill=paper)
            d.ellipse([k - 3, sy + sh - 3, k + 3, sy + sh + 3], fill=paper)
        d.ellipse([sx + sw // 4, sy + sh // 4, sx + 3 * sw // 4, sy + 3 * sh // 4], outline=(240, 240, 240), width=3)
    else:  # the company's franking mark
        fx, fy = w - int(210 * scale), int(30 * scale)
        d.rectangle([fx, fy, fx + int(170 * scale), fy + int(60 * scale)], outline=(60, 60, 60), width=2)
        small = _font("DejaVuSans.ttf", int(14 * scale))
        d.text((fx + 10, fy + 8), "SVERIGE", font=small, fill=(60, 60, 60))
        d.text((fx + 10, fy + 8 + int(20 * scale)), "PORTO BETALT", font=small, fill=(60, 60, 60))
    if lay.sender:
        sf = _font(fname, int(fs * 0.7))
        y = int(30 * scale)
        for line in lay.sender:
            d.text((int(35 * scale), y), line, font=sf, fill=ink)
            y += int(fs * 0.95)
    # the window (or, for a letter sent in, the written address block)
    if lay.handwritten or lay.stamp:
        x0, y0 = int(w * rng.uniform(0.30, 0.40)), int(h * rng.uniform(0.42, 0.52))
        win = None
    else:
        wx0, wy0 = int(w * rng.uniform(0.05, 0.08)), int(h * rng.uniform(0.22, 0.30))
        ww, wh = int(w * 0.56), int(h * 0.40)
        win = (wx0, wy0, wx0 + ww, wy0 + wh)
        d.rectangle(win, fill=tuple(max(0, c - 8) for c in paper), outline=tuple(max(0, c - 35) for c in paper))
        x0, y0 = wx0 + int(18 * scale), wy0 + int(14 * scale)
    y = y0
    maxw = (win[2] - x0 - 10) if win else (w - x0 - 30)
    for i, text in enumerate(lay.title):
        tf = bold if i == 0 else font
        for line in _wrap(d, text, tf, maxw):
            d.text((x0, y), line, font=tf, fill=ink)
            y += int(tf.size * 1.3)
    if lay.title:
        y += int(fs * 0.6)
    for text in lay.address + ([lay.marker] if lay.marker else []):
        for line in _wrap(d, text, font, maxw):
            d.text((x0, y), line, font=font, fill=ink)
            y += int(fs * 1.3)
    bottom = h - int(25 * scale)
    if lay.codes:
        for i, (sym, digits) in enumerate(lay.codes):
            bimg = _barcode_image(sym, digits, 2 if sym == "code128" else 3)
            bx = int(w * 0.05) + i * (bimg.width + 20)
            by = bottom - bimg.height
            if win and by < win[3] + 4:
                by = win[3] + 4
            img.paste(bimg.convert("RGB"), (bx, by))
    if lay.sticker is not None and lay.marked is not None:
        st = _sticker(rng, lay.sticker, lay.marked, scale * rng.uniform(0.95, 1.1))
        st = st.rotate(rng.uniform(-3, 3), expand=True, fillcolor=paper, resample=Image.BICUBIC)
        sx = w - st.width - int(w * rng.uniform(0.02, 0.05))
        sy = max(int(110 * scale), h - st.height - int(h * rng.uniform(0.03, 0.1)))
        img.paste(st, (sx, sy))
    return img


def _shelf(rng: random.Random, size=FRAME_SIZE) -> Image.Image:
    base = rng.choice([(70, 55, 45), (55, 58, 62), (85, 70, 55), (45, 45, 50)])
    img = Image.new("RGB", size, base)
    d = ImageDraw.Draw(img)
    for _ in range(60):  # wood grain / scratches
        y = rng.randrange(size[1])
        c = tuple(max(0, min(255, v + rng.randint(-12, 12))) for v in base)
        d.line([0, y, size[0], y + rng.randint(-30, 30)], fill=c, width=rng.randint(1, 5))
    return img


def _place(frame: Image.Image, env: Image.Image, rng: random.Random, center=None, max_angle=15.0) -> None:
    angle = rng.uniform(-max_angle, max_angle)
    mask = Image.new("L", env.size, 255)
    # a slight perspective: the four corners moved a little
    w, h = env.size
    j = 0.02
    quad = [(rng.uniform(-j, j) * w, rng.uniform(-j, j) * h), (rng.uniform(-j, j) * w, h + rng.uniform(-j, j) * h),
            (w + rng.uniform(-j, j) * w, h + rng.uniform(-j, j) * h), (w + rng.uniform(-j, j) * w, rng.uniform(-j, j) * h)]
    flat = [c for p in quad for c in p]
    env = env.transform(env.size, Image.QUAD, flat, resample=Image.BICUBIC, fillcolor=(0, 0, 0))
    mask = mask.transform(mask.size, Image.QUAD, flat, resample=Image.BILINEAR, fillcolor=0)
    env = env.rotate(angle, expand=True, resample=Image.BICUBIC)
    mask = mask.rotate(angle, expand=True, resample=Image.BILINEAR)
    if center is None:
        cx = frame.width // 2 + rng.randint(-80, 80)
        cy = frame.height // 2 + rng.randint(-70, 70)
    else:
        cx, cy = center
    frame.paste(env, (cx - env.width // 2, cy - env.height // 2), mask)


def _spoil(img: Image.Image, rng: random.Random) -> Image.Image:
    if rng.random() < 0.5:  # glare: a soft bright spot
        glare = Image.new("L", img.size, 0)
        gx, gy = rng.randrange(img.width), rng.randrange(img.height)
        r = rng.randint(80, 220)
        ImageDraw.Draw(glare).ellipse([gx - r, gy - r * 0.7, gx + r, gy + r * 0.7], fill=rng.randint(60, 120))
        glare = glare.filter(ImageFilter.GaussianBlur(r / 3))
        img = Image.composite(Image.new("RGB", img.size, (255, 255, 255)), img, glare)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.3)))
    # sensor noise, from the seed (PIL's effect_noise is not seeded)
    noise = Image.frombytes("L", img.size, rng.randbytes(img.width * img.height)).convert("RGB")
    img = Image.blend(img, noise, rng.uniform(0.03, 0.08))
    return img


def frame(seed: int, pile: str | None = None, marker: str = "") -> tuple[Image.Image, Truth]:
    """One camera frame of one envelope (seeded) and what is truly on it."""
    rng = random.Random(seed)
    lay, truth = layout(rng, pile)
    lay.marker = marker
    img = _shelf(rng)
    _place(img, envelope_image(lay, rng), rng)
    return _spoil(img, rng), truth


def _hand(img: Image.Image, rng: random.Random) -> None:
    skin = rng.choice([(224, 172, 140), (198, 134, 100), (240, 200, 170), (150, 100, 70)])
    d = ImageDraw.Draw(img)
    x, y = rng.randint(500, 1000), rng.randint(350, 700)
    d.ellipse([x, y, x + 260, y + 320], fill=skin)  # the palm
    d.rectangle([x + 60, y + 250, x + 220, img.height], fill=skin)  # the wrist and arm
    for k in range(4):  # fingers
        fx = x + 10 + k * 62
        d.rounded_rectangle([fx, y - 150 + abs(k - 1.5) * 25, fx + 50, y + 60], radius=24, fill=skin)


def failure_frame(kind: str, seed: int) -> Image.Image:
    """A frame the kiosk must refuse to classify: dark, empty, two envelopes, a hand."""
    rng = random.Random(seed)
    img = _shelf(rng)
    if kind == "empty":
        return _spoil(img, rng)
    if kind == "two":
        for cx in (420, 1180):
            lay, _ = layout(rng)
            env = envelope_image(lay, rng)
            env = env.resize((env.width * 2 // 3, env.height * 2 // 3))
            _place(img, env, rng, center=(cx, 600 + rng.randint(-100, 100)), max_angle=10)
        return _spoil(img, rng)
    lay, _ = layout(rng)
    _place(img, envelope_image(lay, rng), rng)
    if kind == "hand":
        _hand(img, rng)
        return _spoil(img, rng)
    if kind == "dark":
        img = _spoil(img, rng)
        return img.point(lambda v: int(v * rng.uniform(0.05, 0.12)))
    raise ValueError(kind)


def write_frames(folder: Path, seeds: range, fmt: str = "png") -> list[tuple[Path, Truth]]:
    """Frames as image files (the `files` camera backend, CLI checks); returns (path, truth)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for s in seeds:
        img, truth = frame(s)
        path = folder / f"kuvert-{s:05d}.{fmt}"
        img.save(path)
        out.append((path, truth))
    return out


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
