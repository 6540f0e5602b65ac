"""The event schema (DESIGN.md §5): the one definition of what an event, a status and an alert
may look like, used by the controller before it commits and by central before it stores, so an
event the kiosk commits is one central accepts, by construction. Pure; no I/O.

    check_event(doc, site, kiosk) -> doc          # raises Invalid(reason, field)

The envelope is exact (no other keys). Each event type has a data Struct in `EVENT_DATA`: field
types, enumerations from `kiosk.core.domain`, string lengths and characters from `kiosk.core.limits`.
Adding an event type is one entry there (tests/test_schema.py fails while `routine.EVENT_TYPES`
has a type the schema lacks). A data field the schema does not name is allowed only as a "safe
value" (short printable strings, bounded numbers and lists), so the rules can add a field before
the schema names it and still nothing unsafe reaches the journal or central.

Built on msgspec: typed Structs with length, range and regex constraints checked in C, and a
JSON decoder that refuses lone surrogate escapes, NaN and Infinity; it keeps central's per-event
check cheaper than the hand-written checks it replaces (see `kiosk_dev/schema_bench.py`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from typing import Annotated, Any, Literal, Optional, Union

import msgspec

from . import limits
# a barcode as the journal keeps it and how a scanned string becomes one live in limits, which the
# routine imports without this module: routine and schema do not import each other both ways
from .limits import CODE_MAX, PERSONNUMMER_HIDDEN, journal_code, looks_like_personnummer  # noqa: F401
from .clock import TZ
from .domain import (
    CHECKLIST_ITEMS,
    DATE_CHECK_KINDS,
    DESTINATIONS,
    INCOMING_KINDS,
    LETA_KUND_TYPES,
    PILES,
    REMARK_CODES,
    SCAN_ORDER,
    SEGMENTS,
)

MAX_PAYLOAD = 64 * 1024  # bytes of one message (an event as JSON); central's limit
MAX_SEQ = 2**53  # seq < 2**53: exact in every JSON reader
COUNT_MAX = 10**6  # letters in a pile, apartments, ...
TEXT_MAX = 500  # a text the kiosk composes (alert text, CAB subject) around free text
EXTRA_STR_MAX = 500  # a data field the schema does not name: its strings ...
EXTRA_ITEMS_MAX = 50  # ... the items of its lists/objects ...
EXTRA_DEPTH_MAX = 3  # ... and their nesting

# -- regular expressions (\Z, never $: "$" matches before a trailing newline) ----------------------
ID_PATTERN = rf"^[A-Za-z0-9_-]{{1,{limits.ID_MAX}}}\Z"
ID_RE = re.compile(ID_PATTERN)  # site and kiosk ids (also the MQTT topic levels)
UUID4_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z"
UUID4_RE = re.compile(UUID4_PATTERN)
TS_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z\Z"
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"
TOKEN_PATTERN = r"^[a-z][a-z0-9_]{0,63}\Z"  # machine words: reasons, kinds
TOKEN_RE = re.compile(TOKEN_PATTERN)


class Invalid(ValueError):
    """Refused by the schema. `str(exc)` is the English reason; `field` the offending key path
    ("operator", "data.about", ...) when there is one."""

    def __init__(self, reason: str, field: str | None = None):
        super().__init__(reason)
        self.field = field


# -- field types ------------------------------------------------------------------------------------
Ident = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
UUID4 = Annotated[str, msgspec.Meta(pattern=UUID4_PATTERN)]
Seq = Annotated[int, msgspec.Meta(ge=1, lt=MAX_SEQ)]
Count = Annotated[int, msgspec.Meta(ge=0, le=COUNT_MAX)]
Token = Annotated[str, msgspec.Meta(pattern=TOKEN_PATTERN)]
Day = Annotated[str, msgspec.Meta(pattern=DAY_PATTERN)]
Ts = Annotated[str, msgspec.Meta(pattern=TS_PATTERN)]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=CODE_MAX, pattern=r"^[ -~]+\Z")]  # printable ASCII
# Printable text; the characters are checked in Data.__post_init__ (limits' rule).
Signature = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.SIGNATURE_MAX)]
FreeText = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.FREE_TEXT_MAX)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=TEXT_MAX)]
RawCode = Annotated[str, msgspec.Meta(max_length=CODE_MAX)]  # what a scanner sent (may be empty)


def _one_of(values) -> Any:
    return Literal[tuple(values)]  # type: ignore[valid-type]


Pile = _one_of(PILES)
ScanPile = _one_of(SCAN_ORDER)
Letter = _one_of(LETA_KUND_TYPES)
DateKind = _one_of((*DATE_CHECK_KINDS, "stromavbrott_atgard"))
DateDecision = _one_of(("kasta", "skicka_om"))
Slot = _one_of(DESTINATIONS)
IncomingKind = _one_of(INCOMING_KINDS)
Segment = _one_of(SEGMENTS)
RemarkCode = _one_of(REMARK_CODES)
UndoWhat = _one_of(("sort", "scan", "next_pile", "leta_kund", "date_check", "remark", "temporary", "incoming"))
ChecklistItem = _one_of(CHECKLIST_ITEMS)


def text_problem(value: str) -> str | None:
    """Why a string may not appear in an event (English), or None. The same characters as
    `limits.unprintable` (str.isprintable is its fast path: both refuse Unicode's Other and
    Separator categories except the space): no control, format (bidi), surrogate, private-use,
    unassigned or separator characters; no NUL, no newline."""
    if value.isprintable():
        return None
    bad = limits.unprintable(value) or next(ch for ch in value if not ch.isprintable())
    return f"character U+{ord(bad):04X} is not allowed"


# The fields that hold text a person wrote or text composed around it (never a code, a token or a
# date): no personnummer in them, however it is written (limits.has_personnummer).
FREE_TEXT_FIELDS = frozenset({"about", "text", "subject", "status", "group", "action", "note", "checklist",
                              "operator"})
PERSONNUMMER_REASON = "looks like a personnummer (10 or 12 digits), not allowed in free text"


def _string_problem(name: str, value: str) -> str | None:
    problem = text_problem(value)
    if problem is None and name in FREE_TEXT_FIELDS and limits.has_personnummer(value):
        return PERSONNUMMER_REASON
    return problem


def _check_strings(obj: msgspec.Struct, prefix: str) -> None:
    for name in obj.__struct_fields__:
        value = getattr(obj, name)
        if isinstance(value, str):
            problem = _string_problem(name, value)
            if problem:
                raise ValueError(f"{prefix}{name}: {problem}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                problem = _string_problem(name, item) if isinstance(item, str) else None
                if problem:
                    raise ValueError(f"{prefix}{name}[{i}]: {problem}")


class Data(msgspec.Struct, kw_only=True):
    """Base of every event's data: every string field is printable text."""

    def __post_init__(self):
        _check_strings(self, "")


