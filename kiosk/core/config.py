"""Configuration: TOML laid over an embedded default (`default_config.toml`).

Each key has one source of truth for its type and bounds: the msgspec Structs below
(`Annotated[..., Meta(ge=…, le=…, pattern=…)]`, `Literal[...]` for a choice). The default TOML is
the documentation and the defaults; a key on one side only fails loudly (`schema_problems`, a
test). The merged tables are decoded with `msgspec.convert(strict=True)` and unknown keys are
refused; what crosses keys (or asks another module: a code page, a regular expression, an IP
network, the signature rule central applies) is checked by hand in `_check`. Errors name the key
and the problem in one line, so a bad file fails at start with a message an installer can act on.
"""

import codecs
import copy
import datetime as dt
import functools
import ipaddress
import os
import re
import tomllib
import typing
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from .barcode import BarcodeRules
from .domain import PILES, SLOTS
from .limits import SIGNATURE_MAX, unprintable

FREE_MAPS = {"barcode.patterns", "slots"}  # tables whose keys are not fixed by the default
VALID_GPIO = range(2, 28)  # BCM pins on the 40-pin header




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


# -- key types: a type and its bounds; `say` is the message when a value is out of them -------------
def _say(text: str, **more: Any) -> Meta:
    return Meta(extra={"say": text, **more})


_ID = r"[A-Za-z0-9_-]{1,64}"
_ID_SAY = "use 1-64 letters, digits, - or _"
Id = Annotated[str, Meta(pattern=f"^{_ID}\\Z"), _say(_ID_SAY)]
OptionalId = Annotated[str, Meta(pattern=f"^({_ID})?\\Z"), _say(_ID_SAY)]  # "" = derived
Secret = Annotated[str, Meta(extra={"secret": True})]  # never in a repr
HhMm = Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?\Z"), _say("must be HH:MM")]
Pin = Annotated[int, Meta(ge=2, le=27), _say("must be a BCM GPIO pin 2..27")]
PinOrNone = Annotated[int, Meta(ge=0, le=27), _say("must be a BCM GPIO pin 2..27, or 0 for none")]  # 1: _check
Positive = Annotated[float, Meta(gt=0)]
Seconds = Annotated[float, Meta(gt=0), Meta(extra={"unit": " seconds"})]
AtLeast1 = Annotated[int, Meta(ge=1)]
PileId = Annotated[Literal[PILES], _say("not a pile id")]  # type: ignore[valid-type]
SlotId = Annotated[Literal[SLOTS], _say("not a slot id")]  # type: ignore[valid-type]


