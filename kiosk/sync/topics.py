"""Topic names and the MQTT client setup both sides share (paho-mqtt 2.x)."""

from __future__ import annotations

import logging
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

PREFIX = "returpost/v1"
KINDS = ("events", "status", "alerts")

log = logging.getLogger(__name__)


def topic(site: str, kiosk: str, kind: str) -> str:
    return f"{PREFIX}/{site}/{kiosk}/{kind}"


def parse_topic(name: str) -> tuple[str, str, str] | None:
    """`returpost/v1/<site>/<kiosk>/<kind>` -> (site, kiosk, kind), or None for anything else."""
    parts = name.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != PREFIX or parts[4] not in KINDS:
        return None
    if not parts[2] or not parts[3]:
        return None
    return parts[2], parts[3], parts[4]


def make_client(mqtt_cfg, client_id: str, protocol: str, *, username: str | None = None,
                password: str | None = None, base: Path | None = None,
                manual_ack: bool = False, persistent: bool = False) -> mqtt.Client:
    """A paho client (callback API v2) with credentials and TLS from the `[mqtt]` section.

    `protocol` is "v5" or "v311". Passwords go to paho only, never to a log. `persistent` asks for
    a v3.1.1 persistent session (for v5, pass clean_start=False and a session expiry to connect).
    """
    proto = mqtt.MQTTv5 if protocol == "v5" else mqtt.MQTTv311
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=proto,
        clean_session=None if proto == mqtt.MQTTv5 else not persistent, manual_ack=manual_ack,
    )
    user = mqtt_cfg.username if username is None else username
    secret = mqtt_cfg.password if password is None else password
    if user:
        client.username_pw_set(user, secret or None)
    if mqtt_cfg.tls:
        def path(p: str) -> str | None:
            if not p:
                return None
            q = Path(p)
            return str(q if q.is_absolute() or base is None else base / q)

        client.tls_set(ca_certs=path(mqtt_cfg.ca_file), certfile=path(mqtt_cfg.cert_file),
                       keyfile=path(mqtt_cfg.key_file))
    client.connect_timeout = float(mqtt_cfg.connect_timeout)
    return client


def describe(mqtt_cfg, username: str | None = None) -> str:
    """Where we connect, for logs and error messages (never the password)."""
    user = mqtt_cfg.username if username is None else username
    scheme = "mqtts" if mqtt_cfg.tls else "mqtt"
    who = f"{user}@" if user else ""
    return f"{scheme}://{who}{mqtt_cfg.host}:{mqtt_cfg.port}"
