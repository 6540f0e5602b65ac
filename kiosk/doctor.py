"""`kiosk doctor`: checks an installed kiosk end to end and says what to do, in Swedish.

Each check prints OK, FEL (something is wrong: the line after it says what to do) or INFO (not
checked here, and why). The exit code is 0 when nothing is FEL, 1 when something is, 2 when the
config cannot be read (nothing else can be checked then).

Run it as the kiosk user on an installed kiosk (the installer prints the command):
    sudo -u kiosk /opt/returpost-kiosk/venv/bin/kiosk --config /etc/returpost-kiosk/config.toml doctor
It never creates files in the data directory as another user (a journal file owned by root
would stop the kiosk), and connects to the broker with its own client id so the running kiosk
keeps its connection.

The language is Swedish throughout: the person reading it may be at the shelf with a phone
call to support, and the words must match what the kiosk shows.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import json
import os
import shutil
import socket
import sqlite3
import ssl
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from . import config as kconfig

INSTALLED_CONFIG = "/etc/returpost-kiosk/config.toml"
MIN_FREE_MB = 200
UNSENT_STALE = dt.timedelta(hours=1)
VOLATILE_FS = {"tmpfs", "ramfs"}


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


def simulated(cfg, system: System) -> bool:
    """Whether the kiosk runs its simulated devices: hardware = simulator, or auto on a machine
    that is not a Raspberry Pi (the same rule the kiosk applies)."""
    hw = cfg.kiosk.hardware
    if hw != "auto":
        return hw == "simulator"
    try:
        return "raspberry pi" not in system.model.read_text(errors="replace").lower()
    except OSError:
        return True


# -- input devices ----------------------------------------------------------------------------------

def input_devices(system: System) -> list[dict]:
    """Every evdev node, from sysfs (no need to open it): path, name, vendor:product."""
    out = []
    base = system.sys_root / "class" / "input"
    for ev in sorted(base.glob("event*")):
        dev = ev / "device"

        def read(rel: str) -> str:
            try:
                return (dev / rel).read_text().strip()
            except OSError:
                return ""

        out.append({"path": str(system.dev_root / "input" / ev.name), "name": read("name"),
                    "id": f"{read('id/vendor')}:{read('id/product')}".lower()})
    return out


def _match_input(spec: str, devices: list[dict], system: System) -> dict | None:
    import fnmatch
    import re

    if spec.startswith("/"):
        target = os.path.realpath(spec)
        if os.path.exists(spec):
            return {"path": target, "name": next((d["name"] for d in devices if d["path"] == target), ""),
                    "id": next((d["id"] for d in devices if d["path"] == target), "")}
        return None
    if re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", spec):
        found = [d for d in devices if d["id"] == spec.lower()]
    else:
        pat = spec.lower()
        glob = any(c in pat for c in "*?[")
        found = [d for d in devices if (fnmatch.fnmatchcase(d["name"].lower(), pat) if glob
                                        else pat in d["name"].lower())]
    return found[0] if found else None


def check_input(role: str, section, cfg, system: System) -> Check:
    name = {"scanner": "Streckkodsläsare", "badge_reader": "Brickläsare"}[role]
    spec = section.device.strip()
    if simulated(cfg, system):
        return info(name, "simulatorläge: tangentbordet används i stället")
    if not spec:
        if role == "badge_reader":
            return info(name, "ingen brickläsare inställd (inloggning med signatur på skärmen)")
        return fel(name, "ingen läsare inställd (scanner.device är tom)",
                   "Kör installationen igen med --scanner VID:PID (se `lsusb`), "
                   "eller skriv scanner.device i inställningsfilen.")
    devices = input_devices(system)
    found = _match_input(spec, devices, system)
    if found is None:
        seen = ", ".join(f"{d['name']} ({d['id']})" for d in devices) or "inga"
        return fel(name, f"hittades inte: {spec} (anslutna inmatningsenheter: {seen})",
                   "Kontrollera att läsaren sitter i en USB-port och lyser. Dra ur och sätt i den "
                   "igen. Står den ändå inte med: är det rätt VID:PID i inställningen? (`lsusb`)")
    path = found["path"]
    if not os.access(path, os.R_OK | os.W_OK):
        return fel(name, f"{path} finns men kiosken får inte läsa den",
                   "Lägg kioskanvändaren i gruppen input (installationen gör det) och starta om "
                   "datorn, eller kör doctor som kioskanvändaren: sudo -u kiosk ...")
    label = f"{found['name']} ({found['id']})" if found.get("name") else path
    return ok(name, f"{label} på {path}")


# -- display ------------------------------------------------------------------------------------

def check_display(cfg, system: System) -> Check:
    name = "Skärm"
    if simulated(cfg, system):
        return info(name, "simulatorläge: fönster på skrivbordet")
    cards = sorted((system.dev_root / "dri").glob("card*"))
    if not cards:
        return fel(name, "ingen grafikenhet (/dev/dri/card*)",
                   "Kontrollera att dtoverlay=vc4-kms-v3d finns i /boot/firmware/config.txt "
                   "och att skärmens kabel sitter i; starta om.")
    usable = [c for c in cards if os.access(c, os.R_OK | os.W_OK)]
    if not usable:
        return fel(name, f"{cards[0]} finns men kiosken får inte använda den",
                   "Lägg kioskanvändaren i grupperna video och render (installationen gör det).")
    return ok(name, ", ".join(str(c) for c in usable))


# -- printer ------------------------------------------------------------------------------------

def _usb_devices(system: System) -> list[dict]:
    out = []
    for d in sorted((system.sys_root / "bus" / "usb" / "devices").glob("*")):
        try:
            vid = (d / "idVendor").read_text().strip().lower()
            pid = (d / "idProduct").read_text().strip().lower()
        except OSError:
            continue

        def num(n: str) -> int | None:
            try:
                return int((d / n).read_text().strip())
            except (OSError, ValueError):
                return None

        out.append({"id": f"{vid}:{pid}", "bus": num("busnum"), "dev": num("devnum")})
    return out


def check_printer(cfg, system: System) -> Check:
    name = "Skrivare"
    p = cfg.printer
    backend = p.backend
    if backend == "dummy":
        return info(name, "printer.backend = dummy: utskrifter kastas (bara för test)")
    if backend == "file":
        path = cfg.data_path(p.path)
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        target = path if path.exists() else parent
        if os.access(target, os.W_OK):
            return ok(name, f"fil: {path} (ingen riktig skrivare; förhandsbilder i stället)")
        return fel(name, f"fil: {path} går inte att skriva",
                   "Ge kioskanvändaren skrivrätt till mappen, eller ställ in rätt skrivare "
                   "(printer.backend = usb, serial eller network).")
    if backend == "usb":
        want = f"{p.usb_vendor:04x}:{p.usb_product:04x}"
        found = [d for d in _usb_devices(system) if d["id"] == want]
        if not found:
            return fel(name, f"USB-skrivaren {want} hittades inte",
                       "Kontrollera att skrivaren är påslagen och att USB-kabeln sitter i. "
                       "Står den inte med i `lsusb`: prova en annan kabel eller port.")
        d = found[0]
        node = system.dev_root / "bus" / "usb" / f"{d['bus'] or 0:03d}" / f"{d['dev'] or 0:03d}"
        if d["bus"] and node.exists() and not os.access(node, os.R_OK | os.W_OK):
            return fel(name, f"USB-skrivaren {want} finns men kiosken får inte använda den ({node})",
                       "Installera udev-regeln (installationen med --printer usb:VID:PID) och "
                       "lägg kioskanvändaren i gruppen lp; dra ur och sätt i skrivaren.")
        return ok(name, f"USB-skrivare {want}" + (f" ({node})" if d["bus"] else ""))
    if backend == "serial":
        port = Path(p.serial_port)
        if not port.exists():
            return fel(name, f"serieporten {port} finns inte",
                       "Kontrollera kabeln och USB-seriell-adaptern; rätt port i printer.serial_port?")
        if not stat.S_ISCHR(port.stat().st_mode):
            return fel(name, f"{port} är ingen serieport", "Ställ in rätt printer.serial_port.")
        if not os.access(port, os.R_OK | os.W_OK):
            return fel(name, f"{port} finns men kiosken får inte använda den",
                       "Lägg kioskanvändaren i gruppen dialout (installationen gör det).")
        return ok(name, f"serieport {port} ({p.baudrate} baud)")
    if backend == "network":
        try:
            with socket.create_connection((p.host, p.port), timeout=system.net_timeout):
                pass
        except OSError as exc:
            return fel(name, f"nätverksskrivaren {p.host}:{p.port} svarar inte ({_why(exc)})",
                       "Kontrollera att skrivaren är påslagen och har nätverk, och att adressen "
                       "i printer.host stämmer (skriv ut skrivarens inställningssida).")
        return ok(name, f"nätverksskrivare {p.host}:{p.port} svarar")
    return fel(name, f"okänd printer.backend {backend}", "Rätta inställningsfilen.")


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "porten är stängd"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "inget svar inom tidsgränsen"
    if isinstance(exc, socket.gaierror):
        return "namnet går inte att slå upp"
    return getattr(exc, "strerror", None) or str(exc)


# -- broker ---------------------------------------------------------------------------------------

def check_broker(cfg, system: System, central: bool = False) -> Check:
    """Connect and log in with the kiosk's credentials (or, central=True, with central's:
    central.username/password, falling back to the mqtt ones as `kiosk central` does)."""
    name = "Mäklaren (MQTT)" if central else "Central (MQTT)"
    m = cfg.mqtt
    user = (cfg.central.username or m.username) if central else None
    secret = (cfg.central.password or m.password) if central else None
    if not m.enabled:
        return info(name, "mqtt.enabled = false: ingen synk till central")
    from .sync import topics
    import paho.mqtt.client as mqtt

    where = topics.describe(m, username=user)
    if m.tls and m.ca_file and not cfg.data_path(m.ca_file).exists():
        return fel(name, f"CA-certifikatet {m.ca_file} saknas",
                   "Kopiera ca.crt från centralens paket och kör installationen igen.")
    client_id = f"returpost-doctor-{cfg.kiosk.site}-{cfg.kiosk.id}-{os.getpid()}"[:64]
    result: dict = {}
    try:
        client = topics.make_client(m, client_id, m.protocol, username=user, password=secret,
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


# -- clock ----------------------------------------------------------------------------------------

def _adjtimex() -> tuple[int, int] | None:
    """(state, status) from the kernel's NTP state; state 5 (TIME_ERROR) = not synchronised."""

    class Timex(ctypes.Structure):
        _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                    ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                    ("status", ctypes.c_int), ("rest", ctypes.c_byte * 256)]

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        t = Timex()
        state = libc.adjtimex(ctypes.byref(t))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state, t.status