# -- the data of each event type ------------------------------------------------------------------
class SignedIn(Data):
    operator: Signature
    clock_synced: Optional[bool] = None

    def __post_init__(self):
        super().__post_init__()
        if self.operator != self.operator.strip():
            raise ValueError("operator: leading or trailing space")


class SignedOut(Data):
    reason: Optional[Token] = None


class Sorted(Data):
    pile: Pile


class Undone(Data):
    what: UndoWhat
    pile: Optional[Pile] = None
    code: Optional[Code] = None
    after_deadline: Optional[bool] = None  # a next_pile undone after the deadline: the verdict stands

    def __post_init__(self):
        super().__post_init__()
        if self.what in ("sort", "scan", "next_pile") and self.pile is None:
            raise ValueError(f"pile is required when undoing a {self.what}")
        if self.what == "scan" and self.code is None:
            raise ValueError("code is required when undoing a scan")


class Empty(Data):
    pass


class ScanAccepted(Data):
    code: Code
    pile: ScanPile
    late: Optional[bool] = None
    seen_before: Optional[Day] = None  # the code was accepted on this earlier day (this kiosk's journal)
    deadline_met: Optional[bool] = None  # a late letter before the deadline on a day without barcoded mail


class ScanRejected(Data):
    code: RawCode
    reason: Token
    pile: Optional[ScanPile] = None


