"""Topic names both sides share (DESIGN.md §5). The MQTT session itself is kiosk/wire/mqtt.py."""

from __future__ import annotations

import logging

PREFIX = "returpost/v1"
KINDS = ("events", "status", "alerts")  # what kiosks write
CENTRAL_KINDS = ("ack", "inbox")  # what only central writes (retained)

log = logging.getLogger(__name__)


def topic(site: str, kiosk: str, kind: str) -> str:
    return f"{PREFIX}/{site}/{kiosk}/{kind}"


def parse_topic(name: str) -> tuple[str, str, str] | None:
    """`returpost/v1/<site>/<kiosk>/<kind>` -> (site, kiosk, kind), or None for anything else."""
    parts = name.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != PREFIX or parts[4] not in KINDS + CENTRAL_KINDS:
        return None
    if not parts[2] or not parts[3]:
        return None
    return parts[2], parts[3], parts[4]