def check_clock(cfg, system: System) -> Check:
    name = "Klocka"
    fix = ("Kiosken behöver nätverk till en tidsserver (NTP). Kontrollera nätverket; "
           "`timedatectl timesync-status` visar vilken server som används.")
    try:
        out = system.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                         capture_output=True, text=True, timeout=5)
        value = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        value = ""
    if value == "yes":
        return ok(name, "synkroniserad med tidsserver (NTP)")
    if value == "no":
        return fel(name, "inte synkroniserad: tiderna i journalen kan bli fel", fix)
    kernel = (system.adjtimex or _adjtimex)()
    if kernel is None:
        return fel(name, "går inte att avgöra (varken timedatectl eller kärnans NTP-status svarar)", fix)
    state, status = kernel
    if state == 5 or status & 0x40:  # TIME_ERROR / STA_UNSYNC
        return fel(name, "inte synkroniserad enligt kärnan (timedatectl svarar inte här)", fix)
    return ok(name, "synkroniserad enligt kärnan (timedatectl svarar inte här)")


# -- the service and the hardware watchdog ---------------------------------------------------------

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


def check_hw_watchdog(cfg, system: System) -> Check:
    name = "Vakthund (hårdvara)"
    if simulated(cfg, system):
        return info(name, "simulatorläge: ingen hårdvaruvakthund")
    if any((system.dev_root / n).exists() for n in ("watchdog0", "watchdog")):
        return ok(name, "finns; systemd matar den (RuntimeWatchdogSec)")
    return fel(name, "ingen /dev/watchdog0",
               "Lägg dtparam=watchdog=on i /boot/firmware/config.txt (installationen gör det) "
               "och starta om.")