class PileDone(Data):
    pile: ScanPile
    sorted: Count
    scanned: Count


class ScanningDone(Data):
    deadline_met: Optional[bool]  # None: a day without barcoded mail is neither met nor missed


# A label's or cover slip's print job of the day: its kind and number (routine.print_job_id).
PrintJob = Annotated[str, msgspec.Meta(pattern=r"^(dodsbo_label|cover_slip)-[1-9][0-9]{0,5}\Z")]
PrintKind = _one_of(("dodsbo_label", "cover_slip"))


class DodsboLabelPrinted(Data):  # never the number itself: only whether it was a samordningsnummer
    samordningsnummer: Optional[bool] = None
    job: Optional[PrintJob] = None  # None: from a kiosk that did not record print outcomes
    reprint: Optional[bool] = None


class CoverSlipPrinted(Data):
    count: Optional[Count] = None
    job: Optional[PrintJob] = None
    reprint: Optional[bool] = None


class PrintDone(Data):  # the printer took the job
    job: PrintJob
    kind: PrintKind


class PrintFailed(Data):  # the printer did not take it (offline, no paper, error; lost in a restart)
    job: PrintJob
    kind: PrintKind
    reason: _one_of(("offline", "no_paper", "error", "lost"))  # type: ignore[valid-type]


class AlertDelivered(Data):  # central reported the alert delivered to a TL (its inbox document)
    alert: UUID4
    kind: Token
    at: Ts


class LetaKundCounted(Data):
    letter: Letter
    apartments: Count = 0
    count: Optional[Count] = None


class DateChecked(Data):
    kind: DateKind
    decision: DateDecision
    slot: Slot
    date: Optional[Day] = None


class Cab(msgspec.Struct, kw_only=True):
    type: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{1,16}\Z")]
    subject: Text
    status: Text
    group: Text
    action: Text

    def __post_init__(self):
        _check_strings(self, "cab.")


class IncomingRegistered(Data):
    kind: IncomingKind
    cab: Cab
    segment: Optional[Segment] = None
    about: Optional[FreeText] = None


class TemporaryCounted(Data):
    about: FreeText


class AlertRaised(Data):
    kind: Token
    text: Text


class RemarkLogged(Data):
    code: RemarkCode
    note: Optional[Text] = None
    checklist: Annotated[list[Text], msgspec.Meta(max_length=20)] = []
    barcode: Optional[Annotated[str, msgspec.Meta(min_length=1, max_length=CODE_MAX)]] = None


class AlertCancelled(Data):
    kind: Token
    alert: Optional[UUID4] = None  # the alert_raised event's id (None: raised in this session)


class DayReopened(Data):
    after_deadline: Optional[bool] = None  # reopened after the deadline: the day's verdict stands


class ChecklistTicked(Data):
    item: ChecklistItem
    done: bool = True


# type -> the Struct its data must fit. One entry per event type of routine.EVENT_TYPES (more is
# harmless: a type the routine does not know is refused at check time).
EVENT_DATA: dict[str, type[msgspec.Struct]] = {
    "signed_in": SignedIn,
    "signed_out": SignedOut,
    "sorted": Sorted,
    "undone": Undone,
    "scan_phase_started": Empty,
    "scan_accepted": ScanAccepted,
    "scan_rejected": ScanRejected,
    "pile_done": PileDone,
    "scanning_done": ScanningDone,
    "dodsbo_label_printed": DodsboLabelPrinted,
    "cover_slip_printed": CoverSlipPrinted,
    "leta_kund_counted": LetaKundCounted,
    "date_checked": DateChecked,
    "incoming_registered": IncomingRegistered,
    "temporary_counted": TemporaryCounted,
    "alert_raised": AlertRaised,
    "remark_logged": RemarkLogged,
    "day_closed": Empty,
    # announced for this round (contract): alert_cancelled, checklist_ticked, day_reopened
    "alert_cancelled": AlertCancelled,
    "checklist_ticked": ChecklistTicked,
    "day_reopened": DayReopened,
    "print_done": PrintDone,
    "print_failed": PrintFailed,
    "alert_delivered": AlertDelivered,
}
_FIELDS = {kind: frozenset(s.__struct_fields__) for kind, s in EVENT_DATA.items()}


