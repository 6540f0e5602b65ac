"""`kiosk camera classify IMAGE...`: one JSON object per image, in order, with exactly the fields
image, pile, letter, codes, remark, decision, seconds. Exit 0 when every file could be read, 2 when
one could not (its line still comes, with pile null and decision "ask"; the reason on stderr). A frame
that shows no single envelope (dark, empty, two envelopes, a hand) is read: its line says pile null,
"ask", and stderr says why in Swedish.
Nothing read is logged or written anywhere but stdout."""

from __future__ import annotations

import json
import sys
import time

from . import rules


def add_parsers(sub) -> None:
    c = sub.add_parser("camera", help="the camera above the shelf: classify envelope images")
    cs = c.add_subparsers(dest="camera_command", required=True)
    k = cs.add_parser("classify", help="pile, Leta Kund type, codes and return reason of each image, one JSON a line")
    k.add_argument("images", nargs="+", metavar="IMAGE")
    k.set_defaults(func=classify_main)
    b = sub.add_parser("bench-camera", help="benchmark: the camera's accuracy and speed on unseen synthetic "
                                            "frames, beside a bare Tesseract run")
    b.add_argument("--frames", type=int, default=200)
    b.add_argument("--seed", type=int, default=1_000_000, help="first seed (default: frames never used in tuning)")
    b.add_argument("--no-baseline", action="store_true", help="skip the bare Tesseract run")
    b.set_defaults(func=_bench)


def _bench(args) -> int:
    from ..devtools import dev_module

    dev_module("camera_bench").run(args)
    return 0


def classify_main(args) -> int:
    from PIL import Image, UnidentifiedImageError  # imported here: the parser is built on every command

    from .vision import Reader, RecognitionUnavailable

    try:
        reader = Reader()
    except RecognitionUnavailable as exc:
        print(f"kiosk camera: {exc}", file=sys.stderr)
        return 2
    status = 0
    try:
        for name in args.images:
            t0 = time.perf_counter()
            try:
                with Image.open(name) as img:
                    img.load()
                    verdict = rules.classify(reader.read(img))
            except (OSError, UnidentifiedImageError, ValueError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not an image"
                print(f"kiosk camera: cannot read {name}: {why}", file=sys.stderr)
                verdict = rules.Verdict(pile=None, problem="error")
                status = 2
            if verdict.problem is not None and verdict.problem != "error":  # dark, empty, two, hand
                print(f"kiosk camera: {name}: {rules.PROBLEMS[verdict.problem]}", file=sys.stderr, flush=True)
            print(json.dumps(rules.as_json(name, verdict, time.perf_counter() - t0), ensure_ascii=False),
                  flush=True)
    finally:
        reader.close()
    return status