# -- storage and journal --------------------------------------------------------------------------

def _mount_of(path: Path, mountinfo_text: str) -> dict | None:
    best = None
    target = os.path.realpath(path)
    for line in mountinfo_text.splitlines():
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) < 5 or len(rparts) < 2:
            continue
        point = parts[4].replace("\\040", " ")
        if target == point or target.startswith(point.rstrip("/") + "/") or point == "/":
            if best is None or len(point) >= len(best["point"]):
                best = {"point": point, "fstype": rparts[0], "source": rparts[1],
                        "options": rparts[2] if len(rparts) > 2 else ""}
    return best


def check_persistent(data_dir: Path, system: System) -> Check:
    name = "Journalens lagring"
    try:
        text = system.mountinfo.read_text()
    except OSError:
        return info(name, "kan inte läsa monteringstabellen")
    mount = _mount_of(data_dir, text)
    if mount is None:
        return info(name, f"{data_dir}: filsystemet går inte att avgöra")
    fix = ("Journalen måste ligga på beständig lagring: kör installationen med --data-device "
           "(en egen partition monteras på /var/lib/returpost-kiosk), eller stäng av "
           "överlagringen (raspi-config) innan kiosken används.")
    where = f"{data_dir} ligger på {mount['point']} ({mount['fstype']})"
    if mount["fstype"] in VOLATILE_FS:
        return fel(name, f"{where}: försvinner vid omstart", fix)
    if mount["fstype"] == "overlay":
        opts = mount["options"]
        upper = next((o.split("=", 1)[1] for o in opts.split(",") if o.startswith("upperdir=")), "")
        upper_mount = _mount_of(Path(upper), text) if upper else None
        if "lowerdir=/media/root-ro" in opts or (upper_mount and upper_mount["fstype"] in VOLATILE_FS):
            return fel(name, f"{where}, skrivskyddad rot med ändringar i RAM: försvinner vid omstart", fix)
    return ok(name, where)


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