# -- the envelope -----------------------------------------------------------------------------------
class Envelope(msgspec.Struct, forbid_unknown_fields=True):
    v: Literal[1]
    id: UUID4
    journal: UUID4
    kiosk: Ident
    site: Ident
    seq: Seq
    ts: Ts
    day: Day
    operator: Union[Signature, None]
    type: Annotated[str, msgspec.Meta(max_length=64)]
    data: dict[str, Any]

    def __post_init__(self):
        try:
            dt.datetime.fromisoformat(self.ts[:-1] + "+00:00")
        except ValueError:
            raise ValueError("ts: not a real UTC time") from None
        try:
            dt.date.fromisoformat(self.day)
        except ValueError:
            raise ValueError("day: not a real date") from None
        if self.operator is not None:
            problem = _string_problem("operator", self.operator)
            if problem or self.operator != self.operator.strip():
                raise ValueError(f"operator: {problem or 'leading or trailing space'}")


ENVELOPE_KEYS = frozenset(Envelope.__struct_fields__)


class Status(msgspec.Struct):
    site: Ident
    kiosk: Ident
    online: bool
    pending: Annotated[int, msgspec.Meta(ge=0, lt=MAX_SEQ)]
    last_seq: Annotated[int, msgspec.Meta(ge=0, lt=MAX_SEQ)]


class Alert(msgspec.Struct):
    site: Ident
    kiosk: Ident
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    kind: Annotated[str, msgspec.Meta(max_length=64)]
    text: Annotated[str, msgspec.Meta(max_length=2000)]
    seq: Optional[Annotated[int, msgspec.Meta(ge=0, lt=MAX_SEQ)]] = None
    ts: Optional[Annotated[str, msgspec.Meta(max_length=40)]] = None

    def __post_init__(self):
        _check_strings(self, "")


# -- checks ---------------------------------------------------------------------------------------
_AT = re.compile(r" - at `\$\.?([^`]*)`$")


_PATTERN_NAMES = {
    ID_PATTERN: f"of 1 to {limits.ID_MAX} characters A-Z a-z 0-9 _ -",
    UUID4_PATTERN: "that is a canonical lowercase UUID4",
    TS_PATTERN: "that is a UTC time YYYY-MM-DDTHH:MM:SS[.ffffff]Z",
    DAY_PATTERN: "that is a date YYYY-MM-DD",
    TOKEN_PATTERN: "that is a plain lowercase word",
}


def _invalid(exc: msgspec.ValidationError, prefix: str = "") -> Invalid:
    """msgspec's message ("Expected ... - at `$.data.about`", or a __post_init__ message that
    starts with its field: "operator: ...") as Invalid("<field>: <reason>", field)."""
    text = str(exc)
    for pattern, name in _PATTERN_NAMES.items():
        text = text.replace(f"matching regex {pattern!r}", name)
    m = _AT.search(text)
    if m:
        path, reason = m.group(1), text[:m.start()]
    else:
        head, _, rest = text.partition(": ")
        path, reason = (head, rest) if rest and re.fullmatch(r"[a-z_.\[\]0-9]+", head) else ("", text)
    unknown = re.search(r"unknown field `([^`]{0,64})", reason)
    if unknown and not path:
        path = unknown.group(1)
    field = (prefix + path) if path else (prefix.rstrip(".") or None)
    return Invalid(f"{field}: {reason}" if field else reason, field)


