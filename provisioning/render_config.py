#!/usr/bin/env python3
"""Render /etc/returpost-kiosk/config.toml for the installer (provisioning/install.sh).

    render_config.py ROLE [--base FILE] [--existing FILE] [options] > config.toml

The layer written is only what differs from the embedded default (kiosk/core/default_config.toml):
  1. --base FILE (a config file the installer was given, e.g. a kiosk's bundle from central),
     else --existing FILE (the config already installed, so re-running keeps its values);
  2. the options below, each overriding the key it names;
  3. the paths an installed kiosk needs when they are not set: everything under the state
     directory (/var/lib/returpost-kiosk, the only writable place under the unit's hardening).
The result is validated with kiosk.core.config (PYTHONPATH must reach the project) before it is
printed, so a bad value stops the installer with the key named. Secrets come from the
environment (RETURPOST_MQTT_PASSWORD, RETURPOST_CENTRAL_PASSWORD), never from the command line.
The output is deterministic: rendering it again gives the same bytes (the installer relies on
that to change nothing on a second run). Comments in a given file are not kept.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tomllib

KIOSK_DATA = "/var/lib/returpost-kiosk"
CENTRAL_DATA = "/var/lib/returpost-central"
ETC = "/etc/returpost-kiosk"
VIDPID = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})")
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

# Stable device names given by the installer's udev rules (firmware/udev/*.rules.in).
SCANNER_LINK = "/dev/input/returpost-scanner"
BADGE_LINK = "/dev/input/returpost-badge"
PRINTER_LINK = "/dev/returpost-printer"


class RenderError(ValueError):
    pass


# -- a small TOML writer (tomllib reads, the standard library has no writer) --------------------

def _key(k: str) -> str:
    return k if BARE_KEY.fullmatch(k) else _string(k)


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise RenderError(f"cannot write {type(v).__name__} to TOML")


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dumps(data: dict) -> str:
    """TOML text for `data` (tables, arrays of tables, scalars, lists). Keys keep their order."""
    lines: list[str] = []

    def table(d: dict, path: list[str]) -> None:
        scalars = [(k, v) for k, v in d.items() if not isinstance(v, dict) and not _is_table_array(v)]
        subs = [(k, v) for k, v in d.items() if isinstance(v, dict) or _is_table_array(v)]
        if path and (scalars or not subs):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for k, v in scalars:
            lines.append(f"{_key(k)} = {_value(v)}")
        for k, v in subs:
            if isinstance(v, dict):
                table(v, path + [k])
            else:
                for item in v:
                    if lines:
                        lines.append("")
                    lines.append("[[" + ".".join(_key(p) for p in path + [k]) + "]]")
                    for ik, iv in item.items():
                        if isinstance(iv, dict) or _is_table_array(iv):
                            raise RenderError("nested tables inside [[arrays]] are not supported")
                        lines.append(f"{_key(ik)} = {_value(iv)}")

    table(data, [])
    return "\n".join(lines) + "\n"


# -- the layer ------------------------------------------------------------------------------------

def _set(data: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    d = data
    for p in parents:
        d = d.setdefault(p, {})
    d[last] = value


def _get(data: dict, dotted: str, default=None):
    d = data
    for p in dotted.split("."):
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def _device(spec: str, link: str) -> str:
    """--scanner/--badge: VID:PID means the udev rule's stable name; anything else is kept
    as the kiosk's own device spec (a name pattern or a /dev/input/by-id path)."""
    return link if VIDPID.fullmatch(spec) else spec


def _printer(data: dict, spec: str) -> None:
    kind, _, rest = spec.partition(":")
    if kind == "usb":
        m = VIDPID.fullmatch(rest)
        if not m:
            raise RenderError(f"--printer {spec}: want usb:VID:PID, e.g. usb:0416:5011")
        _set(data, "printer.backend", "usb")
        _set(data, "printer.usb_vendor", int(m.group(1), 16))
        _set(data, "printer.usb_product", int(m.group(2), 16))
    elif kind == "serial-usb":
        if not VIDPID.fullmatch(rest):
            raise RenderError(f"--printer {spec}: want serial-usb:VID:PID of the USB serial adapter")
        _set(data, "printer.backend", "serial")
        _set(data, "printer.serial_port", PRINTER_LINK)
    elif kind == "serial":
        port, _, baud = rest.partition("@")
        _set(data, "printer.backend", "serial")
        _set(data, "printer.serial_port", port or "/dev/ttyUSB0")
        if baud:
            if not baud.isdigit():
                raise RenderError(f"--printer {spec}: the baud rate after @ must be a number")
            _set(data, "printer.baudrate", int(baud))
    elif kind == "network":
        host, _, port = rest.partition(":")
        if not host:
            raise RenderError(f"--printer {spec}: want network:HOST[:PORT]")
        _set(data, "printer.backend", "network")
        _set(data, "printer.host", host)
        if port:
            if not port.isdigit():
                raise RenderError(f"--printer {spec}: the port must be a number")
            _set(data, "printer.port", int(port))
    elif kind == "file" and rest.startswith("/dev/"):
        _set(data, "printer.backend", "file")
        _set(data, "printer.path", rest)
    elif kind in ("file", "dummy"):
        raise RenderError(f"--printer {spec}: {PRINTER_NOT_REAL}")
    else:
        raise RenderError(f"--printer {spec}: want {PRINTER_SPECS}")


PRINTER_SPECS = ("usb:VID:PID, serial-usb:VID:PID, serial[:PORT[@BAUD]], network:HOST[:PORT] "
                 "or file:/dev/NODE (a printer device node such as /dev/usb/lp0)")
