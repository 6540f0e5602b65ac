"""Central's payload checks: bytes in, a checked document or `Invalid` (with the reason) out.

A thin layer over `kiosk.core.schema`, the one event schema the controller also checks before it
commits (DESIGN.md §5): an event must be exactly the journal's event, from the kiosk its topic
names, of a type the routine knows, with data that fits that type's Struct.
"""

from __future__ import annotations

import datetime as dt

from ..core.schema import ENVELOPE_KEYS as EVENT_KEYS  # noqa: F401  (re-exported)
from ..core.schema import ID_RE, MAX_PAYLOAD, MAX_SEQ, UUID4_RE, Invalid  # noqa: F401
from ..core.schema import check_alert as _check_alert
from ..core.schema import check_event as _check_event
from ..core.schema import check_status as _check_status
from ..core.schema import parse_json as _parse_json

UUID_RE = UUID4_RE

__all__ = ["Invalid", "MAX_PAYLOAD", "ID_RE", "parse_json", "check_event", "check_status", "check_alert"]


def parse_json(payload: bytes) -> object:
    """A message's bytes as JSON values (size, UTF-8, no NaN/Infinity, no lone surrogates)."""
    return _parse_json(payload)


def check_event(doc: object, site: str, kiosk: str, now: dt.datetime | None = None) -> dict:
    """An event as the journal writes it, from the kiosk its topic names, its `day` the local
    date of its `ts`, and (with `now`, central's clock) a `ts` at most a day ahead. Raises Invalid."""
    return _check_event(doc, site, kiosk, now)


def check_status(doc: object, site: str, kiosk: str) -> dict:
    return _check_status(doc, site, kiosk)


def check_alert(doc: object, site: str, kiosk: str) -> dict:
    return _check_alert(doc, site, kiosk)