def check_journal(cfg, system: System) -> tuple[Check, Check]:
    """(journal writable, unsent events)."""
    name, pname = "Journal", "Osända händelser"
    path = cfg.journal_path
    data_dir = path.parent
    if not path.exists():
        if not data_dir.exists():
            return (fel(name, f"mappen {data_dir} finns inte",
                        "Kör installationen (den skapar mappen), eller starta kiosken en gång "
                        "(systemd skapar den)."),
                    info(pname, "ingen journal än"))
        owner = data_dir.stat().st_uid
        if owner != system.euid():
            return (fel(name, f"{data_dir} tillhör en annan användare än den som kör doctor",
                        "Kör doctor som kioskanvändaren: sudo -u kiosk ... doctor"),
                    info(pname, "ingen journal än"))
        try:
            probe = data_dir / f".doctor-{os.getpid()}"
            with open(probe, "wb") as fh:
                fh.write(b"x")
                fh.flush()
                os.fsync(fh.fileno())
            probe.unlink()
        except OSError as exc:
            return (fel(name, f"{data_dir} går inte att skriva ({exc.strerror})",
                        "Ge kioskanvändaren skrivrätt till mappen."), info(pname, "ingen journal än"))
        return ok(name, f"ingen journal än; {data_dir} går att skriva"), ok(pname, "inga")
    if path.stat().st_uid != system.euid():
        why = "Kör doctor som kioskanvändaren: sudo -u kiosk ... doctor (som en annan användare " \
              "kan doctor skapa filer som kiosken sedan inte får skriva)."
        return (fel(name, f"{path} tillhör en annan användare än den som kör doctor", why),
                info(pname, "inte kontrollerat (se Journal)"))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5, isolation_level=None)
    except sqlite3.Error as exc:
        return (fel(name, f"{path} går inte att öppna ({exc})",
                    "Kontrollera rättigheterna på filen; kontakta support innan något tas bort."),
                info(pname, "inte kontrollerat"))
    try:
        quick = conn.execute("pragma quick_check").fetchone()[0]
        if quick != "ok":
            return (fel(name, f"{path} är skadad ({quick})",
                        "Stoppa kiosken och kontakta support; ta inte bort filen."),
                    info(pname, "inte kontrollerat"))
        meta = dict(conn.execute("select key, value from meta").fetchall())
        if meta.get("kiosk") != cfg.kiosk.id or meta.get("site") != cfg.kiosk.site:
            return (fel(name, f"journalen tillhör {meta.get('site')}/{meta.get('kiosk')}, inställningen "
                              f"säger {cfg.kiosk.site}/{cfg.kiosk.id}",
                        "Rätta kiosk.site och kiosk.id i inställningsfilen, eller flytta den gamla "
                        "journalen åt sidan (kontakta support först)."),
                    info(pname, "inte kontrollerat"))
        conn.execute("begin immediate")   # the write lock the kiosk needs for every event
        conn.execute("rollback")
        newest = conn.execute("select max(seq) from events").fetchone()[0] or 0
        last_seq = max(newest, int(meta.get("last_seq") or 0))  # meta holds it only across purges
        journal_check = ok(name, f"{path} går att skriva ({last_seq} händelser hittills)")
        # unconfirmed = not yet covered by central's end-to-end ack (kiosk/sync/publisher.py)
        count, oldest, sent = conn.execute(
            "select count(*), min(ts), count(sent_at) from events where seq > ?",
            [int(meta.get("confirmed_seq") or 0)]).fetchone()
    except sqlite3.OperationalError as exc:
        return (fel(name, f"{path} går inte att skriva ({exc})",
                    "Är disken full eller skrivskyddad? Kör doctor som kioskanvändaren."),
                info(pname, "inte kontrollerat"))
    finally:
        conn.close()
    if not count:
        return journal_check, ok(pname, "inga: centralen har bekräftat allt")
    age = system.now() - dt.datetime.fromisoformat(oldest.replace("Z", "+00:00"))
    if age > UNSENT_STALE and sent:
        return journal_check, fel(pname, f"{count} händelser är inte bekräftade av centralen, den äldsta "
                                         f"sedan {oldest} ({sent} av dem har mäklaren tagit emot)",
                                  "Mäklaren tar emot men centralen bekräftar inte: kör `kiosk doctor "
                                  "--central` på centralen (körs returpost-central?). Med mqtt.protocol "
                                  "= \"v311\" kan mäklarens ACL tyst neka kioskens händelser: kontrollera "
                                  "att kioskens användarnamn är <site>/<kiosk> och använd v5. Inget går "
                                  "förlorat; kiosken skickar igen tills centralen bekräftar.")
    if age > UNSENT_STALE:
        return journal_check, fel(pname, f"{count} händelser väntar, den äldsta sedan {oldest}",
                                  "Kiosken har inte nått centralen på länge: se raden Central (MQTT). "
                                  "Inget går förlorat; allt skickas när förbindelsen fungerar.")
    return journal_check, ok(pname, f"{count} väntar på centralens bekräftelse (den äldsta {oldest})")