PRINTER_NOT_REAL = ("a kiosk needs a real printer: a file backend only for a device node (file:/dev/usb/lp0), "
                    "never a file on disk (it would keep every dödsbo label's personnummer), and no dummy")


def _check_printer(data: dict) -> None:
    """The kiosk's printer is real: usb, serial, network, or a device node."""
    backend = _get(data, "printer.backend")
    path = _get(data, "printer.path") or ""
    if backend is None:
        raise RenderError(f"printer: required for a kiosk: give --printer ({PRINTER_SPECS}), or a config file "
                          "(--config/--bundle) with a [printer] backend")
    if backend in ("file", "dummy") and not (backend == "file" and str(path).startswith("/dev/")):
        raise RenderError(f"printer.backend = {backend!r}" + (f", printer.path = {path!r}" if path else "")
                          + f": {PRINTER_NOT_REAL}; give --printer ({PRINTER_SPECS})")


DISPLAY_SIZES = {"official-7": "800x480", "td2": "720x1280", "td2-landscape": "1280x720"}


def build(args, env=os.environ) -> dict:
    source = args.base or (args.existing if args.existing and os.path.exists(args.existing) else None)
    data: dict = {}
    if source:
        try:
            with open(source, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise RenderError(f"{source}: cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise RenderError(f"{source}: not valid TOML: {exc}") from None

    if args.site:
        _set(data, "kiosk.site", args.site)
    if args.kiosk_id:
        _set(data, "kiosk.id", args.kiosk_id)
    if args.broker_host:
        _set(data, "mqtt.host", args.broker_host)
    if args.broker_port:
        _set(data, "mqtt.port", args.broker_port)
    if args.mqtt_user:
        _set(data, "mqtt.username", args.mqtt_user)
    if env.get("RETURPOST_MQTT_PASSWORD"):
        _set(data, "mqtt.password", env["RETURPOST_MQTT_PASSWORD"])
    if args.ca_file:
        _set(data, "mqtt.tls", True)
        _set(data, "mqtt.ca_file", args.ca_file)
    if args.no_tls:
        _set(data, "mqtt.tls", False)
    if args.scanner:
        _set(data, "scanner.device", _device(args.scanner, SCANNER_LINK))
    if args.badge:
        _set(data, "badge_reader.device", _device(args.badge, BADGE_LINK))
    if args.printer:
        _printer(data, args.printer)
    if args.display in DISPLAY_SIZES:
        _set(data, "ui.size", DISPLAY_SIZES[args.display])

    if args.role == "kiosk":
        data_dir = _get(data, "kiosk.data_dir") or KIOSK_DATA
        if not os.path.isabs(data_dir):
            raise RenderError("kiosk.data_dir: must be an absolute path on an installed kiosk "
                              f"(the default is {KIOSK_DATA})")
        _set(data, "kiosk.data_dir", data_dir)
        _check_printer(data)
        if _get(data, "printer.preview_dir") is None:
            _set(data, "printer.preview_dir", f"{data_dir}/previews")
        if _get(data, "ui.fullscreen") is None:
            _set(data, "ui.fullscreen", True)
        for key in ("kiosk.site", "kiosk.id"):
            if not _get(data, key):
                raise RenderError(f"{key}: required for a kiosk: give --site and --kiosk-id, "
                                  "or a config file (--config/--bundle) that has them")
        if _get(data, "mqtt.enabled", True) and not _get(data, "mqtt.host"):
            raise RenderError("mqtt.host: required for a kiosk: give --broker-host, or a config "
                              "file (--config/--bundle), or set mqtt.enabled = false")
    else:
        data_dir = _get(data, "kiosk.data_dir") or CENTRAL_DATA
        if not os.path.isabs(data_dir):
            raise RenderError(f"kiosk.data_dir: must be an absolute path (default {CENTRAL_DATA})")
        _set(data, "kiosk.data_dir", data_dir)
        if _get(data, "central.db") is None:
            _set(data, "central.db", f"{data_dir}/central.db")
        if args.central_user:
            _set(data, "central.username", args.central_user)
        if env.get("RETURPOST_CENTRAL_PASSWORD"):
            _set(data, "central.password", env["RETURPOST_CENTRAL_PASSWORD"])
    return data


def render(args, env=os.environ) -> str:
    text = dumps(build(args, env))
    try:
        from kiosk.core import config as kconfig
        if args.role == "central":  # central's entry points check the delivery settings too
            from kiosk.central.delivery import config as checked
        else:
            checked = kconfig  # type: ignore[assignment]
    except ImportError as exc:  # pragma: no cover - the installer sets PYTHONPATH
        raise RenderError(f"cannot import kiosk.core.config to validate ({exc}); set PYTHONPATH") from None
    try:
        checked.parse(text, "config.toml")
    except kconfig.ConfigError as exc:
        raise RenderError(str(exc)) from None
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="render_config.py")
    p.add_argument("role", choices=("kiosk", "central"))
    p.add_argument("--base")
    p.add_argument("--existing")
    p.add_argument("--site")
    p.add_argument("--kiosk-id")
    p.add_argument("--broker-host")
    p.add_argument("--broker-port", type=int)
    p.add_argument("--mqtt-user")
    p.add_argument("--ca-file")
    p.add_argument("--no-tls", action="store_true")
    p.add_argument("--scanner")
    p.add_argument("--badge")
    p.add_argument("--printer")
    p.add_argument("--display")
    p.add_argument("--central-user")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        sys.stdout.write(render(args))
    except RenderError as exc:
        print(f"config: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
