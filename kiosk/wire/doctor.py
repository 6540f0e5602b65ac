"""What `kiosk doctor` and `kiosk doctor --central` share: a Check (OK / FEL / INFO with what to
do), the System it looks at, the checks both machines run (the broker login, the systemd unit,
free disk), and the command's frame (load the config, run the
checks, print them in Swedish or as JSON, the exit code). The kiosk's checks live in
`kiosk/shelf/doctor/`, central's in `kiosk/central/doctor.py`.

Exit codes: 0 when nothing is FEL, 1 when something is, 2 when the config cannot be read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..core.config import ConfigError

INSTALLED_CONFIG = "/etc/returpost-kiosk/config.toml"
MIN_FREE_MB = 200


@dataclass
class Check:
    name: str
    status: str            # "OK" | "FEL" | "INFO"
    detail: str
    fix: str = ""


@dataclass
class System:
    """Where the doctor looks: the real machine by default, a prepared tree in tests."""

    sys_root: Path = Path("/sys")
    dev_root: Path = Path("/dev")
    mountinfo: Path = Path("/proc/self/mountinfo")
    model: Path = Path("/proc/device-tree/model")
    broker_cert: Path = Path("/etc/mosquitto/returpost/certs/server.crt")
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
    euid: Callable[[], int] = os.geteuid
    broker_timeout: float = 5.0
    net_timeout: float = 2.0
    adjtimex: Callable[[], tuple[int, int] | None] | None = None


def ok(name, detail) -> Check:
    return Check(name, "OK", detail)


def fel(name, detail, fix) -> Check:
    return Check(name, "FEL", detail, fix)


def info(name, detail) -> Check:
    return Check(name, "INFO", detail)


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "porten är stängd"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "inget svar inom tidsgränsen"
    if isinstance(exc, socket.gaierror):
        return "namnet går inte att slå upp"
    return getattr(exc, "strerror", None) or str(exc)


def run_steps(steps: Iterable[Callable[[], Any]], name: str = "Kontroll") -> list[Check]:
    """Each step's Check (or Checks); a step that breaks is reported as FEL `name`, never a crash."""
    out: list[Check] = []
    for step in steps:
        try:
            got = step()
        except Exception as exc:
            got = fel(name, f"kontrollen misslyckades: {type(exc).__name__}: {exc}",
                      "Kontakta support med den här raden.")
        out.extend(got if isinstance(got, (tuple, list)) else [got])
    return out


# -- the command's frame ----------------------------------------------------------------------------

def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4} {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"{'':<4} {'':<{width}}  Gör så här: {c.fix}")
    bad = sum(c.status == "FEL" for c in checks)
    lines.append("")
    lines.append("Allt ser bra ut." if not bad else f"{bad} fel hittades: åtgärda raderna med FEL ovan.")
    return "\n".join(lines)


def config_path(arg: str | None) -> str | None:
    if arg or os.environ.get("KIOSK_CONFIG"):
        return arg or os.environ["KIOSK_CONFIG"]
    return INSTALLED_CONFIG if Path(INSTALLED_CONFIG).exists() else None


def main(args, load: Callable[[str | None], Any], run: Callable[..., list[Check]],
         title: Callable[[Any], str], system: System | None = None) -> int:
    """Load the config with `load`, run `run(cfg, system, min_free_mb=...)`, print the checks
    under `title(cfg)` (or as JSON with --json); the exit code."""
    as_json = getattr(args, "json", False)
    try:
        cfg = load(config_path(getattr(args, "config", None)))
    except ConfigError as exc:
        checks = [fel("Inställningar", str(exc),
                      "Rätta raden som nämns i inställningsfilen, eller kör installationen igen.")]
        code = 2
    else:
        checks = run(cfg, system, min_free_mb=getattr(args, "min_free_mb", MIN_FREE_MB))
        code = 1 if any(c.status == "FEL" for c in checks) else 0
        if not as_json:
            print(f"{title(cfg)}\n")
    if as_json:
        print(json.dumps([asdict(c) for c in checks], ensure_ascii=False, indent=1))
    else:
        print(format_checks(checks))
    sys.stdout.flush()
    return code


# -- checks both machines run ------------------------------------------------------------------------

def check_service(unit: str, system: System) -> Check:
    name = "Tjänsten"
    try:
        out = system.run(["systemctl", "is-active", unit], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return info(name, "systemctl finns inte här: tjänsten kontrolleras inte")
    state = out.stdout.strip()
    if state == "active":
        return ok(name, f"{unit} är igång")
    if state in ("", "unknown") and out.returncode not in (0, 3, 4):
        first = (out.stderr.strip().splitlines() or [""])[0][:100]
        return info(name, f"systemd svarar inte här ({first})")
    return fel(name, f"{unit} är {state or 'okänd'}",
               f"Se vad som hände: journalctl -u {unit} -n 50. Starta: sudo systemctl restart {unit}. "
               "Är det precis installerat: starta om datorn.")


def check_disk(data_dir: Path, min_free_mb: int) -> Check:
    name = "Diskutrymme"
    probe = data_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_mb = usage.free // (1024 * 1024)
    if free_mb < min_free_mb:
        return fel(name, f"bara {free_mb} MB ledigt för {data_dir} (minst {min_free_mb} MB behövs)",
                   "Frigör utrymme (gamla förhandsbilder i previews/ kan tas bort), eller byt till "
                   "ett större minneskort.")
    return ok(name, f"{free_mb} MB ledigt för {data_dir}")


def check_broker(cfg, system: System, central: bool = False) -> Check:
    """Connect and log in with the kiosk's credentials (or, central=True, with central's:
    central.username/password, falling back to the mqtt ones as `kiosk central` does), over TLS
    when configured."""
    name = "Mäklaren (MQTT)" if central else "Central (MQTT)"
    m = cfg.mqtt
    user = (cfg.central.username or m.username) if central else None
    secret = (cfg.central.password or m.password) if central else None
    if not m.enabled:
        return info(name, "mqtt.enabled = false: ingen synk till central")
    import paho.mqtt.client as mqtt

    from . import mqtt as session

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