# -- the central host ------------------------------------------------------------------------------

def check_central_db(cfg, system: System) -> Check:
    name = "Centrala databasen"
    path = cfg.data_path(cfg.central.db)
    folder = path.parent
    if not folder.exists():
        return fel(name, f"mappen {folder} finns inte",
                   "Kör install.sh central, eller starta returpost-central en gång (systemd skapar den).")
    target = path if path.exists() else folder
    if target.stat().st_uid != system.euid():
        return fel(name, f"{target} tillhör en annan användare än den som kör doctor",
                   "Kör doctor som tjänstens användare: sudo -u returpost ... doctor --central")
    if not path.exists():
        if not os.access(folder, os.W_OK):
            return fel(name, f"{folder} går inte att skriva", "Ge tjänstens användare skrivrätt.")
        return ok(name, f"ingen databas än; {folder} går att skriva")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5, isolation_level=None)
        try:
            quick = conn.execute("pragma quick_check").fetchone()[0]
            if quick != "ok":
                return fel(name, f"{path} är skadad ({quick})", "Stoppa returpost-central och kontakta support.")
            conn.execute("begin immediate")
            conn.execute("rollback")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return fel(name, f"{path} går inte att skriva ({exc})",
                   "Är disken full? Kör doctor som tjänstens användare.")
    return ok(name, f"{path} går att skriva")


CERT_WARN_DAYS = 30


