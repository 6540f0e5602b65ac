"""Benchmarks for the shelf hardware layer (called from `kiosk bench`): `run(args)` prints lines.

1. A day summary rendered to ESC/POS bytes, beside its PNG preview rendered from the same Layout
   (the baseline: both run for every printout).
2. Key events decoded to codes (`keymap.Decoder`), beside the baseline of only walking the same
   events: the decoder's own cost per scanned code.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.3f} ms  p95 {sorted(samples)[int(len(samples) * 0.95) - 1] * 1000:7.3f} ms"


def _day_summary_layout():
    from importlib import resources

    from kiosk.core import printouts
    from kiosk.core.config import parse
    from kiosk.shelf.simulate import run as simulate

    script = resources.files("kiosk.shelf").joinpath("examples/example-day.jsonl").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        doc = simulate(script.splitlines(), parse(""), Path(tmp) / "journal.db", Path(tmp))
    return printouts.day_summary(doc["days"][0], "demo", "kiosk-1")


def run(args=None) -> None:
    from kiosk.shelf import preview
    from kiosk.shelf.hw.escpos_render import render
    from kiosk.shelf.hw.keymap import Decoder, encode

    from .fakeinput import key_events

    repeat = max(5, int(getattr(args, "hw_repeat", 50) or 50))
    layout = _day_summary_layout()
    escpos = _timed(lambda: render(layout), repeat)
    png = _timed(lambda: preview.png_bytes(layout), repeat)
    size = len(render(layout))
    print(f"hw: day summary -> ESC/POS ({size} bytes)      {_ms(escpos)}  (n={repeat})")
    print(f"hw: day summary -> PNG preview (baseline)   {_ms(png)}  (n={repeat})")
    print(f"hw: ESC/POS render is {statistics.median(png) / statistics.median(escpos):.1f}x faster than the preview")

    codes = [f"735000{i:07d}" for i in range(1000)]
    events = key_events([k for c in codes for k in encode(c, "us")], 1_700_000_000.0, 0.0005)

    def walk():
        n = 0
        for ev in events:
            if ev.type == 1:
                n += 1
        return n

    def decode():
        d = Decoder("us", gap=0.5)
        got = [c for c in (d.feed(ev) for ev in events) if c is not None]
        assert len(got) == len(codes)

    base = _timed(walk, 10)
    dec = _timed(decode, 10)
    per_code = (statistics.median(dec) - statistics.median(base)) / len(codes)
    print(f"hw: walk {len(events)} key events (baseline)    {_ms(base)}")
    print(f"hw: decode them to {len(codes)} codes              {_ms(dec)}")
    print(f"hw: decoder cost per 13-digit code: {per_code * 1e6:.1f} µs (a scanner sends one every ~100 ms)")
