"""Configuration: TOML laid over an embedded default (`default_config.toml`).

The default is also the schema: a key the default does not have is an error, and so is a value of
another type. A few keys get extra checks. Errors name the key and the problem, so a bad file
fails at start with a message an installer can act on.
"""

from __future__ import annotations

import codecs
import copy
import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .barcode import BarcodeRules
from .domain import PILES, SLOTS

FREE_MAPS = {"barcode.patterns", "slots"}  # tables whose keys are not fixed by the default
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
VALID_GPIO = range(2, 28)  # BCM pins on the 40-pin header


class ConfigError(ValueError):
    """A configuration problem: `key` names where, the message says what."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"config error: {key}: {problem}")
        self.key = key
        self.problem = problem


def default_text() -> str:
    return resources.files("kiosk").joinpath("default_config.toml").read_text(encoding="utf-8")


def _type_name(v: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(v), type(v).__name__)


def _merge(default: dict, user: dict, prefix: str = "") -> dict:
    out = copy.deepcopy(default)
    for key, value in user.items():
        path = f"{prefix}{key}"
        if path in FREE_MAPS:
            if not isinstance(value, dict):
                raise ConfigError(path, "must be a table")
            out[key] = value
            continue
        if key not in default:
            raise ConfigError(path, "unknown key")
        want = default[key]
        if isinstance(want, dict):
            if not isinstance(value, dict):
                raise ConfigError(path, "must be a table")
            out[key] = _merge(want, value, path + ".")
        elif isinstance(want, list):
            if not isinstance(value, list):
                raise ConfigError(path, "must be a list")
            out[key] = value
        else:
            ok = type(value) is type(want) or (isinstance(want, float) and type(value) is int)
            if not ok:
                raise ConfigError(path, f"must be {_type_name(want)}, got {_type_name(value)}")
            out[key] = value
    return out


class Section:
    """Attribute access to one table of the config."""

    def __init__(self, name: str, data: dict):
        self._name, self._data = name, data

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"{self._name}.{key}") from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def as_dict(self) -> dict:
        return copy.deepcopy(self._data)


@dataclass(frozen=True)
class Operator:
    signature: str
    name: str = ""
    badge: str = ""


class Config:
    def __init__(self, data: dict, source: str = "<default>"):
        self.data = data
        self.source = source
        self.operators = tuple(Operator(**o) for o in data["operators"])

    def __getattr__(self, name: str) -> Section:
        data = self.__dict__.get("data", {})
        if name in data and isinstance(data[name], dict):
            return Section(name, data[name])
        raise AttributeError(name)

    @property
    def deadline(self) -> dt.time:
        return dt.time.fromisoformat(self.data["kiosk"]["deadline"])

    def barcode_rules(self) -> BarcodeRules:
        b = self.data["barcode"]
        return BarcodeRules(b["min_length"], b["max_length"], b["check_digit"], dict(b["patterns"]), b["charset"])

    def data_path(self, value: str) -> Path:
        """A path from the config: relative paths are under the directory of the config file,
        or the working directory for the embedded default."""
        p = Path(value)
        if p.is_absolute():
            return p
        base = Path(self.source).parent if self.source != "<default>" else Path.cwd()
        return base / p

    @property
    def journal_path(self) -> Path:
        return self.data_path(self.data["kiosk"]["data_dir"]) / "journal.db"


def _validate(d: dict) -> None:
    k = d["kiosk"]
    for key in ("site", "id"):
        if not ID_RE.match(k[key]):
            raise ConfigError(f"kiosk.{key}", "use 1-64 letters, digits, - or _")
    try:
        dt.time.fromisoformat(k["deadline"])
    except ValueError:
        raise ConfigError("kiosk.deadline", "must be HH:MM") from None
    if k["hardware"] not in ("auto", "pi", "simulator"):
        raise ConfigError("kiosk.hardware", "must be auto, pi or simulator")

    seen_sig, seen_badge = set(), set()
    for i, op in enumerate(d["operators"]):
        where = f"operators[{i}]"
        if not isinstance(op, dict):
            raise ConfigError(where, "must be a table with signature, name, badge")
        for key in op:
            if key not in ("signature", "name", "badge"):
                raise ConfigError(f"{where}.{key}", "unknown key")
        sig = op.get("signature")
        if not isinstance(sig, str) or not sig.strip():
            raise ConfigError(f"{where}.signature", "required, a non-empty string")
        if sig in seen_sig:
            raise ConfigError(f"{where}.signature", f"{sig!r} appears twice")
        seen_sig.add(sig)
        for key in ("name", "badge"):
            if not isinstance(op.get(key, ""), str):
                raise ConfigError(f"{where}.{key}", "must be a string")
        badge = op.get("badge", "")
        if badge:
            if badge in seen_badge:
                raise ConfigError(f"{where}.badge", "the same badge is given to two operators")
            seen_badge.add(badge)

    b = d["barcode"]
    if not 1 <= b["min_length"] <= b["max_length"] <= 512:
        raise ConfigError("barcode.min_length", "need 1 <= min_length <= max_length <= 512")
    if b["check_digit"] not in ("none", "luhn", "mod10_31"):
        raise ConfigError("barcode.check_digit", "must be none, luhn or mod10_31")
    if b["charset"] not in ("digits", "printable"):
        raise ConfigError("barcode.charset", "must be digits or printable")
    for pile, pattern in b["patterns"].items():
        if pile not in PILES:
            raise ConfigError(f"barcode.patterns.{pile}", "not a pile id")
        if not isinstance(pattern, str):
            raise ConfigError(f"barcode.patterns.{pile}", "must be a string")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"barcode.patterns.{pile}", f"bad regular expression: {exc}") from None

    pins: dict[int, str] = {}
    for slot, pin in d["slots"].items():
        if slot not in SLOTS:
            raise ConfigError(f"slots.{slot}", "not a slot id")
        if isinstance(pin, bool) or not isinstance(pin, int) or pin not in VALID_GPIO:
            raise ConfigError(f"slots.{slot}", "must be a BCM GPIO pin 2..27")
        if pin in pins:
            raise ConfigError(f"slots.{slot}", f"pin {pin} is already used by slots.{pins[pin]}")
        pins[pin] = f"{slot}"
    g = d["gpio"]
    for key in ("status_led", "buzzer"):
        pin = g[key]
        if pin == 0:
            continue
        if pin not in VALID_GPIO:
            raise ConfigError(f"gpio.{key}", "must be a BCM GPIO pin 2..27, or 0 for none")
        if pin in pins:
            raise ConfigError(f"gpio.{key}", f"pin {pin} is already used by {pins[pin]}")
        pins[pin] = f"gpio.{key}"
    if g["pin_factory"] not in ("auto", "lgpio", "rpigpio", "pigpio", "native", "mock"):
        raise ConfigError("gpio.pin_factory", "must be auto, lgpio, rpigpio, pigpio, native or mock")

    for section in ("scanner", "badge_reader"):
        s = d[section]
        if s["layout"] not in ("us", "se"):
            raise ConfigError(f"{section}.layout", "must be us or se")
        if s["terminator"] not in ("enter", "tab"):
            raise ConfigError(f"{section}.terminator", "must be enter or tab")
        if not 20 <= s["gap_ms"] <= 10000:
            raise ConfigError(f"{section}.gap_ms", "must be between 20 and 10000")

    p = d["printer"]
    if p["backend"] not in ("file", "usb", "serial", "network", "dummy"):
        raise ConfigError("printer.backend", "must be file, usb, serial, network or dummy")
    if p["backend"] == "network" and not p["host"]:
        raise ConfigError("printer.host", "required for the network backend")
    # -- hw: printer code page, retry and timeout --
    try:
        codecs.lookup(p["codepage"].lower().replace("_", "-"))
    except LookupError:
        raise ConfigError("printer.codepage", "unknown code page (use e.g. CP858, CP850 or CP437)") from None
    if not 0.05 <= p["retry_s"] <= 3600:
        raise ConfigError("printer.retry_s", "must be between 0.05 and 3600 seconds")
    if not 0.1 <= p["timeout_s"] <= 60:
        raise ConfigError("printer.timeout_s", "must be between 0.1 and 60 seconds")

    m = d["mqtt"]
    if not 1 <= m["port"] <= 65535:
        raise ConfigError("mqtt.port", "must be 1..65535")
    if m["protocol"] not in ("v5", "v311"):
        raise ConfigError("mqtt.protocol", "must be v5 or v311")
    if not 1 <= m["max_inflight"] <= 1000:
        raise ConfigError("mqtt.max_inflight", "must be 1..1000")
    if m["tls"] and m["ca_file"] == "":
        raise ConfigError("mqtt.ca_file", "required when mqtt.tls is true")

    # -- sync (kiosk/sync) --
    if m["connect_timeout"] <= 0:
        raise ConfigError("mqtt.connect_timeout", "must be more than 0")
    if not 0 < m["backoff_min"] <= m["backoff_max"]:
        raise ConfigError("mqtt.backoff_min", "need 0 < backoff_min <= backoff_max")
    if m["client_id"] and not ID_RE.match(m["client_id"]):
        raise ConfigError("mqtt.client_id", "use 1-64 letters, digits, - or _")
    c = d["central"]
    if c["shared_group"] and not ID_RE.match(c["shared_group"]):
        raise ConfigError("central.shared_group", "use 1-64 letters, digits, - or _")
    if not ID_RE.match(c["client_id"]):
        raise ConfigError("central.client_id", "use 1-64 letters, digits, - or _")
    if not 1 <= c["batch_size"] <= 10000:
        raise ConfigError("central.batch_size", "must be 1..10000")
    if c["session_expiry"] < 0:
        raise ConfigError("central.session_expiry", "must be 0 or more seconds")

    if d["retention"]["purge_synced_after_days"] < 1:
        raise ConfigError("retention.purge_synced_after_days", "must be at least 1")
    if d["ui"]["size"] not in ("800x480", "1280x720", "720x1280"):
        raise ConfigError("ui.size", "must be 800x480, 1280x720 or 720x1280")


def parse(text: str, source: str = "<string>") -> Config:
    default = tomllib.loads(default_text())
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML: {exc}") from None
    data = _merge(default, user)
    _validate(data)
    return Config(data, source)


def load(path: str | os.PathLike | None = None) -> Config:
    """Load the config file at `path` (or $KIOSK_CONFIG), laid over the default."""
    path = path or os.environ.get("KIOSK_CONFIG") or None
    if path is None:
        return parse("", "<default>")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), f"cannot read: {exc.strerror}") from None
    cfg = parse(text, str(p))
    return cfg