def check_broker_cert(system: System) -> Check:
    name = "Mäklarens certifikat"
    cert = system.broker_cert
    if not cert.exists():
        return info(name, f"{cert} finns inte här (inte mäklarens dator?)")
    try:
        out = system.run(["openssl", "x509", "-noout", "-enddate", "-in", str(cert)],
                         capture_output=True, text=True, timeout=10)
        end = dt.datetime.strptime(out.stdout.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return fel(name, f"{cert} går inte att läsa", "Kontrollera filen (openssl x509 -in ... -text).")
    left = end.replace(tzinfo=dt.timezone.utc) - system.now()
    fix = ("Förnya serverns certifikat (flytta bort /etc/returpost-kiosk/central/ca/server.* och "
           "kör install.sh central igen; kioskerna behåller samma ca.crt), eller lägg in "
           "organisationens nya med --tls-dir.")
    if left.total_seconds() <= 0:
        return fel(name, f"gick ut {end:%Y-%m-%d}: inga kiosker kan ansluta", fix)
    if left < dt.timedelta(days=CERT_WARN_DAYS):
        return fel(name, f"går ut {end:%Y-%m-%d} (om {left.days} dagar)", fix)
    return ok(name, f"giltigt till {end:%Y-%m-%d}")


def run_central_checks(cfg, system: System | None = None, min_free_mb: int = MIN_FREE_MB) -> list[Check]:
    system = system or System()
    checks = [ok("Inställningar", f"{cfg.source} är giltig")]
    for step in (lambda: check_service("returpost-central.service", system),
                 lambda: check_broker(cfg, system, central=True),
                 lambda: check_broker_cert(system),
                 lambda: check_central_db(cfg, system),
                 lambda: check_disk(cfg.data_path(cfg.central.db).parent, min_free_mb)):
        try:
            checks.append(step())
        except Exception as exc:
            checks.append(fel("Kontroll", f"kontrollen misslyckades: {type(exc).__name__}: {exc}",
                              "Kontakta support med den här raden."))
    return checks


# -- all of it --------------------------------------------------------------------------------------

def run_checks(cfg, system: System | None = None, min_free_mb: int = MIN_FREE_MB) -> list[Check]:
    system = system or System()
    data_dir = cfg.data_path(cfg.kiosk.data_dir)
    checks = [ok("Inställningar", f"{cfg.source} är giltig ({cfg.kiosk.site}/{cfg.kiosk.id})")]
    steps = [
        lambda: check_input("scanner", cfg.scanner, cfg, system),
        lambda: check_input("badge_reader", cfg.badge_reader, cfg, system),
        lambda: check_display(cfg, system),
        lambda: check_printer(cfg, system),
        lambda: check_broker(cfg, system),
        lambda: check_service("returpost-kiosk.service", system),
        lambda: check_hw_watchdog(cfg, system),
        lambda: check_clock(cfg, system),
        lambda: check_disk(data_dir, min_free_mb),
        lambda: check_persistent(data_dir, system),
    ]
    for step in steps:
        try:
            checks.append(step())
        except Exception as exc:  # a check that breaks is reported, never a crash
            checks.append(fel("Kontroll", f"kontrollen misslyckades: {type(exc).__name__}: {exc}",
                              "Kontakta support med den här raden."))
    try:
        checks.extend(check_journal(cfg, system))
    except Exception as exc:
        checks.append(fel("Journal", f"kontrollen misslyckades: {type(exc).__name__}: {exc}",
                          "Kontakta support med den här raden."))
    return checks


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


def main(args, system: System | None = None) -> int:
    path = config_path(getattr(args, "config", None))
    try:
        cfg = kconfig.load(path)
    except kconfig.ConfigError as exc:
        check = fel("Inställningar", str(exc),
                    "Rätta raden som nämns i inställningsfilen, eller kör installationen igen.")
        if getattr(args, "json", False):
            print(json.dumps([asdict(check)], ensure_ascii=False, indent=1))
        else:
            print(format_checks([check]))
        return 2
    central = getattr(args, "central", False)
    runner = run_central_checks if central else run_checks
    checks = runner(cfg, system, min_free_mb=getattr(args, "min_free_mb", MIN_FREE_MB))
    if getattr(args, "json", False):
        print(json.dumps([asdict(c) for c in checks], ensure_ascii=False, indent=1))
    elif central:
        print(f"Kontroll av centralen ({cfg.source})\n")
        print(format_checks(checks))
    else:
        print(f"Kioskkontroll för {cfg.kiosk.site}/{cfg.kiosk.id} ({cfg.source})\n")
        print(format_checks(checks))
    sys.stdout.flush()
    return 1 if any(c.status == "FEL" for c in checks) else 0
