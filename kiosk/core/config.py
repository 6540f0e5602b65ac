"""Configuration: TOML laid over an embedded default (`default_config.toml`).

The default is also the schema: a key the default does not have is an error, and so is a value of
another type. A few keys get extra checks. Errors name the key and the problem, so a bad file
fails at start with a message an installer can act on.
"""

from __future__ import annotations

import codecs
import copy
import dataclasses
import datetime as dt
import functools
import ipaddress
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .barcode import BarcodeRules
from .domain import PILES, SLOTS
from .limits import SIGNATURE_MAX, unprintable

FREE_MAPS = {"barcode.patterns", "slots"}  # tables whose keys are not fixed by the default
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
VALID_GPIO = range(2, 28)  # BCM pins on the 40-pin header


CAMERA_BACKENDS = ("none", "picamera2", "v4l2", "files")


class ConfigError(ValueError):
    """A configuration problem: `key` names where, the message says what."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"config error: {key}: {problem}")
        self.key = key
        self.problem = problem


def default_text() -> str:
    return resources.files("kiosk.core").joinpath("default_config.toml").read_text(encoding="utf-8")


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


# -- typed sections ---------------------------------------------------------------------------------
# One frozen dataclass per table of default_config.toml, one field per key, so `config.mqtt.port`
# is known to editors and mypy. The TOML file stays the documentation, the defaults and the schema
# of keys and types; these classes must match it key for key (checked at the first parse and by
# tests/test_config_journal.py): adding a key is one TOML line plus one typed field here.


@dataclass(frozen=True)
class KioskSection:
    site: str
    id: str
    data_dir: str
    deadline: str
    hardware: str


@dataclass(frozen=True)
class Operator:
    signature: str
    name: str = ""
    badge: str = ""


@dataclass(frozen=True)
class BarcodeSection:
    charset: str
    min_length: int
    max_length: int
    check_digit: str
    patterns: dict[str, str]


@dataclass(frozen=True)
class ReaderSection:
    """[scanner] and [badge_reader]."""
    device: str
    layout: str
    terminator: str
    gap_ms: int


@dataclass(frozen=True)
class CameraSection:
    """[camera]: the optional camera above the shelf (kiosk/camera)."""
    backend: str
    device: str
    folder: str
    width: int
    height: int
    settle_ms: int


@dataclass(frozen=True)
class GpioSection:
    pin_factory: str
    status_led: int
    buzzer: int
    beep_on_accept: bool


@dataclass(frozen=True)
class PrinterSection:
    backend: str
    path: str
    usb_vendor: int
    usb_product: int
    usb_in_ep: int
    usb_out_ep: int
    serial_port: str
    baudrate: int
    host: str
    port: int
    codepage: str
    profile: str
    preview_dir: str
    retry_s: float
    timeout_s: float


@dataclass(frozen=True)
class MqttSection:
    enabled: bool
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    tls: bool
    ca_file: str
    cert_file: str
    key_file: str
    keepalive: int
    max_inflight: int
    protocol: str
    client_id: str
    connect_timeout: float
    backoff_min: float
    backoff_max: float
    status_interval: float
    ack_timeout: float


@dataclass(frozen=True)
class CentralSection:
    db: str
    shared_group: str
    client_id: str
    username: str
    password: str = field(repr=False)
    session_expiry: int
    batch_size: int
    dead_letters_max: int
    dead_letters_keep_days: int
    dead_letter_bytes: int
    dead_letters_per_kiosk_minute: int


@dataclass(frozen=True)
class RetentionSection:
    purge_synced_after_days: int


@dataclass(frozen=True)
class UiSection:
    size: str
    fullscreen: bool
    idle_logout_minutes: int  # automatic sign-out after this idle time; 0 = never
    alert_confirm_minutes: float  # an alert central has not reported delivered by then: "säg till TL direkt"
    tap_guard_ms: int  # a committing button ignores a second tap this soon after its last action
    bounce_ms: int  # a counting button (sort, Leta Kund) takes a second tap this soon as a bounce


@dataclass(frozen=True)
class EnvelopeSection:
    """The sekretess envelope (step 4): a windowless envelope and where the address label goes."""

    name: str
    width_mm: int
    height_mm: int
    label_right_mm: int
    label_bottom_mm: int


# -- delivery (kiosk/central/delivery): its tables; the checks are in delivery/config.py ------------
@dataclass(frozen=True)
class DeliverySection:
    interval_s: float
    timeout_s: float
    backoff_min_s: float
    backoff_max_s: float
    stuck_after_minutes: int


@dataclass(frozen=True)
class WebOidcSection:
    enabled: bool
    name: str
    issuer: str
    client_id: str
    client_secret_file: str
    client_secret_env: str
    roles_claim: str
    tl_values: tuple[str, ...]
    viewer_values: tuple[str, ...]
    username_claim: str


@dataclass(frozen=True)
class WebSection:
    base_url: str
    session_idle_minutes: int
    session_hours: int
    metrics_token: str = field(repr=False)
    metrics_token_file: str
    ready_heartbeat_s: int
    trusted_proxies: tuple[str, ...]
    oidc: WebOidcSection


@dataclass(frozen=True)
class NotifyTarget:
    """One [[notify.targets]] table (an array of tables): an Apprise URL, the alert kinds it
    wants, the sites (empty = every site), and its stable name."""
    url: str = field(repr=False)  # may hold a secret: never in a repr or a log
    name: str = ""
    kinds: tuple[str, ...] = ("bestridan", "tillfalliga", "deadline_missed", "no_activity", "kiosk_offline",
                              "printer")
    sites: tuple[str, ...] = ()


@dataclass(frozen=True)
class NotifySection:
    targets: tuple[NotifyTarget, ...]


@dataclass(frozen=True)
class BillingSection:
    dir: str
    url: str = field(repr=False)
    separator: str
    post_delay_s: float


@dataclass(frozen=True)
class FollowupSection:
    dir: str
    time: str


@dataclass(frozen=True)
class ClockAlertsSection:
    enabled: bool
    no_activity: str
    offline_minutes: int
    silent_minutes: int
    working_hours: str
    country: str
    subdiv: str
    eves_off: bool
    extra_holidays: tuple[str, ...]
    extra_working_days: tuple[str, ...]


_NOT_A_TABLE = {"table": False}  # Config fields that are not a table of the TOML file


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection
    operators: tuple[Operator, ...]
    barcode: BarcodeSection
    scanner: ReaderSection
    badge_reader: ReaderSection
    camera: CameraSection
    gpio: GpioSection
    slots: dict[str, int]
    printer: PrinterSection
    mqtt: MqttSection
    central: CentralSection
    retention: RetentionSection
    ui: UiSection
    envelope: EnvelopeSection
    # -- delivery (kiosk/central/delivery) --
    delivery: DeliverySection
    web: WebSection
    notify: NotifySection
    billing: BillingSection
    followup: FollowupSection
    clock_alerts: ClockAlertsSection
    # not tables: where the config came from, and the merged tables as plain dicts
    source: str = field(default="<default>", metadata=_NOT_A_TABLE)
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, metadata=_NOT_A_TABLE)

    @classmethod
    def from_data(cls, data: dict, source: str = "<default>") -> Config:
        """The typed config from merged, validated tables (see `parse`)."""
        problems = schema_problems(default_text())
        if problems:
            raise ConfigSchemaError("\n".join(problems))
        built = _build(cls, data, "", skip_meta=True)
        return dataclasses.replace(built, source=source, data=data)

    @property
    def deadline(self) -> dt.time:
        return dt.time.fromisoformat(self.kiosk.deadline)

    def barcode_rules(self) -> BarcodeRules:
        b = self.barcode
        return BarcodeRules(b.min_length, b.max_length, b.check_digit, dict(b.patterns), b.charset)

    def data_path(self, value: str) -> Path:
        """A path from the config: relative paths are under the directory of the config file,
        or the working directory for the embedded default."""
        p = Path(value)
        if p.is_absolute():
            return p
        base = Path(self.source).parent if self.source != "<default>" else Path.cwd()
        return base / p

    def db_target(self, value: str | None = None) -> str | Path:
        """Central's database (`central.db`, or `value` from a --db flag): a postgresql:// URL
        as it is, a file path as `data_path` makes it."""
        value = str(self.central.db if value is None else value)
        if value.startswith(("postgresql://", "postgres://")):
            return value
        return self.data_path(value)

    def secrets(self) -> tuple[list[str], list[str]]:
        """(values, URLs) of this config that hold secrets: never shown in a log line (kiosk.core.logs)."""
        values = [self.mqtt.password, self.central.password, self.web.metrics_token]
        urls = [self.billing.url, *(t.url for t in self.notify.targets), str(self.central.db)]
        return [v for v in values if v], [u for u in urls if "://" in u]

    @property
    def journal_path(self) -> Path:
        return self.data_path(self.kiosk.data_dir) / "journal.db"


class ConfigSchemaError(RuntimeError):
    """default_config.toml and the typed sections above disagree: a developer's mistake (a key
    added on one side only), never a user's."""