def _convert(obj: object, struct, prefix: str = ""):
    """msgspec.convert with its errors as Invalid (msgspec raises UnicodeEncodeError on a lone
    surrogate met by a pattern or enum check)."""
    try:
        return msgspec.convert(obj, struct)
    except msgspec.ValidationError as exc:
        raise _invalid(exc, prefix) from None
    except UnicodeError:
        path = _surrogate_at(obj) or ""
        field = (prefix + path) or None
        raise Invalid(f"{field or 'a value'}: a lone surrogate is not allowed", field) from None


def _surrogate_at(obj: object, path: str = "") -> str | None:
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeError:
            return path
        return None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        if isinstance(key, str) and _surrogate_at(key) is not None:
            return path or None
        found = _surrogate_at(value, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def safe_value_problem(value: object, depth: int = 0) -> str | None:
    """Why a value the schema does not name may not be stored, or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -MAX_SEQ < value < MAX_SEQ else "integer out of range"
    if isinstance(value, float):
        return None if value == value and abs(value) < 1e15 else "number out of range"
    if isinstance(value, str):
        if len(value) > EXTRA_STR_MAX:
            return f"longer than {EXTRA_STR_MAX} characters"
        return text_problem(value)
    if depth >= EXTRA_DEPTH_MAX:
        return "nested too deep"
    if isinstance(value, list):
        if len(value) > EXTRA_ITEMS_MAX:
            return f"more than {EXTRA_ITEMS_MAX} items"
        for item in value:
            problem = safe_value_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        if len(value) > EXTRA_ITEMS_MAX:
            return f"more than {EXTRA_ITEMS_MAX} items"
        for key, item in value.items():
            if not isinstance(key, str) or not TOKEN_RE.match(key):
                return "a key is not a plain word"
            problem = safe_value_problem(item, depth + 1)
            if problem:
                return problem
        return None
    return f"{type(value).__name__} is not a JSON value"


_KNOWN: list[frozenset[str]] = []


def _routine_types() -> frozenset[str]:
    if not _KNOWN:
        from . import routine  # late: the routine imports this module

        _KNOWN.append(routine.EVENT_TYPES)
    return _KNOWN[0]


def check_data(kind: str, data: object, known: frozenset[str] | None = None) -> None:
    """The data of one event of type `kind`. Raises Invalid. `known`: the event types the
    routine folds (default: routine.EVENT_TYPES)."""
    if known is None:
        known = _routine_types()
    struct = EVENT_DATA.get(kind) if isinstance(kind, str) and kind in known else None
    if struct is None:
        raise Invalid(f"unknown event type {str(kind)[:64]!r}", "type")
    if not isinstance(data, dict):
        raise Invalid("data must be a JSON object", "data")
    _convert(data, struct, "data.")
    for key in data.keys() - _FIELDS[kind]:
        if not isinstance(key, str) or not TOKEN_RE.match(key):
            raise Invalid(f"data: key {str(key)[:64]!r} is not a plain word", "data")
        problem = safe_value_problem(data[key])
        if problem:
            raise Invalid(f"data.{key}: {problem}", f"data.{key}")


AHEAD_MAX = dt.timedelta(days=1)  # how far an event's ts may be ahead of central's clock


def local_date(ts: str) -> str:
    """The local date in Europe/Stockholm of a UTC time as events carry it (`...Z`)."""
    return _hour_date(ts[:13])


@functools.lru_cache(maxsize=4096)
def _hour_date(hour: str) -> str:
    # Stockholm's offsets are whole hours, changed on the hour: one UTC hour is one local date
    return dt.datetime.fromisoformat(hour + ":00:00+00:00").astimezone(TZ).date().isoformat()


def _settles_an_earlier_day(kind: str, data: dict) -> bool:
    """The events a kiosk commits for a day after that day ended: at the first command after
    midnight, the old day's unfinished scanning is closed and its deadline alert raised
    (routine.rollover), stamped with the old day."""
    return (kind == "day_closed" and data.get("reason") == "midnight") or \
        (kind == "alert_raised" and data.get("kind") == "deadline_missed")


def _check_day(env: "Envelope") -> None:
    """`day` is the local date of `ts` (Europe/Stockholm), as the journal stamps it; only the
    settling of an unfinished day after midnight belongs to an earlier day."""
    local = local_date(env.ts)
    if env.day != local and not (env.day < local and _settles_an_earlier_day(env.type, env.data)):
        raise Invalid(f"day {env.day} is not the local date of ts {env.ts} in Europe/Stockholm ({local})", "day")


def _check_not_ahead(ts: str, now: dt.datetime) -> None:
    if ts[:19] > _latest(now):
        raise Invalid(f"ts {ts} is more than a day ahead of central's clock ({utc_text(now)})", "ts")


@functools.lru_cache(maxsize=16)
def _latest(now: dt.datetime) -> str:
    """The latest `ts` (to the second) accepted at `now`: a whole batch shares one `now`."""
    return (now.astimezone(dt.timezone.utc) + AHEAD_MAX).strftime("%Y-%m-%dT%H:%M:%S")


def utc_text(now: dt.datetime) -> str:
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_event(doc: object, site: str | None = None, kiosk: str | None = None,
                now: dt.datetime | None = None) -> dict:
    """An event exactly as the journal writes it; with `site`/`kiosk`, from the kiosk its topic
    names; with `now` (central's clock, aware), a `ts` at most a day ahead of it. Returns `doc`.
    Raises Invalid."""
    if not isinstance(doc, dict):
        raise Invalid("an event must be a JSON object")
    missing = ENVELOPE_KEYS - doc.keys()
    if missing:
        raise Invalid(f"missing keys: {', '.join(sorted(missing))}", sorted(missing)[0])
    env = _convert(doc, Envelope)
    if site is not None and env.site != site:
        raise Invalid(f"site {env.site!r} does not match the topic ({site!r})", "site")
    if kiosk is not None and env.kiosk != kiosk:
        raise Invalid(f"kiosk {env.kiosk!r} does not match the topic ({kiosk!r})", "kiosk")
    check_data(env.type, env.data)
    _check_day(env)
    if now is not None:
        _check_not_ahead(env.ts, now)
    return doc


def check_size(doc: dict) -> None:
    """The event as JSON fits one message."""
    size = len(msgspec.json.encode(doc))
    if size > MAX_PAYLOAD:
        raise Invalid(f"event too large ({size} bytes, limit {MAX_PAYLOAD})", "data")


def check_status(doc: object, site: str, kiosk: str) -> dict:
    return _check_message(doc, Status, "status", "a status", site, kiosk)


def check_alert(doc: object, site: str, kiosk: str) -> dict:
    return _check_message(doc, Alert, "alert", "an alert", site, kiosk)


def _check_message(doc: object, struct, what: str, article: str, site: str, kiosk: str) -> dict:
    """A status or alert message: its Struct, its site/kiosk those of its topic, no stray keys."""
    if not isinstance(doc, dict):
        raise Invalid(f"{article} must be a JSON object")
    msg = _convert(doc, struct, f"{what}.")
    _same(msg.site, site, "site")
    _same(msg.kiosk, kiosk, "kiosk")
    _extras(doc, struct, what)
    return doc


def _same(value: str, topic_value: str, key: str) -> None:
    if value != topic_value:
        raise Invalid(f"{key} {value!r} does not match the topic ({topic_value!r})", key)


def _extras(doc: dict, struct, what: str) -> None:
    for key in doc.keys() - set(struct.__struct_fields__):
        if not isinstance(key, str) or not TOKEN_RE.match(key):
            raise Invalid(f"{what}: key {str(key)[:64]!r} is not a plain word")
        problem = safe_value_problem(doc[key])
        if problem:
            raise Invalid(f"{what}.{key}: {problem}", f"{what}.{key}")


def parse_json(payload: bytes) -> object:
    """A message's bytes as JSON values. Refuses: too large, empty, not UTF-8, not JSON, NaN or
    Infinity, lone surrogate escapes, nesting deeper than the decoder allows."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise Invalid("payload is not bytes")
    if len(payload) > MAX_PAYLOAD:
        raise Invalid(f"payload too large ({len(payload)} bytes, limit {MAX_PAYLOAD})")
    if not payload:
        raise Invalid("empty payload")
    try:
        bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("payload is not UTF-8") from None
    try:
        doc = msgspec.json.decode(payload)
    except RecursionError:
        raise Invalid("not valid JSON: nested too deep") from None
    except msgspec.DecodeError as exc:  # also ValidationError("Number out of range")
        raise Invalid(f"not valid JSON: {exc}") from None
    key = duplicate_key(payload, doc)
    if key is not None:
        raise Invalid(f"duplicate key {key[:64]!r} in a JSON object")
    return doc


def _no_duplicates(pairs: list) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


class _Duplicate(Exception):
    pass


def duplicate_key(payload: bytes | bytearray | memoryview, doc: object) -> str | None:
    """A key that occurs twice in one object of `payload` (decoded as `doc`), or None.

    A JSON decoder keeps the last of two equal keys, so an object read back from `doc` is not
    what was sent. The fast path: the payload is exactly what encoding `doc` gives (the kiosk
    writes compact JSON, keys in order, UTF-8 unescaped: its events take this path), and the
    encoding of a decoded object cannot hold a key twice. Otherwise the payload is read again
    with every object's pairs in hand (a scalar has no keys)."""
    if not isinstance(doc, (dict, list)):
        return None
    if msgspec.json.encode(doc) == payload:
        return None
    try:
        json.loads(bytes(payload), object_pairs_hook=_no_duplicates)
    except _Duplicate as dup:
        return str(dup.args[0])
    except (ValueError, RecursionError):  # msgspec read it; anything else is not a duplicate
        return None
    return None


# -- for the kiosk's own checks -------------------------------------------------------------------
def signature_problem(signature: object) -> str | None:
    """Why an operator signature could never be in an event (English), or None. For config
    loading: a signature central would refuse stops the kiosk at start."""
    if not isinstance(signature, str) or not signature:
        return "must be a non-empty string"
    if len(signature) > limits.SIGNATURE_MAX:
        return f"longer than {limits.SIGNATURE_MAX} characters"
    if signature != signature.strip():
        return "has leading or trailing space"
    return _string_problem("operator", signature)


def id_problem(value: object) -> str | None:
    """Why a site or kiosk id could never be in an event (English), or None."""
    if isinstance(value, str) and ID_RE.match(value):
        return None
    return f"must be 1 to {limits.ID_MAX} characters of A-Z a-z 0-9 _ -"


# -- the controller's check before it commits -----------------------------------------------------
_PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"
FIELD_NAMES_SV = {"operator": "signatur", "about": "text", "code": "streckkod", "barcode": "streckkod",
                  "text": "text", "note": "anteckning", "site": "plats-id", "kiosk": "kiosk-id"}


def check_decided(items, *, ts: str, day: str, operator: str | None, site: str, kiosk: str,
                  journal: str | None = None) -> None:
    """The events a decision would commit, stamped as the journal will stamp them (id and seq
    stand in), through the same check as central's. Raises Invalid."""
    for kind, data in items:
        doc = {"v": 1, "id": _PLACEHOLDER_ID, "journal": journal or _PLACEHOLDER_ID, "kiosk": kiosk,
               "site": site, "seq": 1, "ts": ts, "day": day, "operator": operator, "type": kind,
               "data": data}
        check_event(doc)
        check_size(doc)


def refusal_sv(exc: Invalid) -> str:
    """The kiosk's Swedish message when the schema refuses what a command would record."""
    if PERSONNUMMER_REASON in str(exc):
        return f"Kunde inte spara: {limits.PERSONNUMMER_IN_TEXT_SV} Inget registrerades."
    field = (exc.field or "").split(".")[-1].split("[")[0]
    what = FIELD_NAMES_SV.get(field, field) or "händelsen"
    return f"Kunde inte spara: ogiltiga uppgifter ({what}). Inget registrerades."
