"""`kiosk devices` and `kiosk print-test`: an installer's first commands.

`kiosk devices` shows the hardware as the kiosk sees it: input devices and which one the scanner
and badge reader would take, the printer and its state, the GPIO pin factory and every LED pin.
On a machine without the hardware it says plainly what is absent. It changes nothing: no device is
grabbed, no paper is used, the print queue is read only if it exists. Exit code 0 when everything
configured is there, 1 when something is missing.

`kiosk print-test` prints a test slip (å ä ö, sizes, bold, cut) straight to the printer, not via
the queue, and says what happened. `--preview FILE` also writes the slip's PNG preview.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import logging
import os
import sys
import warnings

from ...core.domain import SLOT_NAMES, SLOTS
from .devices import is_raspberry_pi, want_simulator
from .inputs import Finder, _evdev_list
from .printer import OK, PrintService, make_transport
from .shelf import Buzzer, Shelf, factory_name, make_pin_factory


def _mode(config, simulator: bool) -> str:
    setting = config.kiosk.hardware
    pi = is_raspberry_pi()
    where = "a Raspberry Pi" if pi else "not a Raspberry Pi"
    return f"{'simulator' if simulator else 'Pi hardware'} (kiosk.hardware = {setting}; this machine is {where})"


def _codepage_in_profile(profile: str, codepage: str) -> bool | None:
    """Whether the python-escpos printer profile knows the code page (None: unknown profile)."""
    try:
        from .escpos_render import lasting_escpos_cache

        lasting_escpos_cache()
        from escpos.capabilities import get_profile
        return codepage.upper() in {c.upper() for c in get_profile(profile).get_code_pages()}
    except Exception:
        return None


def _reader_report(finder: Finder, section: dict, role: str, exclude: set[str]) -> dict:
    spec = section["device"]
    out = {"role": role, "device": spec, "layout": section["layout"], "terminator": section["terminator"],
           "gap_ms": section["gap_ms"], "found": None}
    if not spec:
        return out
    dev = finder.find(spec, exclude)
    if dev is not None:
        out["found"] = {"path": getattr(dev, "path", ""), "name": getattr(dev, "name", "")}
        try:
            dev.close()
        except Exception:
            pass
    return out


def collect(config, simulator: bool | None = None, finder: Finder | None = None, pin_factory=None) -> dict:
    """Everything `kiosk devices` prints, as data (also `--json`)."""
    sim = want_simulator(config, simulator)
    finder = finder or Finder()
    input_dir = "/dev/input"
    devices = finder.describe()
    nodes = sorted(glob.glob(os.path.join(input_dir, "event*")))
    listed = {d["path"] for d in devices}
    unreadable = [n for n in nodes if n not in listed] if finder.list_paths is _evdev_list else []
    scanner = _reader_report(finder, config.data["scanner"], "scanner", set())
    taken = {scanner["found"]["path"]} if scanner["found"] else set()
    badge = _reader_report(finder, config.data["badge_reader"], "badge", taken)

    p = config.data["printer"]
    transport = make_transport(p, config)
    state, detail = transport.status()
    queue = config.data_path(config.kiosk.data_dir) / "print_queue.db"
    pending = None
    if queue.exists():
        svc = PrintService(transport, queue)
        pending = svc.pending()
        svc.close()
    printer = {"backend": p["backend"], "target": transport.describe(), "state": state, "detail": detail,
               "codepage": p["codepage"], "profile": p["profile"], "pending": pending,
               "codepage_in_profile": _codepage_in_profile(p["profile"], p["codepage"])}

    g = config.data["gpio"]
    factory, error, tried = pin_factory, "", []
    if factory is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                factory = make_pin_factory(g["pin_factory"], sim)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
        tried = [str(w.message) for w in caught]
    quiet = logging.getLogger("kiosk.shelf.hw.shelf")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the report below says it all, once
    try:
        shelf = Shelf(dict(config.data["slots"]), g["status_led"], factory, "no GPIO" if error else "")
        buzzer = Buzzer(g["buzzer"], factory)
    finally:
        quiet.setLevel(level)
    gpio = {
        "pin_factory": g["pin_factory"], "factory": factory_name(factory), "error": error, "tried": tried,
        "simulated": sim,
        "slots": [{"slot": s, "name": SLOT_NAMES[s], "pin": config.data["slots"].get(s),
                   "ok": s in shelf.leds, "problem": shelf.errors.get(s, "" if s in config.data["slots"] else "not wired")}
                  for s in SLOTS],
        "status_led": {"pin": g["status_led"], "ok": shelf.status_led is not None, "problem": shelf.errors.get("status", "")},
        "buzzer": {"pin": g["buzzer"], "ok": buzzer.present, "problem": buzzer.error or ("no GPIO" if error else "")},
    }
    shelf.close()
    buzzer.close()
    from ..camera.camera import describe as describe_camera  # the camera above the shelf (optional)

    return {"mode": _mode(config, sim), "simulator": sim, "input_dir_exists": os.path.isdir(input_dir),
            "input_devices": devices, "unreadable": unreadable, "scanner": scanner, "badge": badge, "printer": printer,
            "gpio": gpio, "camera": describe_camera(config)}


def _reader_lines(r: dict, simulator: bool, label: str) -> tuple[list[str], bool]:
    if not r["device"]:
        if r["role"] == "badge":
            return [f"{label}: none configured (badge_reader.device is empty)"], True
        if simulator:
            return [f"{label}: simulated (the on-screen keyboard types codes; scanner.device is empty)"], True
        return [f"{label}: ABSENT - scanner.device is empty; set a name pattern, vendor:product or /dev/input/by-id path"], False
    settings = f"layout {r['layout']}, terminator {r['terminator']}, gap {r['gap_ms']} ms"
    if r["found"]:
        return [f"{label}: {r['device']!r} -> {r['found']['path']} {r['found']['name']!r} ({settings})"], True
    return [f"{label}: ABSENT - no input device matches {r['device']!r} ({settings})"], False


def render_text(info: dict) -> tuple[str, bool]:
    ok = True
    lines = [f"Hardware: {info['mode']}", "", "Input devices (evdev):"]
    if not info["input_devices"] and not info["unreadable"]:
        why = "" if info["input_dir_exists"] else " (/dev/input does not exist on this machine)"
        lines.append(f"  none found{why}")
    if info["unreadable"]:
        lines.append(f"  {len(info['unreadable'])} device(s) not readable by this user ({', '.join(info['unreadable'])}):"
                     " add the kiosk user to group 'input'")
        ok = False
    for d in info["input_devices"]:
        if "error" in d:
            lines.append(f"  {d['path']}: cannot open: {d['error']} (is the kiosk user in group 'input'?)")
            continue
        roles = [r["role"] for r in (info["scanner"], info["badge"]) if r["found"] and r["found"]["path"] == d["path"]]
        tag = f"  <- {', '.join(roles)}" if roles else ""
        lines.append(f"  {d['path']}  {d['id'] or '----:----'}  {d['name']!r}{'' if d['keys'] else '  (no keys)'}{tag}")
    for r, label in ((info["scanner"], "Scanner"), (info["badge"], "Badge reader")):
        more, good = _reader_lines(r, info["simulator"], label)
        lines += more
        ok &= good

    p = info["printer"]
    lines += ["", f"Printer: {p['target']} (backend {p['backend']}, code page {p['codepage']}, profile {p['profile']})"]
    if p["codepage_in_profile"] is None:
        lines.append(f"  profile {p['profile']!r} is unknown to python-escpos")
        ok = False
    elif not p["codepage_in_profile"]:
        lines.append(f"  code page {p['codepage']} is not in profile {p['profile']!r}: å ä ö may print wrong")
        ok = False
    state = p["state"].upper() if p["state"] != OK else "ok"
    lines.append(f"  state: {state}{' - ' + p['detail'] if p['detail'] else ''}")
    if p["pending"] is not None:
        lines.append(f"  jobs waiting in the queue: {p['pending']}")
    ok &= p["state"] == OK

    g = info["gpio"]
    lines += ["", f"GPIO: pin_factory = {g['pin_factory']} -> {g['factory']}{' (simulated pins)' if g['simulated'] else ''}"]
    if g["error"]:
        lines.append(f"  UNAVAILABLE: {g['error']} - every LED is degraded; the screen names the slots instead")
        for attempt in g["tried"]:
            lines.append(f"    {attempt}")
        ok = False
    for s in g["slots"]:
        pin = f"GPIO{s['pin']}" if s["pin"] is not None else "-"
        status = "ok" if s["ok"] else ("not wired" if s["pin"] is None else f"FAILED: {s['problem']}")
        if s["pin"] is not None and not s["ok"]:
            ok = False
        lines.append(f"  {s['slot']:<17} {pin:<7} {s['name']:<27} {status}")
    for key, label in (("status_led", "status LED"), ("buzzer", "buzzer")):
        part = g[key]
        if not part["pin"]:
            lines.append(f"  {label}: none (pin 0)")
        else:
            lines.append(f"  {label}: GPIO{part['pin']} {'ok' if part['ok'] else 'FAILED: ' + part['problem']}")
            ok &= part["ok"]
    cam = info["camera"]
    if cam["backend"] == "none":
        lines += ["", "Camera: none configured (camera.backend = none)"]
    else:
        lines += ["", f"Camera: backend {cam['backend']}: {'ok' if cam['ok'] else 'ABSENT'} - {cam['detail']}"]
        ok &= cam["ok"]
    lines += ["", "All configured devices present." if ok else "Some configured devices are ABSENT or failed (see above)."]
    return "\n".join(lines), ok


def devices_main(args) -> int:
    from ...core.config import load

    config = load(args.config)
    sim = True if args.simulator else (False if args.pi else None)
    info = collect(config, sim)
    text, ok = render_text(info)
    if args.json:
        print(json.dumps(dict(info, ok=ok), ensure_ascii=False, indent=2))
    else:
        print(text)
    return 0 if ok else 1


def print_test_main(args) -> int:
    from .. import preview
    from ...core import printouts
    from ...core.config import load
    from ...core.effects import Print
    from .escpos_render import decode_text, render

    config = load(args.config)
    p = config.data["printer"]
    layout = printouts.test_slip(config.kiosk.site, config.kiosk.id, dt.datetime.now().astimezone())
    if args.preview:
        print(f"preview: {preview.save_png(layout, args.preview)}")
    if args.dump:
        sys.stdout.write(decode_text(render(layout, p["codepage"], p["profile"]), p["codepage"]))
    transport = make_transport(p, config)
    service = PrintService(transport, None, codepage=p["codepage"], profile=p["profile"])
    outcome = service.print_now(Print("test", layout))  # no personnummer: any printer may take it
    print(f"printer: {transport.describe()}")
    print(f"{'printed' if outcome.ok else 'NOT printed: ' + outcome.state}: {outcome.message}")
    return 0 if outcome.ok else 1