def _fields(cls, skip_meta: bool = False) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if not (skip_meta and f.metadata.get("table") is False)]


def _build(tp: Any, value: Any, path: str, skip_meta: bool = False) -> Any:
    """`value` (from TOML) as type `tp`: a dataclass from a table, tuple/list/dict of them, or a
    scalar; a wrong type or an unknown key is a ConfigError naming the key."""
    where = path or "config"
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(where, "must be a table")
        hints = typing.get_type_hints(tp)
        fs = _fields(tp, skip_meta)
        names = {f.name for f in fs}
        for key in value:
            if key not in names:
                raise ConfigError(f"{path}.{key}" if path else key, "unknown key")
        kwargs = {}
        for f in fs:
            sub = f"{path}.{f.name}" if path else f.name
            if f.name in value:
                kwargs[f.name] = _build(hints[f.name], value[f.name], sub)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(sub, "required")
        return typing.cast(Any, tp)(**kwargs)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(where, "must be a list")
        element = typing.get_args(tp)[0]
        return origin(_build(element, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(where, "must be a table")
        element = typing.get_args(tp)[1]
        return {k: _build(element, v, f"{path}.{k}") for k, v in value.items()}
    if tp is float and type(value) in (int, float):
        return float(value)
    if tp is Any or type(value) is tp:
        return value
    want = {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))
    raise ConfigError(where, f"must be {want}, got {_type_name(value)}")


def _type_hint_text(value: Any) -> str:
    if isinstance(value, dict):
        return "a new @dataclass(frozen=True) section"
    if isinstance(value, list):
        kinds = {type(v).__name__ for v in value}
        if len(kinds) == 1 and not isinstance(value[0], (dict, list)):
            return f"list[{kinds.pop()}]"
        return "list[...]"
    return type(value).__name__


def section_stub(name: str, table: dict) -> str:
    """The dataclass a new TOML table needs, to paste into kiosk/core/config.py (arrays of tables and
    empty lists get a `list[...]` to fill in)."""
    cls = "".join(part.capitalize() for part in name.split("_")) + "Section"
    lines = ["@dataclass(frozen=True)", f"class {cls}:"]
    for key, value in table.items():
        hint = _type_hint_text(value)
        lines.append(f"    {key}: {'dict[str, Any]' if hint.startswith('a new') else hint}")
    return "\n".join(lines) + f"\n\n# and in Config:  {name}: {cls}"


@functools.cache
def schema_problems(default_toml: str) -> tuple[str, ...]:
    """Where `default_toml` (default_config.toml's text) and the typed sections disagree; empty
    when they match."""
    problems: list[str] = []

    def walk(cls, table: dict, path: str, skip_meta: bool = False, every_field: bool = True) -> None:
        hints = typing.get_type_hints(cls)
        fs = {f.name: f for f in _fields(cls, skip_meta)}
        for key, value in table.items():
            sub = f"{path}.{key}" if path else key
            if key not in fs:
                hint = _type_hint_text(value)
                if isinstance(value, dict) and cls is Config:
                    hint += ":\n" + section_stub(key, value)
                problems.append(f"default_config.toml has {sub} but kiosk.core.config.{cls.__name__} has no field "
                                f"{key!r}: add `{key}: {hint}` to it")
                continue
            tp = hints[key]
            origin = typing.get_origin(tp)
            if dataclasses.is_dataclass(tp) and isinstance(value, dict):
                walk(tp, value, sub)
            elif origin in (list, tuple) and isinstance(value, list) and dataclasses.is_dataclass(typing.get_args(tp)[0]):
                for i, element in enumerate(value):
                    if isinstance(element, dict):
                        walk(typing.get_args(tp)[0], element, f"{sub}[{i}]", every_field=False)
                        continue
                    problems.append(f"default_config.toml {sub}[{i}] is not a table")
            else:
                try:
                    _build(tp, value, sub)
                except ConfigError as exc:
                    problems.append(f"default_config.toml {sub} does not fit its typed field "
                                    f"{cls.__name__}.{key}: {exc.problem}")
        if every_field:  # an array-of-tables element may leave out fields that have defaults
            for name in fs:
                if name not in table:
                    problems.append(f"kiosk.core.config.{cls.__name__}.{name} has no key in default_config.toml "
                                    f"({(path + '.') if path else ''}{name}): add it there, documented")

    walk(Config, tomllib.loads(default_toml), "", skip_meta=True)
    return tuple(problems)


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
        if len(sig) > SIGNATURE_MAX:
            raise ConfigError(f"{where}.signature", f"{_short(sig)} is longer than {SIGNATURE_MAX} characters"
                              " (central refuses events signed so)")
        bad = unprintable(sig)
        if bad is not None:
            raise ConfigError(f"{where}.signature", f"{_short(sig)} has the character U+{ord(bad):04X}, which is"
                              " not allowed in a signature (central refuses events signed so)")
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

    c = d["camera"]
    if c["backend"] not in CAMERA_BACKENDS:
        raise ConfigError("camera.backend", "must be " + ", ".join(CAMERA_BACKENDS[:-1]) + " or " + CAMERA_BACKENDS[-1])
    if not (320 <= c["width"] <= 9600 and 240 <= c["height"] <= 7200):
        raise ConfigError("camera.width", "width 320..9600 and height 240..7200 pixels")
    if not 0 <= c["settle_ms"] <= 10000:
        raise ConfigError("camera.settle_ms", "must be between 0 and 10000")
    if c["backend"] == "files" and not c["folder"]:
        raise ConfigError("camera.folder", "required for the files backend")

    p = d["printer"]
    if p["backend"] not in ("file", "usb", "serial", "network", "dummy"):
        raise ConfigError("printer.backend", "must be file, usb, serial, network or dummy")
    if p["backend"] == "network" and not p["host"]:
        raise ConfigError("printer.host", "required for the network backend")
    # -- hw: printer code page, retry and timeout --
    try:
        codecs.lookup(p["codepage"].lower().replace("_", "-"))
    except (LookupError, ValueError):  # ValueError: a NUL in the name
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
    if m["keepalive"] <= 0:
        raise ConfigError("mqtt.keepalive", f"must be more than 0 seconds, got {m['keepalive']}")
    if m["tls"] and m["ca_file"] == "":
        raise ConfigError("mqtt.ca_file", "required when mqtt.tls is true")

    # -- sync (kiosk/shelf/publisher.py) --
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
    for key in ("dead_letters_max", "dead_letters_keep_days", "dead_letter_bytes", "dead_letters_per_kiosk_minute"):
        if c[key] < 1:
            raise ConfigError(f"central.{key}", "must be at least 1")
    if d["mqtt"]["ack_timeout"] <= 0:
        raise ConfigError("mqtt.ack_timeout", "must be more than 0 seconds")
    if c["session_expiry"] < 0:
        raise ConfigError("central.session_expiry", "must be 0 or more seconds")

    if d["retention"]["purge_synced_after_days"] < 1:
        raise ConfigError("retention.purge_synced_after_days", "must be at least 1")
    if d["ui"]["size"] not in ("800x480", "1280x720", "720x1280"):
        raise ConfigError("ui.size", "must be 800x480, 1280x720 or 720x1280")
    if not 0 <= d["ui"]["idle_logout_minutes"] <= 24 * 60:
        raise ConfigError("ui.idle_logout_minutes", "must be 0 (never) to 1440 minutes")
    if not 0 < d["ui"]["alert_confirm_minutes"] <= 120:
        raise ConfigError("ui.alert_confirm_minutes", "must be more than 0 and at most 120 minutes")
    if not 0 <= d["ui"]["tap_guard_ms"] <= 5000:
        raise ConfigError("ui.tap_guard_ms", "must be 0 to 5000 ms")
    if not 0 <= d["ui"]["bounce_ms"] <= 1000:
        raise ConfigError("ui.bounce_ms", "must be 0 to 1000 ms")

    w = d["web"]
    if not 1 <= w["session_idle_minutes"] <= 7 * 24 * 60:
        raise ConfigError("web.session_idle_minutes", "must be 1 to 10080 minutes")
    if not 1 <= w["session_hours"] <= 31 * 24:
        raise ConfigError("web.session_hours", "must be 1 to 744 hours")
    if w["metrics_token"] and len(w["metrics_token"]) < 16:
        raise ConfigError("web.metrics_token", "at least 16 characters (make one: openssl rand -hex 32)")
    if w["ready_heartbeat_s"] < 10:
        raise ConfigError("web.ready_heartbeat_s", "must be at least 10 seconds")
    o = w["oidc"]
    if o["enabled"]:
        for key in ("name", "issuer", "client_id", "roles_claim"):
            if not o[key].strip():
                raise ConfigError(f"web.oidc.{key}", "required when web.oidc.enabled is true")
        if not o["issuer"].startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ConfigError("web.oidc.issuer", "must be an https:// URL")
        if bool(o["client_secret_file"]) == bool(o["client_secret_env"]):
            raise ConfigError("web.oidc.client_secret_file", "give one of client_secret_file and client_secret_env")
        if not o["tl_values"] and not o["viewer_values"]:
            raise ConfigError("web.oidc.tl_values", "give the claim's values for tl or viewer")
    for proxy in w["trusted_proxies"]:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except (TypeError, ValueError):
            raise ConfigError("web.trusted_proxies", f"not an IP address or network: {proxy!r}") from None

    # [[notify.targets]], [billing], [followup], [clock_alerts] are central's: checked by
    # kiosk.central.delivery.config.load at central's entry points, so a kiosk imports nothing of central


def _short(text: str, n: int = 24) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def check_files(cfg: Config) -> None:
    """The TLS files the broker connection needs exist (for the commands that connect: `kiosk run`,
    `sync`, `central`; `kiosk doctor` reports a missing one in Swedish instead)."""
    m = cfg.mqtt
    if not (m.enabled and m.tls):
        return
    for key in ("ca_file", "cert_file", "key_file"):
        value = getattr(m, key)
        if value and not cfg.data_path(value).is_file():
            raise ConfigError(f"mqtt.{key}", f"no such file: {cfg.data_path(value)}")


def parse(text: str, source: str = "<string>") -> Config:
    default = tomllib.loads(default_text())
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML: {exc}") from None
    data = _merge(default, user)
    _validate(data)
    return Config.from_data(data, source)


def load(path: str | os.PathLike | None = None) -> Config:
    """Load the config file at `path` (or $KIOSK_CONFIG), laid over the default."""
    path = path or os.environ.get("KIOSK_CONFIG") or None
    if path is None:
        return parse("", "<default>")
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(str(p), f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}): save the file"
                                  " as UTF-8") from None
    # An empty file is refused rather than run as the embedded defaults (site "demo", the
    # simulator's printer): on an installed kiosk it is a config that was lost, not a choice.
    if not text.strip() or _no_settings(text):
        raise ConfigError(str(p), "the file is empty (no settings): refusing to run on the embedded defaults;"
                                  " give the settings, or leave out --config and $KIOSK_CONFIG to run the"
                                  " defaults on purpose")
    cfg = parse(text, str(p))
    from . import logs

    values, urls = cfg.secrets()
    logs.protect(values, urls)  # no log line of this process shows them
    return cfg


def _no_settings(text: str) -> bool:
    try:
        return tomllib.loads(text) == {}
    except tomllib.TOMLDecodeError:
        return False  # parse() names the TOML error