class _Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A table of the config: frozen, unknown keys refused, secrets left out of its repr."""

    def __repr__(self) -> str:
        hidden = _secret_fields(type(self))
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__struct_fields__ if f not in hidden)
        return f"{type(self).__name__}({shown})"


@functools.cache
def _secret_fields(cls: type) -> frozenset[str]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return frozenset(name for name, tp in hints.items()
                     if any(extra.get("secret") or extra.get("hidden") for extra in _extras(tp)))


def _extras(tp: Any) -> list[dict[str, Any]]:
    """The `extra` dicts of the Meta annotations of `tp`."""
    return [m.extra for m in getattr(tp, "__metadata__", ()) if isinstance(m, Meta) and m.extra]


# -- typed sections ---------------------------------------------------------------------------------
# One frozen Struct per table of default_config.toml, one field per key, so `config.mqtt.port` is
# known to editors and mypy and its bounds are said once. The TOML file stays the documentation
# and the defaults: adding a key is one documented TOML line plus one typed field here.


class KioskSection(_Table, frozen=True):
    site: Id
    id: Id
    data_dir: str
    deadline: HhMm
    hardware: Literal["auto", "pi", "simulator"]


class Operator(_Table, frozen=True):
    signature: Annotated[str, Meta(pattern=r"\S", max_length=SIGNATURE_MAX),
                         _say(f"{{value}} is blank or longer than {SIGNATURE_MAX} characters"
                              " (central refuses events signed so)")]
    name: str = ""
    badge: str = ""


class BarcodeSection(_Table, frozen=True):
    charset: Literal["digits", "printable"]
    min_length: Annotated[int, Meta(ge=1, le=512)]
    max_length: Annotated[int, Meta(ge=1, le=512)]
    check_digit: Literal["none", "luhn", "mod10_31"]
    patterns: dict[PileId, str]


class ReaderSection(_Table, frozen=True):
    """[scanner] and [badge_reader]."""
    device: str
    layout: Literal["us", "se"]
    terminator: Literal["enter", "tab"]
    gap_ms: Annotated[int, Meta(ge=20, le=10000)]


class CameraSection(_Table, frozen=True):
    """[camera]: the optional camera above the shelf (kiosk/shelf/camera)."""
    backend: Literal["none", "picamera2", "v4l2", "files"]
    device: str
    folder: str
    width: Annotated[int, Meta(ge=320, le=9600)]
    height: Annotated[int, Meta(ge=240, le=7200)]
    settle_ms: Annotated[int, Meta(ge=0, le=10000)]


class GpioSection(_Table, frozen=True):
    pin_factory: Literal["auto", "lgpio", "rpigpio", "pigpio", "native", "mock"]
    status_led: PinOrNone
    buzzer: PinOrNone
    beep_on_accept: bool


class PrinterSection(_Table, frozen=True):
    backend: Literal["file", "usb", "serial", "network", "dummy"]
    path: str
    usb_vendor: Annotated[int, Meta(ge=0, le=0xFFFF)]
    usb_product: Annotated[int, Meta(ge=0, le=0xFFFF)]
    usb_in_ep: Annotated[int, Meta(ge=0, le=0xFF)]
    usb_out_ep: Annotated[int, Meta(ge=0, le=0xFF)]
    serial_port: str
    baudrate: AtLeast1
    host: str
    port: Annotated[int, Meta(ge=1, le=65535)]
    codepage: str
    profile: str
    preview_dir: str
    retry_s: Annotated[float, Meta(ge=0.05, le=3600), Meta(extra={"unit": " seconds"})]
    timeout_s: Annotated[float, Meta(ge=0.1, le=60), Meta(extra={"unit": " seconds"})]


class MqttSection(_Table, frozen=True):
    enabled: bool
    host: str
    port: Annotated[int, Meta(ge=1, le=65535)]
    username: str
    password: Secret
    tls: bool
    ca_file: str
    cert_file: str
    key_file: str
    keepalive: Annotated[int, Meta(gt=0), Meta(extra={"unit": " seconds"})]
    max_inflight: Annotated[int, Meta(ge=1, le=1000)]
    protocol: Literal["v5", "v311"]
    client_id: OptionalId
    connect_timeout: Seconds
    backoff_min: Seconds
    backoff_max: Seconds
    status_interval: Seconds
    ack_timeout: Seconds


class CentralSection(_Table, frozen=True):
    db: Annotated[str, Meta(extra={"secret": True})]  # a postgresql:// URL may hold a password
    shared_group: OptionalId
    client_id: Id
    username: str
    password: Secret
    session_expiry: Annotated[int, Meta(ge=0), Meta(extra={"unit": " seconds"})]
    batch_size: Annotated[int, Meta(ge=1, le=10000)]
    dead_letters_max: AtLeast1
    dead_letters_keep_days: AtLeast1
    dead_letter_bytes: AtLeast1
    dead_letters_per_kiosk_minute: AtLeast1


class RetentionSection(_Table, frozen=True):
    purge_synced_after_days: AtLeast1


class UiSection(_Table, frozen=True):
    size: Literal["800x480", "1280x720", "720x1280"]
    fullscreen: bool
    # automatic sign-out after this idle time; 0 = never
    idle_logout_minutes: Annotated[int, Meta(ge=0, le=24 * 60), _say("must be 0 (never) to 1440 minutes")]
    # an alert central has not reported delivered by then: "säg till TL direkt"
    alert_confirm_minutes: Annotated[float, Meta(gt=0, le=120), Meta(extra={"unit": " minutes"})]
    # a committing button ignores a second tap this soon after its last action
    tap_guard_ms: Annotated[int, Meta(ge=0, le=5000), Meta(extra={"unit": " ms"})]
    # a counting button (sort, Leta Kund) takes a second tap this soon as a bounce
    bounce_ms: Annotated[int, Meta(ge=0, le=1000), Meta(extra={"unit": " ms"})]


class EnvelopeSection(_Table, frozen=True):
    """The sekretess envelope (step 4): a windowless envelope and where the address label goes."""

    name: str
    width_mm: AtLeast1
    height_mm: AtLeast1
    label_right_mm: Annotated[int, Meta(ge=0)]
    label_bottom_mm: Annotated[int, Meta(ge=0)]


# -- delivery (kiosk/central/delivery): its tables; checks that need central are in delivery/config.py
class DeliverySection(_Table, frozen=True):
    interval_s: Seconds
    timeout_s: Seconds
    backoff_min_s: Seconds
    backoff_max_s: Seconds
    stuck_after_minutes: AtLeast1


class WebOidcSection(_Table, frozen=True):
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


class WebSection(_Table, frozen=True):
    base_url: str
    session_idle_minutes: Annotated[int, Meta(ge=1, le=7 * 24 * 60), Meta(extra={"unit": " minutes"})]
    session_hours: Annotated[int, Meta(ge=1, le=31 * 24), Meta(extra={"unit": " hours"})]
    metrics_token: Annotated[str, Meta(pattern=r"^(|[\s\S]{16,})\Z", extra={"secret": True}),
                             _say("at least 16 characters (make one: openssl rand -hex 32)")]
    metrics_token_file: str
    ready_heartbeat_s: Annotated[int, Meta(ge=10), Meta(extra={"unit": " seconds"})]
    trusted_proxies: tuple[str, ...]
    oidc: WebOidcSection


class NotifyTarget(_Table, frozen=True):
    """One [[notify.targets]] table (an array of tables): an Apprise URL, the alert kinds it
    wants, the sites (empty = every site), and its stable name."""
    url: Annotated[str, Meta(pattern="://", extra={"secret": True}),  # may hold a secret: never in a repr or a log
                   _say("required, an Apprise URL such as json://host/path")]
    name: Annotated[str, Meta(pattern=r"^([a-z0-9][a-z0-9_-]{0,39})?\Z"),
                    _say("must be a short name: lower-case letters, digits, - and _")] = ""
    # the kinds' names are central's (delivery/config.py checks them, with clock_alerts' kinds)
    kinds: Annotated[tuple[str, ...], Meta(min_length=1), _say("must be a non-empty list of alert kinds")] = (
        "bestridan", "tillfalliga", "deadline_missed", "no_activity", "kiosk_offline", "printer")
    sites: tuple[str, ...] = ()  # empty = every site


class NotifySection(_Table, frozen=True):
    targets: tuple[NotifyTarget, ...]


class BillingSection(_Table, frozen=True):
    dir: str
    url: Annotated[str, Meta(pattern=r"^(|https?://.+)\Z", extra={"secret": True}),
                   _say("must be an http:// or https:// URL (or \"\" for none)")]
    separator: Annotated[str, Meta(pattern=r'^[^"\r\n]\Z'), _say("must be one character (not a quote or newline)")]
    post_delay_s: Annotated[float, Meta(ge=0), Meta(extra={"unit": " seconds"})]


class FollowupSection(_Table, frozen=True):
    dir: str
    time: HhMm


class ClockAlertsSection(_Table, frozen=True):
    enabled: bool
    no_activity: HhMm
    offline_minutes: AtLeast1
    silent_minutes: Annotated[int, Meta(ge=0)]
    working_hours: str
    country: str
    subdiv: str
    eves_off: bool
    extra_holidays: tuple[str, ...]
    extra_working_days: tuple[str, ...]


META_FIELDS = ("source", "data")  # Config fields that are not a table of the TOML file


class Config(_Table, frozen=True):
    kiosk: KioskSection
    operators: tuple[Operator, ...]
    barcode: BarcodeSection
    scanner: ReaderSection
    badge_reader: ReaderSection
    camera: CameraSection
    gpio: GpioSection
    slots: dict[SlotId, Pin]
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
    # not tables (META_FIELDS): where the config came from, and the merged tables as plain dicts
    source: str = "<default>"
    data: Annotated[dict[str, Any], Meta(extra={"hidden": True})] = msgspec.field(default_factory=dict)

    @classmethod
    def from_data(cls, data: dict, source: str = "<default>") -> "Config":
        """The typed config from merged tables (see `parse`): a wrong type, a value out of its
        bounds or an unknown key is a ConfigError naming the key."""
        for key in META_FIELDS:
            if key in data:
                raise ConfigError(key, "unknown key")
        try:
            built = msgspec.convert(data, cls, strict=True)
        except msgspec.ValidationError as exc:
            problems = schema_problems(default_text())  # the default itself does not fit: a developer's slip
            if problems:
                raise ConfigSchemaError("\n".join(problems)) from None
            raise _config_error(cls, data, str(exc)) from None
        return msgspec.structs.replace(built, source=source, data=data)

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


# -- msgspec's errors as one line naming the key ---------------------------------------------------
_AT = re.compile(r"^(?P<what>.*?)(?: - at (?:`(?P<dictkey>key)` in )?`\$(?P<path>[^`]*)`)?$", re.S)
_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+|\.\.\.)\]")
_WANT = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true/false",
         "array": "a list", "object": "a table"}


def _base(tp: Any) -> Any:
    return typing.get_args(tp)[0] if typing.get_origin(tp) is Annotated else tp


def _say_of(tp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for extra in _extras(tp):
        out.update(extra)
    return out


def _step(tp: Any, value: Any, segment: str) -> tuple[Any, Any, str]:
    """One step of a msgspec path into (type, value): a field, a list index, or `...` (the first
    entry of a dict that does not convert: msgspec does not name it)."""
    tp = _base(tp)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = typing.get_type_hints(tp, include_extras=True)
        return hints.get(segment, Any), value.get(segment) if isinstance(value, dict) else None, f".{segment}"
    args = typing.get_args(tp)
    if typing.get_origin(tp) is dict and isinstance(value, dict):
        for key, item in value.items():
            try:
                msgspec.convert(item, args[1], strict=True)
            except msgspec.ValidationError:
                return args[1], item, f".{key}"
        return args[1], None, ".?"
    index = int(segment) if segment.isdigit() else 0
    item = value[index] if isinstance(value, list) and index < len(value) else None
    return (args[0] if args else Any), item, f"[{index}]"


def _config_error(cls: type, data: dict, message: str) -> ConfigError:
    m = _AT.match(message)
    if m is None:
        return ConfigError("config", message)
    tp: Any = cls
    value: Any = data
    key = ""
    for name, index in _SEGMENT.findall(m["path"] or ""):
        tp, value, shown = _step(tp, value, name or index)
        key += shown
    key = key.lstrip(".")
    what = m["what"]
    if m["dictkey"]:  # a key of a free map that is not one of its ids
        args = typing.get_args(_base(tp))
        allowed = typing.get_args(_base(args[0])) if args else ()
        bad = next((k for k in value if k not in allowed), "?") if isinstance(value, dict) else "?"
        return ConfigError(f"{key}.{bad}", _say_of(args[0]).get("say", "unknown key") if args else "unknown key")
    field = re.search(r"field `([^`]+)`", what)
    if what.startswith("Object contains unknown field"):
        return ConfigError(f"{key}.{field[1]}" if key and field else (field[1] if field else key), "unknown key")
    if what.startswith("Object missing required field"):
        return ConfigError(f"{key}.{field[1]}" if key and field else (field[1] if field else key), "required")
    return ConfigError(key or "config", _problem(tp, value, what))


def _problem(tp: Any, value: Any, what: str) -> str:
    """What is wrong with `value` for a key of type `tp`, said from the type and its bounds."""
    got = re.match(r"Expected `(\w+)`, got `\w+`$", what)
    if got:
        return f"must be {_WANT.get(got[1], got[1])}, got {_type_name(value)}"
    extra = _say_of(tp)
    if "say" in extra:
        return extra["say"].replace("{value}", _short(str(value)))
    base = _base(tp)
    if typing.get_origin(base) is Literal:
        choices = [str(c) for c in typing.get_args(base)]
        return f"must be {', '.join(choices[:-1])} or {choices[-1]}"
    bounds: dict[str, Any] = {}
    for meta in getattr(tp, "__metadata__", ()):
        for name in ("ge", "gt", "le", "lt"):
            if getattr(meta, name, None) is not None:
                bounds[name] = getattr(meta, name)
    unit = extra.get("unit", "")
    low = f"at least {bounds['ge']}" if "ge" in bounds else f"more than {bounds['gt']}" if "gt" in bounds else ""
    if "ge" in bounds and "le" in bounds:
        say = f"must be {bounds['ge']}..{bounds['le']}{unit}"
    elif low and "le" in bounds:
        say = f"must be {low} and at most {bounds['le']}{unit}"
    elif low:
        say = f"must be {low}{unit}"
    elif "le" in bounds:
        say = f"must be at most {bounds['le']}{unit}"
    else:
        return what[0].lower() + what[1:]
    return f"{say}, got {value!r}"


# -- the default TOML and the Structs in step ------------------------------------------------------
def _type_hint_text(value: Any) -> str:
    if isinstance(value, dict):
        return "a new table Struct (class XSection(_Table, frozen=True))"
    if isinstance(value, list):
        kinds = {type(v).__name__ for v in value}
        if len(kinds) == 1 and not isinstance(value[0], (dict, list)):
            return f"tuple[{kinds.pop()}, ...]"
        return "tuple[..., ...]"
    return type(value).__name__


def section_stub(name: str, table: dict) -> str:
    """The Struct a new TOML table needs, to paste into kiosk/core/config.py (arrays of tables and
    empty lists get a `tuple[..., ...]` to fill in)."""
    cls = "".join(part.capitalize() for part in name.split("_")) + "Section"
    lines = [f"class {cls}(_Table, frozen=True):"]
    for key, value in table.items():
        hint = _type_hint_text(value)
        lines.append(f"    {key}: {'dict[str, Any]' if hint.startswith('a new') else hint}")
    return "\n".join(lines) + f"\n\n# and in Config:  {name}: {cls}"


def _is_table(tp: Any) -> bool:
    tp = _base(tp)
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


@functools.cache
def schema_problems(default_toml: str) -> tuple[str, ...]:
    """Where `default_toml` (default_config.toml's text) and the typed sections disagree; empty
    when they match."""
    problems: list[str] = []

    def walk(cls: Any, table: dict, path: str, every_field: bool = True) -> None:
        hints = typing.get_type_hints(cls, include_extras=True)
        fields = [f for f in cls.__struct_fields__ if not (cls is Config and f in META_FIELDS)]
        for key, value in table.items():
            sub = f"{path}.{key}" if path else key
            if key not in fields:
                hint = _type_hint_text(value)
                if isinstance(value, dict) and cls is Config:
                    hint += ":\n" + section_stub(key, value)
                problems.append(f"default_config.toml has {sub} but kiosk.core.config.{cls.__name__} has no field "
                                f"{key!r}: add `{key}: {hint}` to it")
                continue
            tp = hints[key]
            element = (typing.get_args(_base(tp)) or (None,))[0]
            if _is_table(tp) and isinstance(value, dict):
                walk(_base(tp), value, sub)
            elif _is_table(element) and isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        walk(_base(element), item, f"{sub}[{i}]", every_field=False)
                    else:
                        problems.append(f"default_config.toml {sub}[{i}] is not a table")
            elif _base(tp) is float and type(value) is int:
                problems.append(f"default_config.toml {sub} = {value} is an integer but {cls.__name__}.{key} is a"
                                f" float: write {value}.0 so the file says fractions are allowed")
            else:
                try:
                    msgspec.convert(value, tp, strict=True)
                except msgspec.ValidationError as exc:
                    problem = _problem(tp, value, str(exc).split(" - at ")[0])
                    problems.append(f"default_config.toml {sub} does not fit its typed field "
                                    f"{cls.__name__}.{key}: {problem}")
        if every_field:  # an array-of-tables element may leave out fields that have defaults
            for name in fields:
                if name not in table:
                    problems.append(f"kiosk.core.config.{cls.__name__}.{name} has no key in default_config.toml "
                                    f"({(path + '.') if path else ''}{name}): add it there, documented")

    walk(Config, tomllib.loads(default_toml), "")
    return tuple(problems)


# -- merge and the checks that cross keys -----------------------------------------------------------
def _merge(default: dict, user: dict, prefix: str = "") -> dict:
    """`user` laid over `default`: tables merge key by key (but a free map is replaced whole),
    anything else replaces; types and unknown keys are the Structs' to judge."""
    out = dict(default)
    for key, value in user.items():
        path = f"{prefix}{key}"
        want = default.get(key)
        if isinstance(want, dict) and isinstance(value, dict) and path not in FREE_MAPS:
            out[key] = _merge(want, value, path + ".")
        else:
            out[key] = value
    return out


def _check(cfg: Config) -> None:
    """What one key's type cannot say: rules across keys, and values judged by another module."""
    seen_sig: set[str] = set()
    seen_badge: set[str] = set()
    for i, op in enumerate(cfg.operators):
        where = f"operators[{i}]"
        bad = unprintable(op.signature)
        if bad is not None:
            raise ConfigError(f"{where}.signature", f"{_short(op.signature)} has the character U+{ord(bad):04X},"
                              " which is not allowed in a signature (central refuses events signed so)")
        if op.signature in seen_sig:
            raise ConfigError(f"{where}.signature", f"{op.signature!r} appears twice")
        seen_sig.add(op.signature)
        if op.badge:
            if op.badge in seen_badge:
                raise ConfigError(f"{where}.badge", "the same badge is given to two operators")
            seen_badge.add(op.badge)

    b = cfg.barcode
    if b.min_length > b.max_length:
        raise ConfigError("barcode.min_length", "need 1 <= min_length <= max_length <= 512")
    for pile, pattern in b.patterns.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"barcode.patterns.{pile}", f"bad regular expression: {exc}") from None

    pins: dict[int, str] = {}
    for slot, pin in cfg.slots.items():
        if pin in pins:
            raise ConfigError(f"slots.{slot}", f"pin {pin} is already used by slots.{pins[pin]}")
        pins[pin] = f"{slot}"
    for key in ("status_led", "buzzer"):
        pin = getattr(cfg.gpio, key)
        if pin == 0:
            continue
        if pin not in VALID_GPIO:
            raise ConfigError(f"gpio.{key}", "must be a BCM GPIO pin 2..27, or 0 for none")
        if pin in pins:
            raise ConfigError(f"gpio.{key}", f"pin {pin} is already used by {pins[pin]}")
        pins[pin] = f"gpio.{key}"

    c = cfg.camera
    if c.backend == "files" and not c.folder:
        raise ConfigError("camera.folder", "required for the files backend")

    p = cfg.printer
    if p.backend == "network" and not p.host:
        raise ConfigError("printer.host", "required for the network backend")
    try:
        codecs.lookup(p.codepage.lower().replace("_", "-"))
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise ConfigError("printer.codepage", "unknown code page (use e.g. CP858, CP850 or CP437)") from None

    m = cfg.mqtt
    if m.tls and m.ca_file == "":
        raise ConfigError("mqtt.ca_file", "required when mqtt.tls is true")
    if m.backoff_min > m.backoff_max:
        raise ConfigError("mqtt.backoff_min", "need 0 < backoff_min <= backoff_max")

    w = cfg.web
    o = w.oidc
    if o.enabled:
        for key in ("name", "issuer", "client_id", "roles_claim"):
            if not getattr(o, key).strip():
                raise ConfigError(f"web.oidc.{key}", "required when web.oidc.enabled is true")
        if not o.issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ConfigError("web.oidc.issuer", "must be an https:// URL")
        if bool(o.client_secret_file) == bool(o.client_secret_env):
            raise ConfigError("web.oidc.client_secret_file", "give one of client_secret_file and client_secret_env")
        if not o.tl_values and not o.viewer_values:
            raise ConfigError("web.oidc.tl_values", "give the claim's values for tl or viewer")
    for proxy in w.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except (TypeError, ValueError):
            raise ConfigError("web.trusted_proxies", f"not an IP address or network: {proxy!r}") from None

    # notify targets' kinds, [billing], [followup] and [clock_alerts] beyond their types are
    # central's: checked by kiosk.central.delivery.config.load at central's entry points, so a
    # kiosk imports nothing of central


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


@functools.cache
def _default() -> dict:
    """default_config.toml as tables, read once per process (`parse` copies it)."""
    return tomllib.loads(default_text())


def parse(text: str, source: str = "<string>") -> Config:
    default = copy.deepcopy(_default())  # Config.data is the caller's to keep: never the cache
    try:
        user = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"not valid TOML: {exc}") from None
    data = _merge(default, user)
    cfg = Config.from_data(data, source)
    _check(cfg)
    return cfg


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
