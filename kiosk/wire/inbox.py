"""The kiosk's inbox: what central knows about this kiosk's alerts today (DESIGN.md §5).

Central (kiosk/central/inbox.py) publishes one retained JSON document per kiosk on
`returpost/v1/<site>/<kiosk>/inbox`; only central may write it (broker ACL):

    {"v": 1, "day": "YYYY-MM-DD",
     "alerts": [{"id": <alert id = the alert_raised event id>, "kind": "bestridan"|...,
                 "notified": null | {"state": "pending"|"delivered"|"failed", "at": <UTC ISO Z>},
                 "acknowledged": null | {"by": <TL>, "at": <UTC ISO Z>},
                 "answer": null | {"text": <the TL's answer>, "by": <TL>, "at": <UTC ISO Z>},
                 "withdrawn": {"state": ..., "at": ...}}]}   (optional)

`withdrawn` is there only for an alert the kiosk undid after a TL was told (or may have been):
where central's notices that it is withdrawn are (the same states as `notified`).

No customer data: alert ids, kinds, TL names and the TL's own words. `parse` is the kiosk's
strict check (size, types, lengths, printable text); a document that fails it is ignored. What
the screen says about an alert is kiosk/core/truth.py's (from this document, the connection and the
time); `answers` gives the TLs' answers to temporary mailings, in local time.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal, Optional
from zoneinfo import ZoneInfo

import msgspec

from ..core.clock import TZ
from ..core.limits import ID_MAX, text_problem

MAX_BYTES = 64 * 1024  # a whole inbox document
MAX_ALERTS = 200  # alerts in one document (one kiosk's day, plus the site's temporary answers)
ANSWER_MAX = 500  # = kiosk.central.web.state.ANSWER_MAX (a test holds them equal)
NAME_MAX = 64  # a TL's user name
KIND_MAX = 64
STATES = ("pending", "delivered", "failed")

_Iso = Annotated[str, msgspec.Meta(min_length=20, max_length=40, pattern=r"^\d{4}-\d\d-\d\dT[0-9:.]+Z$")]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX)]


class Notified(msgspec.Struct, forbid_unknown_fields=True):
    state: Literal["pending", "delivered", "failed"]
    at: _Iso


class Acknowledged(msgspec.Struct, forbid_unknown_fields=True):
    by: _Name
    at: _Iso


class Answer(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=ANSWER_MAX)]
    by: _Name
    at: _Iso


class InboxAlert(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX)]
    kind: Annotated[str, msgspec.Meta(min_length=1, max_length=KIND_MAX, pattern=r"^[a-z_]+$")]
    notified: Optional[Notified]
    acknowledged: Optional[Acknowledged]
    answer: Optional[Answer]
    withdrawn: Optional[Notified] = None


class Inbox(msgspec.Struct, forbid_unknown_fields=True):
    v: Literal[1]
    day: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d\d-\d\d$")]
    alerts: Annotated[list[InboxAlert], msgspec.Meta(max_length=MAX_ALERTS)]


class BadInbox(ValueError):
    """An inbox document the kiosk will not show (English, for the log)."""


def _check_text(value: str, what: str, max_len: int) -> None:
    problem = text_problem(value, max_len)
    if problem or value != value.strip():
        raise BadInbox(f"{what}: {problem or 'leading or trailing space'}")


def _check_time(value: str, what: str) -> None:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInbox(f"{what}: not a real UTC time") from None


def parse(payload: bytes) -> dict:
    """The inbox document as plain dicts, or BadInbox (why, in English). Strict: at most
    MAX_BYTES, exactly the fields above, printable texts within their lengths, real dates."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise BadInbox("payload is not bytes")
    if len(payload) > MAX_BYTES:
        raise BadInbox(f"too large ({len(payload)} bytes, limit {MAX_BYTES})")
    try:
        doc = msgspec.json.decode(bytes(payload), type=Inbox)
    except msgspec.ValidationError as exc:
        raise BadInbox(f"invalid: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadInbox(f"not JSON: {exc}") from None
    try:
        dt.date.fromisoformat(doc.day)
    except ValueError:
        raise BadInbox("day: not a real date") from None
    ids = set()
    for i, a in enumerate(doc.alerts):
        if a.id in ids:
            raise BadInbox(f"alerts[{i}].id: duplicate")
        ids.add(a.id)
        _check_text(a.id, f"alerts[{i}].id", ID_MAX)
        for part in (a.notified, a.acknowledged, a.answer, a.withdrawn):
            if part is not None:
                _check_time(part.at, f"alerts[{i}].at")
        for part in (a.acknowledged, a.answer):
            if part is not None:
                _check_text(part.by, f"alerts[{i}].by", NAME_MAX)
        if a.answer is not None:
            _check_text(a.answer.text, f"alerts[{i}].answer", ANSWER_MAX)
    return msgspec.to_builtins(doc)


def dumps(doc: dict) -> bytes:
    """The bytes central publishes (compact, UTF-8)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


# -- what the screen reads -----------------------------------------------------------------------
def _hhmm(at: str, tz: ZoneInfo) -> str:
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(tz).strftime("%H:%M")


def find(doc: dict | None, alert_id: str | None) -> dict | None:
    if not doc or not alert_id:
        return None
    return next((a for a in doc.get("alerts", []) if a.get("id") == alert_id), None)


def answers(doc: dict | None, tz: ZoneInfo = TZ) -> list[str]:
    """The TLs' answers to temporary mailings today (until a TL clears them), oldest first."""
    out = []
    for a in (doc or {}).get("alerts", []):
        ans = a.get("answer")
        if a.get("kind") == "tillfalliga" and ans:
            out.append(f"TL:s besked: {ans['text']} ({ans['by']} {_hhmm(ans['at'], tz)})")
    return out
