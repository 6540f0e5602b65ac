"""The broker: log in with the kiosk's (or central's) credentials, over TLS when configured.

The sync engineer replaces the MQTT code here with kiosk/wire/mqtt.py; the logic is unchanged from doctor.py."""

from __future__ import annotations

import os
import ssl
import time
from pathlib import Path

from .base import Check, System, _why, fel, info, ok


def check_broker(cfg, system: System, central: bool = False) -> Check:
    """Connect and log in with the kiosk's credentials (or, central=True, with central's:
    central.username/password, falling back to the mqtt ones as `kiosk central` does)."""
    name = "Mäklaren (MQTT)" if central else "Central (MQTT)"
    m = cfg.mqtt
    user = (cfg.central.username or m.username) if central else None
    secret = (cfg.central.password or m.password) if central else None
    if not m.enabled:
        return info(name, "mqtt.enabled = false: ingen synk till central")
    import paho.mqtt.client as mqtt

    from ...wire import mqtt as session

    where = session.describe(m, username=user)
    if m.tls and m.ca_file and not cfg.data_path(m.ca_file).exists():
        return fel(name, f"CA-certifikatet {m.ca_file} saknas",
                   "Kopiera ca.crt från centralens paket och kör installationen igen.")
    client_id = f"returpost-doctor-{cfg.kiosk.site}-{cfg.kiosk.id}-{os.getpid()}"[:64]
    result: dict = {}
    try:
        client = session.make_client(m, client_id, m.protocol, username=user, password=secret,
                                     base=Path(cfg.source).parent if cfg.source != "<default>" else None)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return fel(name, f"TLS-inställningen går inte att använda: {exc}",
                   "Kontrollera mqtt.ca_file (och cert_file/key_file) i inställningsfilen.")
    client.connect_timeout = system.broker_timeout

    def on_connect(_c, _u, _flags, reason_code, _props):
        result["rc"] = reason_code

    client.on_connect = on_connect
    try:
        client.connect(m.host, m.port, keepalive=10)
    except ssl.SSLCertVerificationError as exc:
        return fel(name, f"{where}: certifikatet godtas inte ({exc.verify_message})",
                   "Kiosken litar inte på centralens certifikat: kopiera rätt ca.crt från "
                   "centralen, och kontrollera att mqtt.host är namnet i certifikatet.")
    except ssl.SSLError as exc:
        return fel(name, f"{where}: TLS misslyckades ({exc.reason or exc})",
                   "Är porten rätt? 8883 är TLS, 1883 är okrypterat. Stämmer mqtt.tls?")
    except ConnectionResetError:
        return fel(name, f"{where}: anslutningen bröts direkt (TLS-handskakningen misslyckades?)",
                   "Är porten rätt? 8883 är TLS, 1883 är okrypterat. Stämmer mqtt.tls?")
    except OSError as exc:
        return fel(name, f"{where}: går inte att nå ({_why(exc)})",
                   "Kontrollera nätverket (kabel/wifi) och att centralen är igång. "
                   "Kiosken fungerar ändå och skickar allt när förbindelsen är tillbaka.")
    deadline = time.monotonic() + system.broker_timeout
    try:
        while "rc" not in result and time.monotonic() < deadline:
            if client.loop(0.1) != mqtt.MQTT_ERR_SUCCESS:
                break
    finally:
        try:
            client.disconnect()
        except Exception:
            pass
    rc = result.get("rc")
    if rc is None:
        return fel(name, f"{where}: inget svar från centralen",
                   "Porten svarar men inte som en MQTT-server: är porten rätt (8883 med TLS)?")
    if rc.is_failure:
        if rc.value in (4, 5, 134, 135):
            if central:
                return fel(name, f"{where}: inloggningen nekades ({rc})",
                           "Centralens lösenord i config.toml stämmer inte med mäklarens: kör "
                           "install.sh central igen (den skriver båda från users.txt).")
            return fel(name, f"{where}: inloggningen nekades ({rc})",
                       "Fel användarnamn eller lösenord: ta kioskens paket från centralen igen "
                       "(install.sh central --kiosk SITE/ID) och kör installationen med --bundle.")
        return fel(name, f"{where}: centralen nekade anslutningen ({rc})",
                   "Kontakta den som sköter centralen och ange felet ovan.")
    return ok(name, f"{where}: inloggad")
