"""Central's payload checks: pure functions, bytes in, (value, None) or (None, reason) out.

An event must be exactly the journal's event (DESIGN.md §5), its kiosk/site must be the ones in
its topic, its type must be one the routine knows, and its data must carry the fields (with the
types) that `routine.apply` and the follow-up row read, so a stored event can always be replayed.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from .. import routine

MAX_PAYLOAD = 64 * 1024
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EVENT_KEYS = frozenset({"v", "id", "kiosk", "site", "seq", "ts", "day", "operator", "type", "data"})
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_SEQ = 2**53

S, I, B, D, L = "str", "int", "bool", "dict", "list"
# type -> {field: (kind, required)}; fields the fold and the follow-up row read.
DATA_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "signed_in": {"operator": (S, True)},
    "signed_out": {},
    "sorted": {"pile": (S, True)},
    "undone": {"what": (S, True), "pile": (S, False), "code": (S, False)},
    "scan_phase_started": {},
    "scan_accepted": {"code": (S, True), "pile": (S, True)},
    "scan_rejected": {"code": (S, True), "reason": (S, True), "pile": (S, False)},
    "pile_done": {"pile": (S, True), "sorted": (I, True), "scanned": (I, True)},
    "scanning_done": {"deadline_met": (B, True)},
    "dodsbo_label_printed": {},
    "cover_slip_printed": {},
    "leta_kund_counted": {"letter": (S, True), "apartments": (I, False)},
    "date_checked": {"kind": (S, True), "decision": (S, True), "slot": (S, True), "date": (S, False)},
    "incoming_registered": {"cab": (D, True)},
    "temporary_counted": {"about": (S, True)},
    "alert_raised": {"kind": (S, True), "text": (S, True)},
    "alert_cancelled": {"kind": (S, True), "alert": (S, False)},
    "checklist_ticked": {"item": (S, True), "done": (B, False)},
    "day_reopened": {},
    "remark_logged": {},
    "day_closed": {},
}
assert set(DATA_FIELDS) == set(routine.EVENT_TYPES), "validate.DATA_FIELDS must cover every event type"


class Invalid(ValueError):
    pass


def _no_constants(name: str):
    raise Invalid(f"not valid JSON: {name} is not allowed")


def parse_json(payload: bytes) -> object:
    if not isinstance(payload, (bytes, bytearray)):
        raise Invalid("payload is not bytes")
    if len(payload) > MAX_PAYLOAD:
        raise Invalid(f"payload too large ({len(payload)} bytes, limit {MAX_PAYLOAD})")
    if not payload:
        raise Invalid("empty payload")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("payload is not UTF-8") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except Invalid:
        raise
    except RecursionError:
        raise Invalid("not valid JSON: nested too deep") from None
    except ValueError as exc:
        raise Invalid(f"not valid JSON: {exc}") from None


def _kind_ok(value, kind: str) -> bool:
    if kind == I:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == B:
        return isinstance(value, bool)
    if kind == S:
        return isinstance(value, str)
    if kind == D:
        return isinstance(value, dict)
    return isinstance(value, list)


def _ident(doc: dict, key: str, topic_value: str) -> None:
    value = doc.get(key)
    if not isinstance(value, str) or not ID_RE.match(value):
        raise Invalid(f"bad {key}")
    if value != topic_value:
        raise Invalid(f"{key} {value!r} does not match the topic ({topic_value!r})")


def check_event(doc: object, site: str, kiosk: str) -> dict:
    """An event as the journal writes it, from the kiosk its topic names. Raises Invalid."""
    if not isinstance(doc, dict):
        raise Invalid("an event must be a JSON object")
    missing = EVENT_KEYS - doc.keys()
    if missing:
        raise Invalid(f"missing keys: {', '.join(sorted(missing))}")
    extra = doc.keys() - EVENT_KEYS
    if extra:
        raise Invalid(f"unexpected keys: {', '.join(sorted(map(str, extra)))[:200]}")
    if doc["v"] != 1 or isinstance(doc["v"], bool):
        raise Invalid("unsupported event version (v must be 1)")
    _ident(doc, "site", site)
    _ident(doc, "kiosk", kiosk)
    eid = doc["id"]
    if not isinstance(eid, str) or not UUID_RE.match(eid):
        raise Invalid("id must be a UUID in canonical form")
    seq = doc["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise Invalid("seq must be a positive integer")
    ts = doc["ts"]
    try:
        if not isinstance(ts, str) or not TS_RE.match(ts):
            raise ValueError
        dt.datetime.fromisoformat(ts[:-1] + "+00:00")
    except ValueError:
        raise Invalid("ts must be UTC ISO 8601 ending in Z") from None
    day = doc["day"]
    try:
        if not isinstance(day, str) or not DAY_RE.match(day):
            raise ValueError
        dt.date.fromisoformat(day)
    except ValueError:
        raise Invalid("day must be YYYY-MM-DD") from None
    op = doc["operator"]
    if op is not None and (not isinstance(op, str) or len(op) > 64):
        raise Invalid("operator must be null or a short string")
    kind = doc["type"]
    if not isinstance(kind, str) or kind not in DATA_FIELDS:
        raise Invalid(f"unknown event type {str(kind)[:64]!r}")
    data = doc["data"]
    if not isinstance(data, dict):
        raise Invalid("data must be a JSON object")
    for field, (want, required) in DATA_FIELDS[kind].items():
        if field not in data:
            if required:
                raise Invalid(f"{kind}: data.{field} is missing")
            continue
        if data[field] is None and not required and want == S:  # read with .get(): null is fine
            continue
        if not _kind_ok(data[field], want):
            raise Invalid(f"{kind}: data.{field} must be {want}")
    if kind == "undone" and (data["what"] not in routine.UNDO_KINDS or
                             (data["what"] == "scan" and not isinstance(data.get("code"), str)) or
                             (data["what"] in ("sort", "next_pile") and not isinstance(data.get("pile"), str))):
        raise Invalid("undone: data.what must be one of the undo kinds (a scan with its code, a sort or "
                      "next_pile with its pile)")
    # DATA_FIELDS is the contract with routine.apply; tests/test_sync_fuzz.py proves that every
    # accepted event folds and makes a follow-up row (folding here would halve the ingest rate).
    return doc


def check_status(doc: object, site: str, kiosk: str) -> dict:
    if not isinstance(doc, dict):
        raise Invalid("a status must be a JSON object")
    _ident(doc, "site", site)
    _ident(doc, "kiosk", kiosk)
    if not isinstance(doc.get("online"), bool):
        raise Invalid("status.online must be true or false")
    for key in ("pending", "last_seq"):
        v = doc.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise Invalid(f"status.{key} must be a non-negative integer")
    return doc


def check_alert(doc: object, site: str, kiosk: str) -> dict:
    if not isinstance(doc, dict):
        raise Invalid("an alert must be a JSON object")
    _ident(doc, "site", site)
    _ident(doc, "kiosk", kiosk)
    aid = doc.get("id")
    if not isinstance(aid, str) or not 1 <= len(aid) <= 64:
        raise Invalid("alert.id must be a short string")
    for key in ("kind", "text"):
        v = doc.get(key)
        if not isinstance(v, str) or len(v) > 2000:
            raise Invalid(f"alert.{key} must be a string")
    return doc

