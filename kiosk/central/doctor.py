"""`kiosk doctor --central`: checks the central host end to end and says what to do, in Swedish:
the service, the broker login with central's credentials, the broker's server certificate,
central's database (SQLite file or PostgreSQL) and free disk. The shared parts (Check, System,
the broker, unit and disk checks, the command's frame) are in kiosk/wire/doctor.py; the
certificate check is central's own (the broker runs beside central).

Run it as the service's user: sudo -u returpost ... kiosk doctor --central
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess

from ..wire import doctor as frame
from ..wire.doctor import (MIN_FREE_MB, Check, System, check_broker, check_disk, check_service, fel, info, ok,
                           run_steps)

CERT_WARN_DAYS = 30


def check_broker_cert(system: System) -> Check:
    """The broker's server certificate (on the machine that runs the broker): FEL when it has
    expired or expires within CERT_WARN_DAYS; INFO when there is none here."""
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


def check_central_db(cfg, system: System) -> Check:
    name = "Centrala databasen"
    target = cfg.db_target()
    if isinstance(target, str):
        return _check_postgresql(name, target)
    path = target
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


def _check_postgresql(name: str, url: str) -> Check:
    from .db import display_name, open_conn

    shown = display_name(url)
    try:
        conn = open_conn(url, timeout=5)
    except Exception as exc:  # psycopg's OperationalError: refused, auth, no such database
        return fel(name, f"{shown} svarar inte ({type(exc).__name__}: {str(exc).strip()[:200]})",
                   "Kontrollera att PostgreSQL kör, adressen i central.db och användarens rättigheter.")
    try:
        with conn.transaction():
            conn.execute("create temporary table doctor_probe (x integer)")
            conn.execute("drop table doctor_probe")
        done = "schema_migrations" in conn.table_names()
    except Exception as exc:
        return fel(name, f"{shown} går inte att skriva ({type(exc).__name__}: {str(exc).strip()[:200]})",
                   "Ge central.db:s användare rätt att skriva i databasen.")
    finally:
        conn.close()
    return ok(name, f"{shown} går att nå" + ("" if done else "; tomt än (returpost-central skapar tabellerna)"))


def _db_folder(cfg):
    """The folder of central's SQLite file; for a PostgreSQL URL the data folder (var/)."""
    target = cfg.db_target()
    return cfg.data_path(cfg.kiosk.data_dir) if isinstance(target, str) else target.parent


def run_central_checks(cfg, system: System | None = None, min_free_mb: int = MIN_FREE_MB) -> list[Check]:
    system = system or System()
    return [ok("Inställningar", f"{cfg.source} är giltig")] + run_steps([
        lambda: check_service("returpost-central.service", system),
        lambda: check_broker(cfg, system, central=True),
        lambda: check_broker_cert(system),
        lambda: check_central_db(cfg, system),
        lambda: check_disk(_db_folder(cfg), min_free_mb),
    ])


def main(args, system: System | None = None) -> int:
    """`kiosk doctor --central`: central's own keys are checked too (delivery), as `kiosk central`
    checks them at start."""
    from .delivery.config import load

    return frame.main(args, load, run_central_checks, lambda cfg: f"Kontroll av centralen ({cfg.source})", system)
